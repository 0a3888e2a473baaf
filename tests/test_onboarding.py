"""Onboarding: paths of live cards, revision-aware reading, material vs minor changes, pushes, questions,
progress and the lead's report; against a real SQLite database, through the pages where users act."""
import re
from datetime import date, timedelta

import pytest

from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, CardRead, Path, PathItem, PathSection, Push, PushReceipt, Team, User

DAY = timedelta(days=1)


@pytest.fixture
def ob(app, world, make_team, make_user, make_card):
    """A cohort team with a lead and three hires; a path of three verified cards in two sections."""
    from kb.onboarding import paths, questions

    cohort = make_team("Q4 2026 seasonal")
    lead = make_user("expert", teams=[world["billing"]], email="lead@example.com", lead_of=[cohort])
    hires = [make_user("agent", teams=[cohort], email=f"hire{n}@example.com", name=f"Hire {n}") for n in range(3)]
    verified = utcnow() - DAY
    c1 = make_card(world["billing_coll"], world["expert"], title="What happens on my first day?",
                   answer="You meet your buddy.", verified_at=verified)
    c2 = make_card(world["billing_coll"], world["expert"], title="Can a customer cancel before shipment?",
                   answer="Yes, until the order ships.", verified_at=verified)
    c3 = make_card(world["billing_coll"], world["expert"], title="How long do refunds take?",
                   answer="Refunds take 5 days.", verified_at=verified)
    with app.app_context():
        actor = db.session.get(User, lead.id)
        path = paths.create_path(name="Day 1–3", team=db.session.get(Team, cohort.id), actor=actor,
                                 sections=["Day 1: tools and tone", "Day 2: orders"])
        day1, day2 = path.sections
        paths.add_card(path, day1, db.session.get(Card, c1.id), actor)
        paths.add_card(path, day2, db.session.get(Card, c2.id), actor, must_acknowledge=True)
        paths.add_card(path, day2, db.session.get(Card, c3.id), actor)
        question = questions.add(db.session.get(Card, c3.id), prompt="How long do refunds take?",
                                 choices=["1 day", "5 days", "a month"], correct=1, explanation="Five days.",
                                 actor=actor)
        paths.assign(path, actor=actor, team=db.session.get(Team, cohort.id), due_days=3)
        db.session.commit()
        ids = dict(path=path.id, day1=day1.id, day2=day2.id, question=question.id)
    return dict(world, cohort=cohort, lead=lead, hires=hires, cards=[c1, c2, c3], **ids)


def _progress(app, ob, user):
    from kb.onboarding import progress

    with app.app_context():
        _, mine = progress.for_user(db.session.get(User, user.id), db.session.get(Path, ob["path"]))
        return mine


def _edit_and_verify(app, card, verifier, answer, kind):
    from kb.cards import operations

    with app.app_context():
        row = db.session.get(Card, card.id)
        person = db.session.get(User, verifier.id)
        operations.edit_card(row, author=person, answer=answer)
        operations.verify_card(row, person, change_kind=kind)
        db.session.commit()
        return row.verified_revision_number


def _read(app, user, card, revision=None, acknowledge=False):
    from kb.onboarding import progress, reading

    with app.app_context():
        row, person = db.session.get(Card, card.id), db.session.get(User, user.id)
        (reading.acknowledge if acknowledge else reading.mark_read)(
            person, row, revision or row.verified_revision_number)
        progress.note_activity(person, row.id)
        db.session.commit()


def _answer(app, user, question_id, choice):
    from kb.models import CheckQuestion
    from kb.onboarding import progress, questions

    with app.app_context():
        q = db.session.get(CheckQuestion, question_id)
        row = questions.answer(db.session.get(User, user.id), q, choice)
        progress.note_activity(db.session.get(User, user.id), q.card_id)
        db.session.commit()
        return row.correct


def test_progress_counts_reads_acknowledgements_and_right_answers(app, ob):
    hire = ob["hires"][0]
    c1, c2, c3 = ob["cards"]
    assert (_progress(app, ob, hire).done, _progress(app, ob, hire).total) == (0, 3)
    _read(app, hire, c1)
    _read(app, hire, c2)  # must be acknowledged: a plain read is not enough
    mine = _progress(app, ob, hire)
    assert mine.done == 1 and [i.state for i in mine.items] == ["done", "acknowledge", "unread"]
    assert mine.next_item.item.card_id == c2.id
    _read(app, hire, c2, acknowledge=True)
    _read(app, hire, c3)
    assert [i.state for i in _progress(app, ob, hire).items] == ["done", "done", "questions"]
    assert _answer(app, hire, ob["question"], 0) is False  # wrong first; retry allowed
    assert not _progress(app, ob, hire).finished
    assert _answer(app, hire, ob["question"], 1) is True
    mine = _progress(app, ob, hire)
    assert mine.finished and mine.percent == 100 and mine.completed_at is not None
    assert _summary(app, ob, hire).score == (0, 1, 1)  # wrong at the first try, however the retry went


def _summary(app, ob, user):
    from kb.onboarding import progress

    with app.app_context():
        cards = progress.load(db.session.get(Path, ob["path"]))
        people = progress.cohort_of(cards.path, db.session.get(Team, ob["cohort"].id))
        return progress.summaries_of(cards, people)[user.id]


def test_a_cohorts_summaries_say_what_each_hires_own_page_says(app, ob):
    """The report counts (summaries) and a hire's page (progress card by card) apply one rule of "done"."""
    reader, late, unread = ob["hires"]
    c1, c2, c3 = ob["cards"]
    _read(app, reader, c1)
    _read(app, reader, c2, acknowledge=True)
    _answer(app, reader, ob["question"], 0)
    _read(app, late, c2)  # read, not acknowledged
    _edit_and_verify(app, c1, ob["expert"], "You meet your buddy at 8:00.", "material")  # back to the reader
    from kb.onboarding import progress

    with app.app_context():
        cards = progress.load(db.session.get(Path, ob["path"]))
        people = progress.cohort_of(cards.path, db.session.get(Team, ob["cohort"].id))
        full, short = progress.progress_of(cards, people), progress.summaries_of(cards, people)
        for hire in (reader, late, unread):
            p, s = full[hire.id], short[hire.id]
            assert (s.done, s.total, s.percent, s.status, s.finished, s.started, s.updated_count) == (
                p.done, p.total, p.percent, p.status, p.finished, p.started, len(p.updated)), hire.email
    assert _summary(app, ob, reader).updated_count == 1 and _summary(app, ob, reader).acknowledgements == (1, 1)
    assert _summary(app, ob, late).acknowledgements == (0, 1) and _summary(app, ob, late).status == "in progress"
    assert _summary(app, ob, unread).status == "not started" and _summary(app, ob, unread).last_activity is None


def test_a_material_change_sends_the_card_back_a_minor_one_does_not(app, ob, auth):
    reader, late, unread = ob["hires"]
    c1 = ob["cards"][0]
    _read(app, reader, c1)
    first = _read_revision(app, reader, c1)
    _edit_and_verify(app, c1, ob["expert"], "You meet your buddy at 9:00.", "minor")
    assert _progress(app, ob, reader).items[0].state == "done"  # a typo-level change disturbs nobody
    _read(app, late, c1)  # reads the minor revision
    revision = _edit_and_verify(app, c1, ob["expert"], "You meet your buddy and your lead at 8:30.", "material")
    for person in (reader, late):
        item = _progress(app, ob, person).items[0]
        assert item.state == "updated" and item.reading.read < revision
    assert _progress(app, ob, unread).items[0].state == "unread"  # never read: simply unread, not "updated"
    # The reader sees the diff since the revision *they* read.
    auth.login(reader.email)
    page = auth.client.get(f"/onboarding/paths/{ob['path']}/cards/{c1.id}").get_data(as_text=True)
    assert "Updated since you read it" in page and f"you read revision {first}" in page
    assert "<ins>" in page and "8:30" in page
    _read(app, reader, c1)
    assert _progress(app, ob, reader).items[0].state == "done"


def _read_revision(app, user, card):
    with app.app_context():
        return db.session.get(CardRead, (user.id, card.id)).revision_number


def test_a_material_change_asks_again_for_an_acknowledgement(app, ob):
    hire = ob["hires"][0]
    c2 = ob["cards"][1]
    _read(app, hire, c2, acknowledge=True)
    assert _progress(app, ob, hire).items[1].state == "done"
    _edit_and_verify(app, c2, ob["expert"], "Yes, until the parcel is handed to the carrier.", "material")
    assert _progress(app, ob, hire).items[1].state == "updated"
    _read(app, hire, c2)  # read again, but not yet confirmed
    assert _progress(app, ob, hire).items[1].state == "acknowledge"
    _read(app, hire, c2, acknowledge=True)
    assert _progress(app, ob, hire).items[1].state == "done"


def test_reclassifying_a_change_as_minor_returns_the_card(app, ob, auth):
    from kb.models import Verification

    hire = ob["hires"][0]
    c1 = ob["cards"][0]
    _read(app, hire, c1)
    revision = _edit_and_verify(app, c1, ob["expert"], "Changed wording.", None)  # no choice: material
    assert _progress(app, ob, hire).items[0].state == "updated"
    with app.app_context():
        verification = db.session.query(Verification).filter_by(card_id=c1.id, revision_number=revision).one()
        assert verification.change_kind == "material"
    auth.login(ob["expert"].email)
    auth.post(f"/onboarding/verifications/{verification.id}/classify", data={"change_kind": "minor"})
    assert _progress(app, ob, hire).items[0].state == "done"


def test_verify_form_asks_material_or_minor_when_people_read_the_old_wording(app, ob, auth):
    from kb.cards import operations

    c1 = ob["cards"][0]
    _read(app, ob["hires"][0], c1)
    with app.app_context():
        operations.edit_card(db.session.get(Card, c1.id), author=db.session.get(User, ob["expert"].id),
                             answer="New wording.")
        db.session.commit()
    auth.login(ob["expert"].email)
    page = auth.client.get(f"/cards/{c1.id}").get_data(as_text=True)
    assert "1 person has read the wording served until now" in page
    refused = auth.post(f"/cards/{c1.id}/verify", data={"note": ""})
    assert refused.status_code == 400 and "material or minor" in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Card, c1.id).verified_revision_number == 1  # nothing verified
    assert auth.post(f"/cards/{c1.id}/verify", data={"change_kind": "minor"}).status_code == 302
    assert _progress(app, ob, ob["hires"][0]).items[0].state == "done"


def test_a_read_records_the_revision_shown_not_a_newer_one(app, ob, auth):
    hire, c1 = ob["hires"][0], ob["cards"][0]
    auth.login(hire.email)
    page = auth.client.get(f"/onboarding/paths/{ob['path']}/cards/{c1.id}").get_data(as_text=True)
    shown = int(re.search(r'name="revision" value="(\d+)"', page).group(1))
    _edit_and_verify(app, c1, ob["expert"], "A material change while the hire reads.", "material")
    auth.post(f"/cards/{c1.id}/read".replace("/cards", "/onboarding/cards"), data={"revision": shown})
    assert _read_revision(app, hire, c1) == shown
    assert _progress(app, ob, hire).items[0].state == "updated"  # they read the old one: it comes back


def test_bad_reads_change_nothing(app, ob, auth):
    hire, c1 = ob["hires"][0], ob["cards"][0]
    auth.login(hire.email)
    for revision in ("", "abc", "99", "0", "-1"):
        response = auth.post(f"/onboarding/cards/{c1.id}/read", data={"revision": revision})
        assert response.status_code == 302
    with app.app_context():
        assert db.session.get(CardRead, (hire.id, c1.id)) is None
    assert auth.post("/onboarding/cards/999999/read", data={"revision": 1}).status_code == 404
    assert auth.post(f"/onboarding/questions/{ob['question']}/answer", data={"choice": "7"}).status_code == 302
    assert auth.post(f"/onboarding/questions/{ob['question']}/answer", data={"choice": "x"},
                     headers={"Accept": "application/json"}).status_code == 400
    # The page to go back to is never another site (a link that bounces the hire to a phishing page).
    for back in ("https://evil.example/login", "//evil.example/", "/\\evil.example"):
        response = auth.post(f"/onboarding/cards/{c1.id}/read", data={"revision": "", "back": back})
        assert response.headers["Location"].endswith("/onboarding/"), back
        response = auth.post(f"/onboarding/cards/{c1.id}/read", data={"revision": c1.verified_revision_number,
                                                                       "next": back})
        assert response.headers["Location"].endswith("/onboarding/"), back


def test_hire_pages_show_progress_next_card_due_date_and_account_end(app, ob, auth):
    from kb.accounts import operations

    hire = ob["hires"][0]
    with app.app_context():
        user = db.session.get(User, hire.id)
        operations.update_user(user, actor=None, email=user.email, name=user.name, role=user.role, active=True,
                               expires_on=date(2027, 1, 15))
        db.session.commit()
    _read(app, hire, ob["cards"][0])
    auth.login(hire.email)
    page = auth.client.get("/onboarding/").get_data(as_text=True)
    assert "1 of 3 cards done (33%)" in page and "due " in page
    assert "Continue: Can a customer cancel before shipment?" in page
    assert "Your account ends after <strong>2027-01-15</strong>" in page
    assert "My onboarding" in auth.client.get("/").get_data(as_text=True)
    reader = auth.client.get(f"/onboarding/paths/{ob['path']}/cards/{ob['cards'][1].id}").get_data(as_text=True)
    assert "I understood" in reader and 'rel="prev"' in reader and 'rel="next"' in reader
    assert "Card 2 of 3" in reader


def test_hire_reads_the_served_wording_not_a_pending_edit(app, ob, auth):
    from kb.cards import operations

    c1 = ob["cards"][0]
    with app.app_context():
        operations.edit_card(db.session.get(Card, c1.id), author=db.session.get(User, ob["expert"].id),
                             answer="UNVERIFIED DRAFT WORDING")
        db.session.commit()
    auth.login(ob["hires"][0].email)
    page = auth.client.get(f"/onboarding/paths/{ob['path']}/cards/{c1.id}").get_data(as_text=True)
    assert "You meet your buddy." in page and "UNVERIFIED DRAFT WORDING" not in page


def test_a_draft_card_does_not_count_and_warns_the_lead(app, ob, make_card, auth):
    from kb.onboarding import paths

    draft = make_card(ob["billing_coll"], ob["expert"], title="Holiday hours (draft)")
    with app.app_context():
        path = db.session.get(Path, ob["path"])
        paths.add_card(path, db.session.get(PathSection, ob["day1"]), db.session.get(Card, draft.id),
                       db.session.get(User, ob["lead"].id))
        db.session.commit()
    assert _progress(app, ob, ob["hires"][0]).total == 3
    auth.login(ob["lead"].email)
    page = auth.client.get(f"/onboarding/paths/{ob['path']}").get_data(as_text=True)
    assert 'data-testid="path-warnings"' in page and "Holiday hours (draft)" in page
    assert "has no verified answer yet" in page


def test_ordering_buttons_and_layout(app, ob, auth):
    auth.login(ob["lead"].email)
    with app.app_context():
        items = db.session.query(PathItem).order_by(PathItem.id).all()
        i1, i2, i3 = [i.id for i in items]
    auth.post(f"/onboarding/paths/{ob['path']}/items/{i3}", data={"action": "up"})
    assert _order(app, ob) == [[i1], [i3, i2]]
    auth.post(f"/onboarding/paths/{ob['path']}/items/{i3}", data={"action": "up"})  # crosses into Day 1
    assert _order(app, ob) == [[i1, i3], [i2]]
    auth.post(f"/onboarding/paths/{ob['path']}/sections/{ob['day2']}", data={"action": "up"})
    assert _order(app, ob) == [[i2], [i1, i3]]
    # The drag-and-drop / keyboard editor posts the whole layout as JSON, with the CSRF header.
    token = auth.csrf_token()
    layout = {"sections": [[ob["day1"], [i3, i1, i2]], [ob["day2"], []]]}
    ok = auth.client.post(f"/onboarding/paths/{ob['path']}/layout", json=layout, headers={"X-CSRFToken": token})
    assert ok.status_code == 200
    assert _order(app, ob) == [[i3, i1, i2], []]
    for bad in ({"sections": [[ob["day1"], [i3, i1]], [ob["day2"], []]]},  # drops a card
                {"sections": [[ob["day1"], [i3, i1, i2, i2]], [ob["day2"], []]]},  # a card twice
                {"sections": "x"}, {"sections": [["a", ["b"]]]}, [1, 2]):
        refused = auth.client.post(f"/onboarding/paths/{ob['path']}/layout", json=bad, headers={"X-CSRFToken": token})
        assert refused.status_code == 400
        assert _order(app, ob) == [[i3, i1, i2], []]
    no_csrf = auth.client.post(f"/onboarding/paths/{ob['path']}/layout", json=layout)
    assert no_csrf.status_code == 400


def _order(app, ob):
    with app.app_context():
        path = db.session.get(Path, ob["path"])
        return [[i.id for i in s.items] for s in path.sections]


def test_only_leads_edit_paths(app, ob, auth):
    auth.login(ob["hires"][0].email)
    assert auth.client.get(f"/onboarding/paths/{ob['path']}").status_code == 403
    assert auth.client.get("/onboarding/paths").status_code == 403
    assert auth.post(f"/onboarding/paths/{ob['path']}/sections", data={"title": "x"}).status_code == 403
    assert auth.client.get(f"/onboarding/paths/{ob['path']}/report").status_code == 403


@pytest.mark.parametrize("url, data", [
    ("/onboarding/paths", {"name": "x"}),  # no team
    ("/onboarding/paths", {"name": "x", "team": "billing"}),
    ("/onboarding/paths/{path}/items", {}),  # no section, no card
    ("/onboarding/paths/{path}/items", {"section": "{day1}", "card": "first"}),
])
def test_a_form_id_missing_or_not_a_number_is_a_404_not_a_500(app, ob, auth, url, data):
    auth.login(ob["lead"].email)
    data = {k: v.format(**ob) for k, v in data.items()}
    with app.app_context():
        before = (db.session.query(Path).count(), db.session.query(PathItem).count())
    assert auth.post(url.format(**ob), data=data).status_code == 404
    with app.app_context():
        assert (db.session.query(Path).count(), db.session.query(PathItem).count()) == before


def test_newcomers_get_the_path_due_from_when_they_joined(app, ob, make_user):
    from kb.accounts import operations

    with app.app_context():
        path = db.session.get(Path, ob["path"])
        assigned_at = path.assignments[0].assigned_at
    newcomer = make_user("agent", email="late@example.com")
    with app.app_context():
        later = utcnow() + 2 * DAY
        user = db.session.get(User, newcomer.id)
        membership = operations.set_membership(db.session.get(Team, ob["cohort"].id), user, actor=None)
        membership.joined_at = later
        db.session.commit()
    mine = _progress(app, ob, newcomer)
    assert mine.total == 3
    assert abs((mine.due_at - (later + 3 * DAY)).total_seconds()) < 1
    assert mine.due_at > assigned_at + 3 * DAY


def test_pushed_item_shows_on_every_page_until_acknowledged(app, ob, auth, make_user):
    from kb.onboarding import pushes

    other = make_user("agent", email="elsewhere@example.com")
    c2 = ob["cards"][1]
    early = ob["hires"][2]
    _read(app, early, c2, acknowledge=True)  # already confirmed this revision through the path
    with app.app_context():
        item = pushes.push(db.session.get(Card, c2.id), [db.session.get(Team, ob["cohort"].id)], due_hours=4,
                           actor=db.session.get(User, ob["lead"].id), message="Cut-off changed")
        db.session.commit()
        push_id = item.id
        assert pushes.tally(item) == (1, 4)  # three hires and the lead; one had confirmed it already
    auth.login(ob["hires"][0].email)
    for url in ("/", "/onboarding/", f"/cards/{ob['cards'][0].id}"):
        assert 'data-testid="push-banner"' in auth.client.get(url).get_data(as_text=True)
    page = auth.client.get(f"/onboarding/pushes/{push_id}").get_data(as_text=True)
    revision = int(re.search(r'name="revision" value="(\d+)"', page).group(1))
    auth.post(f"/onboarding/cards/{c2.id}/acknowledge", data={"revision": revision})
    assert 'data-testid="push-banner"' not in auth.client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login(other.email)
    assert 'data-testid="push-banner"' not in auth.client.get("/").get_data(as_text=True)
    assert auth.client.get(f"/onboarding/pushes/{push_id}").status_code == 404
    auth.logout()
    auth.login(ob["lead"].email)
    page = auth.client.get(f"/onboarding/pushes/{push_id}").get_data(as_text=True)
    assert "2 of 4 acknowledged" in page and "Hire 1" in page and "Hire 0" not in page.split("Not yet")[1]


def test_push_refuses_bad_input_and_changes_nothing(app, ob, make_card):
    from kb.onboarding import pushes
    from kb.validation import Invalid

    draft = make_card(ob["billing_coll"], ob["expert"], title="Unverified")
    with app.app_context():
        team = db.session.get(Team, ob["cohort"].id)
        for card_id, teams, hours in ((draft.id, [team], 4), (ob["cards"][0].id, [], 4),
                                      (ob["cards"][0].id, [team], "soon"), (ob["cards"][0].id, [team], 0)):
            with pytest.raises(Invalid):
                pushes.push(db.session.get(Card, card_id), teams, due_hours=hours, actor=None)
            db.session.rollback()
        assert db.session.query(Push).count() == 0 and db.session.query(PushReceipt).count() == 0


def test_report_numbers_sorting_filters_and_csv(app, ob, auth):
    h0, h1, h2 = ob["hires"]
    c1, c2, c3 = ob["cards"]
    for card in (c1, c3):
        _read(app, h0, card)
    _read(app, h0, c2, acknowledge=True)
    _answer(app, h0, ob["question"], 1)  # finished, right first time
    _read(app, h1, c1)
    _answer(app, h1, ob["question"], 2)  # missed
    _edit_and_verify(app, c1, ob["expert"], "Material change to day one.", "material")
    auth.login(ob["lead"].email)
    page = auth.client.get(f"/onboarding/paths/{ob['path']}/report").get_data(as_text=True)
    assert "<strong>3</strong> hires" in page  # the lead is a member of the cohort team, but runs it
    assert "<strong>2</strong> with updated cards" in page
    assert "How long do refunds take?" in page and "1 of 2 (50%)" in page  # the most-missed question
    assert "<svg" in page
    finished = auth.client.get(f"/onboarding/paths/{ob['path']}/report?status=updated").get_data(as_text=True)
    assert "hire0@example.com" in finished and "hire2@example.com" not in finished
    by_progress = auth.client.get(f"/onboarding/paths/{ob['path']}/report?sort=progress&dir=desc")
    emails = re.findall(r'data-email="([^"]+)"', by_progress.get_data(as_text=True))
    assert emails[0] == "hire0@example.com"
    csv_text = auth.client.get(f"/onboarding/paths/{ob['path']}/report.csv?q=hire1").get_data(as_text=True)
    lines = csv_text.strip().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Hire 1,hire1@example.com,")


def test_report_escapes_formula_names_in_csv(app, ob, auth, make_user):
    from kb.accounts import operations

    with app.app_context():
        user = operations.create_user(email="evil@example.com", name="=HYPERLINK(1)", role="agent",
                                      password="correct-horse-1", teams=[db.session.get(Team, ob["cohort"].id)])
        db.session.commit()
    auth.login(ob["lead"].email)
    text = auth.client.get(f"/onboarding/paths/{ob['path']}/report.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in text
    assert user


def test_rehired_hire_sees_only_what_changed(app, ob):
    from kb.accounts import operations

    hire = ob["hires"][0]
    c1, c2, c3 = ob["cards"]
    _read(app, hire, c1)
    _read(app, hire, c2, acknowledge=True)
    _read(app, hire, c3)
    with app.app_context():  # the season ends; the account is kept, then rehired next year
        user = db.session.get(User, hire.id)
        operations.update_user(user, actor=None, email=user.email, name=user.name, role=user.role, active=False,
                               expires_on=date.today() - timedelta(days=1))
        db.session.commit()
    _edit_and_verify(app, c3, ob["expert"], "Refunds take 3 days.", "material")
    _edit_and_verify(app, c1, ob["expert"], "You meet your buddy!", "minor")
    with app.app_context():
        user = db.session.get(User, hire.id)
        operations.update_user(user, actor=None, email=user.email, name=user.name, role=user.role, active=True,
                               expires_on=date.today() + timedelta(days=60))
        db.session.commit()
    states = [i.state for i in _progress(app, ob, hire).items]
    assert states == ["done", "done", "updated"]


def test_question_editor_validates(app, ob, auth):
    auth.login(ob["lead"].email)
    card = ob["cards"][0]
    auth.post(f"/onboarding/cards/{card.id}/questions", data={"prompt": "", "choice": ["a", ""]})
    auth.post(f"/onboarding/cards/{card.id}/questions", data={"prompt": "Same?", "choice": ["a", "A"]})
    from kb.models import CheckQuestion

    with app.app_context():
        assert db.session.query(CheckQuestion).filter_by(card_id=card.id).count() == 0
    auth.post(f"/onboarding/cards/{card.id}/questions",
              data={"prompt": "Who meets you?", "choice": ["", "your buddy", "", "nobody"], "correct": "1",
                    "explanation": "Your buddy does."})
    with app.app_context():
        question = db.session.query(CheckQuestion).filter_by(card_id=card.id).one()
        assert question.choices == ["your buddy", "nobody"] and question.correct == 0


def test_reminders_before_and_after_the_due_date_once_a_day_and_a_lead_digest(app, ob):
    from kb.models import Notification
    from kb.onboarding import reminders

    h0, h1, _ = ob["hires"]
    for card in ob["cards"]:
        _read(app, h0, card, acknowledge=True)
    _answer(app, h0, ob["question"], 1)  # h0 finished: never reminded
    with app.app_context():
        start = db.session.get(Path, ob["path"]).assignments[0].assigned_at
        assert reminders.send_reminders(start + DAY) == (0, 0)  # due in two days: nothing yet
        first = start + 2 * DAY + timedelta(hours=1)
        sent, digests = reminders.send_reminders(first)
        db.session.commit()
        assert (sent, digests) == (2, 0)  # h1 and h2 are due within 24 h (the lead runs the cohort)
        # Once a day: later the same (UTC) day, before the due time. (Five hours later crossed midnight when
        # run after 19:00; the day's last second was past the due time when run after 23:00.)
        later = min(first.replace(hour=23, minute=59, second=59, microsecond=0), start + 3 * DAY - timedelta(seconds=1))
        assert later.date() == first.date() and later > first
        assert reminders.send_reminders(later) == (0, 0)
        sent, digests = reminders.send_reminders(start + 4 * DAY)
        db.session.commit()
        assert (sent, digests) == (2, 1)
        note = db.session.query(Notification).filter_by(user_id=h1.id, key=f"onboarding-reminder:"
                                                        f"{(start + 4 * DAY).date()}").one()
        assert note.subject == "Onboarding overdue: Day 1–3" and note.url == "/onboarding/"
        digest = db.session.query(Notification).filter_by(user_id=ob["lead"].id, kind="onboarding").filter(
            Notification.key.like("onboarding-digest:%")).one()
        assert "Hire 1: Day 1–3" in digest.body and "Hire 0" not in digest.body
        assert db.session.query(Notification).filter_by(user_id=h0.id).count() == 0


def test_path_and_section_titles_lose_bidirectional_controls(app, ob):
    """A right-to-left override in a title would show a hire (and the lead's report) the words backwards."""
    from kb.onboarding import paths

    with app.app_context():
        lead = db.session.get(User, ob["lead"].id)
        path = paths.create_path(name="\u202eDay 4: returns", team=db.session.get(Team, ob["cohort"].id), actor=lead,
                                 sections=["\u2066Week 2\u2069 \u200fextras"])
        paths.rename_section(path.sections[0], "\u202dNew\u202c title", lead)
        db.session.commit()
        assert path.name == "Day 4: returns"
        assert path.sections[0].title == "New title"

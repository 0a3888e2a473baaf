"""Two people saving the same card at the same moment: exactly one save wins, and the other person gets
the conflict page (with the winner's change), never an Internal Server Error. And the verifying team is a
lead's or an admin's decision, so nobody can move a card to a team of their own to verify their own edit."""
import json
import sqlite3
import threading
import time

import pytest
from sqlalchemy import event, select

from kb.cards import operations
from kb.extensions import db
from kb.models import Card, Revision, User


def _form(world, answer, base_revision="1", **extra):
    return {"title": "How do refunds work?", "answer": answer, "tags": "", "collection": world["billing_coll"].id,
            "owner": world["expert"].id, "verifier_team": world["billing"].id, "interval": "90",
            "base_revision": base_revision, "is_public": "y", **extra}


def _revisions(app, card_id):
    with app.app_context():
        return list(db.session.scalars(select(Revision.answer).filter_by(card_id=card_id).order_by(Revision.number)))


@pytest.fixture
def someone_else_saves_first(app):
    """Between a request's read of the card and its write, another person's edit commits, in its own app
    context (so its own session and connection): the exact interleaving of a lost race, every time."""
    def arm(card_id, answer="Someone else's answer."):
        from kb.extensions import db as _db

        fired = []

        def other_save(session, flush_context, instances):
            if fired:  # once, and not for its own flush
                return
            fired.append(True)
            with app.app_context():
                card = _db.session.get(Card, card_id)
                if answer is None:
                    card.interval_days += 1  # a change of settings only: no new revision
                else:
                    operations.edit_card(card, author=card.owner, summary="the other save", answer=answer)
                _db.session.commit()

        session_class = _db.session.session_factory.class_
        event.listen(session_class, "before_flush", other_save)
        armed.append((session_class, other_save))

    armed = []
    yield arm
    for session_class, listener in armed:
        event.remove(session_class, "before_flush", listener)


def test_a_save_that_loses_the_race_gets_the_conflict_page_with_their_change(app, world, auth,
                                                                            someone_else_saves_first):
    card_id = world["billing_card"].id
    auth.login("bianca@example.com")
    someone_else_saves_first(card_id)
    late = auth.post(f"/cards/{card_id}/edit", data=_form(world, "My answer."))
    page = late.get_data(as_text=True)
    assert late.status_code == 409
    assert "Someone saved revision 2 while you were editing revision 1" in page
    assert 'data-testid="their-change"' in page and "<ins>else&#39;s</ins>" in page
    assert "My answer." in page  # their own text is kept in the form
    assert _revisions(app, card_id) == ["Refunds take 5 days.", "Someone else's answer."]


def test_a_settings_change_that_wins_the_race_is_a_conflict_too(app, world, auth, someone_else_saves_first):
    card_id = world["billing_card"].id
    auth.login("bianca@example.com")
    someone_else_saves_first(card_id, answer=None)
    late = auth.post(f"/cards/{card_id}/edit", data=_form(world, "My answer."))
    assert late.status_code == 409
    assert "changed this card&#39;s settings while you were editing it" in late.get_data(as_text=True)
    assert _revisions(app, card_id) == ["Refunds take 5 days."]


def test_two_people_saving_at_once_make_one_revision_and_one_conflict(app, world, auth_for):
    """Two real threads, two clients, one database: both read the card while writes are locked out,
    then both write. One saves; the other is told, whichever way the interleaving falls."""
    card_id = world["billing_card"].id
    clients = []
    for _ in range(2):
        client = app.test_client()
        auth_for(client).login("bianca@example.com")
        clients.append((client, auth_for(client).csrf_token()))
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite"):
        lock = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=10)
        lock.execute("BEGIN IMMEDIATE")  # writers wait here; readers go on
    else:  # PostgreSQL (the suite's second run): the same, with a table lock that lets reads through
        import psycopg

        lock = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        lock.execute("LOCK TABLE cards IN EXCLUSIVE MODE")
    results = {}

    def save(index):
        client, token = clients[index]
        response = client.post(f"/cards/{card_id}/edit", data={**_form(world, f"Answer {index}."), "csrf_token": token})
        results[index] = (response.status_code, response.get_data(as_text=True))

    threads = [threading.Thread(target=save, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(1)  # not asserted: lets both requests read the card before the lock goes
    lock.rollback()
    lock.close()
    for thread in threads:
        thread.join(30)
    statuses = sorted(status for status, _ in results.values())
    assert statuses[0] == 302 and statuses[1] in (400, 409), statuses
    loser = next(body for status, body in results.values() if status != 302)
    assert "Someone saved revision 2 while you were editing revision 1" in loser
    answers = _revisions(app, card_id)
    assert len(answers) == 2 and answers[1] in ("Answer 0.", "Answer 1.")


def test_a_verification_racing_an_edit_verifies_nothing_and_says_why(app, world, auth, someone_else_saves_first):
    card_id = world["billing_card"].id
    auth.login("bianca@example.com")
    someone_else_saves_first(card_id)
    late = auth.post(f"/cards/{card_id}/verify", data={"note": "checked", "revision": "1"})
    assert late.status_code == 409
    assert "Someone saved revision 2 while you were reading revision 1, so nothing was verified" in \
        late.get_data(as_text=True)
    with app.app_context():
        card = db.session.get(Card, card_id)
        assert card.verified_at is None and card.revision_number == 2


def test_verifying_a_revision_saved_since_the_page_was_read_is_a_conflict(app, world, auth):
    card_id = world["billing_card"].id
    auth.login("bianca@example.com")
    assert auth.post(f"/cards/{card_id}/edit", data=_form(world, "Refunds take 3 days.")).status_code == 302
    stale = auth.post(f"/cards/{card_id}/verify", data={"note": "checked", "revision": "1"})
    assert stale.status_code == 409
    assert "nothing was verified" in stale.get_data(as_text=True)
    assert auth.post(f"/cards/{card_id}/verify", data={"note": "checked", "revision": "2"}).status_code == 302


def test_an_import_racing_an_edit_is_refused_in_one_line(app, world, runner, tmp_path, someone_else_saves_first):
    card_id = world["billing_card"].id
    with app.app_context():
        external_id = db.session.get(Card, card_id).external_id
    path = tmp_path / "cards.jsonl"
    path.write_text(json.dumps({"external_id": external_id, "title": "How do refunds work?",
                                "answer": "Imported answer.", "collection": "Payments & billing",
                                "owner_email": "bianca@example.com"}) + "\n", encoding="utf-8")
    someone_else_saves_first(card_id)
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0
    assert "changed by someone else during the import" in result.output
    assert "Traceback" not in result.output
    assert _revisions(app, card_id) == ["Refunds take 5 days.", "Someone else's answer."]


def test_demo_and_factory_cards_start_at_version_one_and_count_each_save(app, world):
    with app.app_context():
        card = db.session.get(Card, world["billing_card"].id)
        assert card.version == 1
        operations.edit_card(card, author=db.session.get(User, world["expert"].id), answer="Changed.")
        db.session.commit()
        assert card.version == 2


@pytest.fixture
def loophole(world, make_team, make_user, make_collection, make_card):
    """The probe: Bianca writes in Billing's collection but does not verify its card (Audit does); she also
    belongs to Side, a team she verifies for."""
    audit, side = make_team("Audit"), make_team("Side")
    bianca = make_user("expert", teams=[world["billing"], side], email="writer@example.com")
    auditor = make_user("expert", teams=[audit], email="auditor@example.com", lead_of=[audit])
    card = make_card(world["billing_coll"], bianca, verifier_team=audit, title="Can I get a refund?",
                     answer="Within 30 days.")
    return dict(audit=audit, side=side, bianca=bianca, auditor=auditor, card=card)


def _edit_form(world, loophole, team, answer="Within 300 days."):
    return {"title": "Can I get a refund?", "answer": answer, "tags": "", "collection": world["billing_coll"].id,
            "owner": loophole["bianca"].id, "verifier_team": team.id, "interval": "90", "base_revision": "1"}


def test_an_expert_cannot_move_a_card_to_a_team_of_their_own_to_verify_their_own_edit(app, world, auth, loophole):
    card_id = loophole["card"].id
    auth.login("writer@example.com")
    refused = auth.post(f"/cards/{card_id}/edit", data=_edit_form(world, loophole, loophole["side"]))
    assert refused.status_code == 400
    assert "Only an admin or a lead of Audit or Side may make Side verify this card" in \
        refused.get_data(as_text=True)
    with app.app_context():
        card = db.session.get(Card, card_id)
        assert card.verifier_team.name == "Audit" and card.answer == "Within 30 days." and card.revision_number == 1
    assert auth.post(f"/cards/{card_id}/verify", data={"note": "mine"}).status_code == 403
    # Her edit with the verifying team left alone is fine: Audit verifies it.
    assert auth.post(f"/cards/{card_id}/edit", data=_edit_form(world, loophole, loophole["audit"])).status_code == 302


@pytest.mark.parametrize("who", ["auditor@example.com", "admin@example.com", "side-lead@example.com"])
def test_a_lead_of_either_team_or_an_admin_may_change_the_verifying_team(app, world, auth_for, loophole, make_user,
                                                                         who):
    make_user("expert", teams=[world["billing"]], email="side-lead@example.com", lead_of=[loophole["side"]])
    with app.app_context():
        card = db.session.get(Card, loophole["card"].id)
        user = db.session.scalar(select(User).filter_by(email=who))
        operations.edit_card(card, author=user, verifier_team=db.session.get(type(card.verifier_team),
                                                                             loophole["side"].id))
        db.session.commit()
        assert db.session.get(Card, loophole["card"].id).verifier_team.name == "Side"


@pytest.mark.parametrize("action", ["archive", "revisions/1/restore"])
def test_a_one_click_change_racing_an_edit_changes_nothing_and_says_so(app, world, auth, someone_else_saves_first,
                                                                      action):
    card_id = world["billing_card"].id
    auth.login("bianca@example.com")
    auth.post(f"/cards/{card_id}/edit", data=_form(world, "Refunds take 3 days."))
    someone_else_saves_first(card_id)
    response = auth.post(f"/cards/{card_id}/{action}", follow_redirects=True)
    assert response.status_code == 200
    assert "Someone saved this card at the same moment, so nothing was changed" in response.get_data(as_text=True)
    with app.app_context():
        card = db.session.get(Card, card_id)
        assert not card.is_archived and card.answer == "Someone else's answer." and card.revision_number == 3

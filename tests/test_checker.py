"""The staleness checker (`kb check-stale`): golden output on the demo data, exit codes, idempotent
notifications, persisted states and trust snapshots, escalation, and the status changes that happen at
commit time (flags, orphaned cards) or at the next check (linked cards)."""
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from kb import demo
from kb.accounts import operations as accounts
from kb.cards import operations
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, CardState, Flag, Notification, TrustSnapshot, User
from kb.validation import Invalid
from kb.verification import flags

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden" / "check_stale_demo.json"
# Set UPDATE_GOLDEN=1 to rewrite the golden file from the current output (then review the diff by hand).
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"
GOLDEN_FIELDS = ("id", "title", "collection", "owner", "status", "reasons", "due")


# ---------------------------------------------------------------------------------------------- helpers

def iso(when):
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def seed_demo(app, now=NOW):
    from kb import demo

    with app.app_context():
        demo.seed(now=now)
        db.session.commit()


def check_stale(runner, now=None, *options, exit_code=0):
    """Run `kb check-stale --json` (at `now`, if given) and return the parsed report."""
    args = ["check-stale", "--json", *options] + (["--now", iso(now)] if now is not None else [])
    result = runner.invoke(args=args)
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)


def by_title(report):
    return {card["title"]: card for card in report["cards"]}


def demo_ids(app):
    """Demo card id by its key (external id)."""
    with app.app_context():
        return dict(db.session.execute(select(Card.external_id, Card.id)).all())


def stored_state(app, card_id):
    with app.app_context():
        state = db.session.get(CardState, card_id)
        return None if state is None else (state.status, state.reasons)


def notifications(app, **filters):
    """(user e-mail, kind, card id) of every notification matching the filters, oldest first."""
    with app.app_context():
        query = select(User.email, Notification.kind, Notification.card_id).join(User, User.id == Notification.user_id)
        for name, value in filters.items():
            query = query.where(getattr(Notification, name) == value)
        return [tuple(row) for row in db.session.execute(query.order_by(Notification.id))]


def outbox_files(app):
    folder = Path(app.config["OUTBOX_DIR"])
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def golden_view(report):
    return {
        "now": report["now"],
        "counts": report["counts"],
        "notified": report["notified"],
        "cards": [{name: card[name] for name in GOLDEN_FIELDS} for card in report["cards"]],
    }


# ------------------------------------------------------------------------------------ 1. golden output

def test_demo_report_matches_the_reviewed_golden_file(app, runner):
    seed_demo(app)
    report = check_stale(runner, NOW)
    if UPDATE_GOLDEN:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(golden_view(report), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert golden_view(report) == expected


def test_demo_report_agrees_with_the_demo_content(app, runner):
    """The golden file, re-derived from kb/demo_content.py: each card's intended state gives its status."""
    from kb.demo_content import CARDS

    seed_demo(app)
    report = check_stale(runner, NOW, "--all")
    rows = {card["id"]: card for card in report["cards"]}
    ids = demo_ids(app)
    expected_reasons = {"verified": [], "due_soon": [], "lapsed": ["expired"], "edited": ["edited"],
                        "draft": ["never_verified"]}
    special = {"holiday-dispatch-times": ["expired", "link_changed"],   # links to the reworded cut-off card
               "international-shipping": ["expired", "orphaned"],       # owner deactivated
               "international-returns": ["orphaned"],                   # owner deactivated
               "damaged-parcel": ["flagged"]}                           # an agent's open flag
    for spec in CARDS:
        row = rows[ids[spec["key"]]]
        reasons = special.get(spec["key"], expected_reasons[spec["state"]])
        status = {"verified": "verified", "due_soon": "due_soon", "draft": "draft"}.get(spec["state"])
        if reasons and spec["state"] != "draft":
            status = "needs_verification"
        assert (row["status"], row["reasons"]) == (status, reasons), spec["key"]
        if spec["state"] == "due_soon":
            assert row["due"] == iso(NOW + timedelta(days=3))
        if spec["state"] == "lapsed":
            assert row["due"] == iso(NOW - timedelta(days=10))
        if spec["state"] == "draft":
            assert row["due"] is None
    assert report["counts"] == {"verified": 29, "due_soon": 6, "needs_verification": 12, "draft": 5, "archived": 0}
    # Without --all only cards needing attention are listed, most urgent first.
    attention = check_stale(runner, NOW)["cards"]
    assert [c["status"] for c in attention] == ["needs_verification"] * 12 + ["due_soon"] * 6 + ["draft"] * 5


def test_what_if_later_instants(app, runner):
    seed_demo(app)
    today = check_stale(runner, NOW)
    week_later = check_stale(runner, NOW + timedelta(days=8))
    later = check_stale(runner, NOW + timedelta(days=40))
    assert week_later["now"] == "2026-12-05T09:00:00Z"

    # In 8 days every card that was due soon has lapsed (due 2026-11-30); nothing else changed.
    due_soon_today = {t for t, c in by_title(today).items() if c["status"] == "due_soon"}
    assert len(due_soon_today) == 6
    rows = by_title(week_later)
    for title in due_soon_today:
        assert (rows[title]["status"], rows[title]["reasons"]) == ("needs_verification", ["expired"]), title
        assert rows[title]["due"] == "2026-11-30T09:00:00Z"
    assert week_later["counts"] == {"verified": 29, "due_soon": 0, "needs_verification": 18, "draft": 5,
                                    "archived": 0}
    for title, card in by_title(today).items():
        if title not in due_soon_today:
            assert (rows[title]["status"], rows[title]["reasons"]) == (card["status"], card["reasons"]), title

    # In 40 days the 30-day holiday cards verified a week ago have lapsed too, the edited 30-day card is
    # also expired, and the 60-day cards are now due soon.
    rows = by_title(later)
    for title in ("Will my order arrive by Christmas?", "Can I include a gift receipt?",
                  "Why is my order on hold?"):
        assert (rows[title]["status"], rows[title]["reasons"], rows[title]["due"]) == (
            "needs_verification", ["expired"], "2026-12-20T09:00:00Z"), title
    assert rows["Do you offer gift wrapping?"]["reasons"] == ["expired", "edited"]
    assert {t for t, c in rows.items() if c["status"] == "due_soon"} == {
        "Can I get free shipping on my next order after cancelling?",
        "Can I keep the item and still get a refund?"}
    assert later["counts"] == {"verified": 23, "due_soon": 2, "needs_verification": 22, "draft": 5, "archived": 0}
    stale = [c["needs_verification"] for c in (today["counts"], week_later["counts"], later["counts"])]
    assert stale == sorted(stale) and stale[0] < stale[-1]


# --------------------------------------------------------------------------------------- 2. exit codes

@pytest.fixture
def verified_world(make_team, make_user, make_collection, make_card):
    """A team whose every card is verified (yesterday)."""
    team = make_team("Billing experts")
    expert = make_user("expert", teams=[team], email="bianca@example.com")
    coll = make_collection(team, name="Payments & billing")
    yesterday = utcnow() - timedelta(days=1)
    cards = [make_card(coll, expert, verified_at=yesterday, title=f"Verified question {n}?") for n in range(3)]
    return dict(team=team, expert=expert, coll=coll, cards=cards)


def test_fail_on_stale_exit_codes(app, runner):
    seed_demo(app)
    failing = check_stale(runner, NOW, "--fail-on-stale", exit_code=1)
    assert failing["counts"]["needs_verification"] == 12  # the report is still printed
    check_stale(runner, NOW, exit_code=0)
    table = runner.invoke(args=["check-stale", "--fail-on-stale", "--now", iso(NOW)])
    assert table.exit_code == 1 and "12 needs verification" in table.output


def test_fail_on_stale_passes_when_everything_is_verified(app, runner, verified_world):
    report = check_stale(runner, None, "--fail-on-stale")
    assert report["counts"] == {"verified": 3, "due_soon": 0, "needs_verification": 0, "draft": 0, "archived": 0}
    assert report["cards"] == []
    result = runner.invoke(args=["check-stale", "--fail-on-stale"])
    assert result.exit_code == 0 and "3 verified" in result.output


@pytest.mark.parametrize("value", ["next tuesday", "2026-13-45", "27/11/2026", ""])
def test_bad_now_is_refused_clearly(app, runner, verified_world, value):
    result = runner.invoke(args=["check-stale", "--json", "--now", value])
    assert result.exit_code == 2
    assert "Invalid value for '--now'" in result.output
    assert "ISO 8601" in result.output
    assert not result.stdout.lstrip().startswith("{")
    with app.app_context():  # nothing was checked or stored
        assert db.session.scalar(select(func.count()).select_from(TrustSnapshot)) == 0


# -------------------------------------------------------------------------------------- 3. idempotence

def test_notify_twice_notifies_nobody_twice(app, runner):
    seed_demo(app)
    first = check_stale(runner, NOW, "--notify")
    rows_after_first = notifications(app)
    files_after_first = outbox_files(app)
    assert first["notified"] > 0
    # Every notification queued so far for an active user (the seeded flag's too) was e-mailed, one file each.
    with app.app_context():
        emailed = db.session.scalars(select(Notification).where(Notification.emailed_at.is_not(None))).all()
        assert all(n.emailed_at is not None for n in db.session.scalars(select(Notification)) if n.user.active)
    assert len(files_after_first) == len(emailed) >= len(rows_after_first) - 1

    ids = demo_ids(app)
    kinds = {(email, kind, card) for email, kind, card in rows_after_first}
    # Owners hear about their due-soon and lapsed cards ...
    assert ("leo@example.com", "due_soon", ids["lost-parcel"]) in kinds
    assert ("admin@example.com", "due_soon", ids["onboarding-escalation"]) in kinds
    assert ("bianca@example.com", "lapsed", ids["vat-invoice"]) in kinds
    assert ("priya@example.com", "lapsed", ids["promo-code-missed"]) in kinds
    # ... but not a deactivated owner.
    assert not [k for k in kinds if k[0] == "former@example.com" and k[1] in ("due_soon", "lapsed")]

    second = check_stale(runner, NOW, "--notify")
    third = check_stale(runner, NOW + timedelta(hours=3), "--notify")
    assert second["notified"] == third["notified"] == 0
    assert notifications(app) == rows_after_first
    assert outbox_files(app) == files_after_first
    # Nobody got the same event twice.
    with app.app_context():
        keys = db.session.execute(select(Notification.user_id, Notification.key)).all()
    assert len(keys) == len(set(keys))


@pytest.fixture
def lapsed_world(make_team, make_user, make_collection, make_card):
    """A card whose 90-day verification lapsed ten days ago."""
    team = make_team("Billing experts")
    owner = make_user("expert", teams=[team], email="bianca@example.com")
    coll = make_collection(team, name="Payments & billing", interval=90)
    card = make_card(coll, owner, verified_at=utcnow() - timedelta(days=100), title="How do refunds work?")
    return dict(team=team, owner=owner, coll=coll, card=card)


def test_a_new_verification_cycle_rearms_the_reminders(app, runner, lapsed_world):
    card_id = lapsed_world["card"].id
    t0 = utcnow().replace(microsecond=0) + timedelta(minutes=1)
    check_stale(runner, t0, "--notify")
    check_stale(runner, t0 + timedelta(days=1), "--notify")
    assert notifications(app, card_id=card_id) == [("bianca@example.com", "lapsed", card_id)]
    assert len(outbox_files(app)) == 1

    verified_at = t0 + timedelta(days=2)
    with app.app_context():
        operations.verify_card(db.session.get(Card, card_id), db.session.get(User, lapsed_world["owner"].id),
                               at=verified_at)
        db.session.commit()
    assert check_stale(runner, verified_at + timedelta(days=10), "--notify")["notified"] == 0

    # The new cycle: due soon 85 days later, lapsed after 90 days; each reminder once.
    for days in (85, 86, 91, 92):
        check_stale(runner, verified_at + timedelta(days=days), "--notify")
    assert notifications(app, card_id=card_id) == [("bianca@example.com", "lapsed", card_id),
                                                    ("bianca@example.com", "due_soon", card_id),
                                                    ("bianca@example.com", "lapsed", card_id)]
    assert len(outbox_files(app)) == 3


# -------------------------------------------------------------------------------------- 4. persistence

def test_card_states_and_trust_snapshot_match_the_report(app, runner):
    seed_demo(app)
    with app.app_context():  # archived cards do not count towards trust
        card = db.session.scalar(select(Card).filter_by(external_id="order-confirmation-missing"))
        operations.set_archived(card, db.session.scalar(select(User).filter_by(role="admin")), True)
        db.session.commit()
    report = check_stale(runner, NOW, "--all")
    counts = report["counts"]
    assert counts == {"verified": 29, "due_soon": 6, "needs_verification": 12, "draft": 4, "archived": 1}

    with app.app_context():
        states = {s.card_id: s for s in db.session.scalars(select(CardState))}
        assert len(states) == len(report["cards"]) == 52
        for row in report["cards"]:
            state = states[row["id"]]
            assert state.status == row["status"], row["title"]
            assert state.reasons == ",".join(row["reasons"]), row["title"]
            assert (iso(state.due_at) if state.due_at else None) == row["due"], row["title"]
            assert (state.stale_since is not None) == (row["status"] == "needs_verification"), row["title"]

        snaps = db.session.scalars(select(TrustSnapshot).filter_by(day=NOW.date())).all()
        overall = next(s for s in snaps if s.scope == "all")
        non_archived = sum(n for code, n in counts.items() if code != "archived")
        assert (overall.total, overall.trusted) == (non_archived, counts["verified"] + counts["due_soon"]) == (51, 35)
        reasons = json.loads(overall.reasons_json)
        assert reasons["expired"] == 5 and reasons["edited"] == 5 and reasons["flagged"] == 1
        assert reasons["orphaned"] == 2 and reasons["link_changed"] == 1 and reasons["never_verified"] == 4
        per_collection = [s for s in snaps if s.scope.startswith("collection:")]
        per_team = [s for s in snaps if s.scope.startswith("team:")]
        assert len(per_collection) == 7 and len(per_team) == 3
        for scopes in (per_collection, per_team):
            assert sum(s.total for s in scopes) == overall.total
            assert sum(s.trusted for s in scopes) == overall.trusted
        before = sorted((s.scope, s.total, s.trusted) for s in snaps)
        history = db.session.scalar(select(func.count()).select_from(TrustSnapshot).filter_by(scope="all"))

    # Again the same day (later that morning): still one row per scope, same figures.
    check_stale(runner, NOW + timedelta(hours=2))
    with app.app_context():
        rows = db.session.execute(select(TrustSnapshot.scope, func.count()).filter_by(day=NOW.date())
                                  .group_by(TrustSnapshot.scope)).all()
        assert len(rows) == len(before) and all(n == 1 for _, n in rows)
        again = sorted((s.scope, s.total, s.trusted)
                       for s in db.session.scalars(select(TrustSnapshot).filter_by(day=NOW.date())))
        assert again == before

    # The next week is a new day: a new row, with fewer trusted cards.
    check_stale(runner, NOW + timedelta(days=8))
    with app.app_context():
        later = db.session.scalar(select(TrustSnapshot).filter_by(day=(NOW + timedelta(days=8)).date(), scope="all"))
        assert (later.total, later.trusted) == (51, 29)
        assert db.session.scalar(select(func.count()).select_from(TrustSnapshot)
                                 .filter_by(scope="all")) == history + 1


# --------------------------------------------------------------------------------------- 5. escalation

def test_long_stale_cards_escalate_to_leads_or_admins_once(app, runner, make_team, make_user, make_collection,
                                                           make_card):
    billing, logistics = make_team("Billing experts"), make_team("Logistics experts")
    make_user("expert", teams=[billing], lead_of=[billing], email="lead@example.com")
    bianca = make_user("expert", teams=[billing], email="bianca@example.com")
    leo = make_user("expert", teams=[logistics], email="leo@example.com")  # logistics has no lead
    make_user("admin", email="admin@example.com")
    make_user("admin", email="admin2@example.com")
    gone = make_user("admin", email="gone@example.com")
    with app.app_context():
        db.session.get(User, gone.id).active = False
        db.session.commit()
    long_ago = utcnow() - timedelta(days=100)
    billing_card = make_card(make_collection(billing, interval=90), bianca, verified_at=long_ago,
                             title="How do refunds work?")
    shipping_card = make_card(make_collection(logistics, interval=90), leo, verified_at=long_ago,
                              title="How long does shipping take?")

    t0 = utcnow().replace(microsecond=0) + timedelta(minutes=1)
    check_stale(runner, t0, "--notify")
    check_stale(runner, t0 + timedelta(days=13), "--notify")
    assert notifications(app, kind="escalated") == []

    report = check_stale(runner, t0 + timedelta(days=15), "--notify")
    assert report["notified"] == 3
    escalated = sorted(notifications(app, kind="escalated"))
    assert escalated == sorted([("lead@example.com", "escalated", billing_card.id),
                                ("admin@example.com", "escalated", shipping_card.id),
                                ("admin2@example.com", "escalated", shipping_card.id)])
    with app.app_context():
        subjects = db.session.scalars(select(Notification.subject).filter_by(kind="escalated")).all()
    assert all(s.startswith("Stale for 15 days: ") for s in subjects)

    for days in (15, 16, 30):
        assert check_stale(runner, t0 + timedelta(days=days), "--notify")["notified"] == 0
    assert len(notifications(app, kind="escalated")) == 3
    # The owners only ever got their one "lapsed" notice.
    assert notifications(app, kind="lapsed") == [("bianca@example.com", "lapsed", billing_card.id),
                                                 ("leo@example.com", "lapsed", shipping_card.id)]


# ------------------------------------------------------------------------- 6. flag -> verify -> status

@pytest.fixture
def flag_world(make_team, make_user, make_collection, make_card):
    billing, logistics = make_team("Billing experts"), make_team("Logistics experts")
    expert = make_user("expert", teams=[billing], email="bianca@example.com")
    second = make_user("expert", teams=[billing], email="priya@example.com")
    outsider = make_user("expert", teams=[logistics], email="leo@example.com")
    agent = make_user("agent", email="agent@example.com")
    card = make_card(make_collection(billing), expert, verified_at=utcnow() - timedelta(days=1),
                     title="How do refunds work?")
    return dict(expert=expert, second=second, outsider=outsider, agent=agent, card=card)


def test_flag_then_verify(app, flag_world):
    card_id = flag_world["card"].id
    assert stored_state(app, card_id) == ("verified", "")
    with app.app_context():
        card = db.session.get(Card, card_id)
        flag = flags.flag_card(card, db.session.get(User, flag_world["agent"].id), "outdated", "Fees changed.")
        db.session.commit()
        flag_id = flag.id
    # No checker run: the commit itself stored the new status.
    assert stored_state(app, card_id) == ("needs_verification", "flagged")
    assert sorted(notifications(app, kind="flagged")) == [("bianca@example.com", "flagged", card_id),
                                                          ("priya@example.com", "flagged", card_id)]

    with app.app_context():
        card = db.session.get(Card, card_id)
        operations.verify_card(card, db.session.get(User, flag_world["second"].id), note="Fees are right.")
        db.session.commit()
        flag = db.session.get(Flag, flag_id)
        assert flag.state == "resolved" and flag.closed_by_id == flag_world["second"].id
        assert flag.close_note == "Fees are right."
    assert notifications(app, kind="flag_resolved") == [("agent@example.com", "flag_resolved", card_id)]
    assert stored_state(app, card_id) == ("verified", "")


def test_dismissing_a_flag_needs_a_reason(app, flag_world):
    card_id = flag_world["card"].id
    with app.app_context():
        flag = flags.flag_card(db.session.get(Card, card_id), db.session.get(User, flag_world["agent"].id),
                               "unclear")
        db.session.commit()
        flag_id = flag.id
    before = notifications(app)
    with app.app_context():
        flag = db.session.get(Flag, flag_id)
        with pytest.raises(Invalid) as refused:
            flags.dismiss_flag(flag, db.session.get(User, flag_world["expert"].id), "   ")
        assert "reason" in refused.value.errors
        db.session.commit()  # whatever the caller does next, nothing changed
    with app.app_context():
        flag = db.session.get(Flag, flag_id)
        assert (flag.state, flag.closed_at, flag.closed_by_id, flag.close_note) == ("open", None, None, "")
    assert notifications(app) == before
    assert stored_state(app, card_id) == ("needs_verification", "flagged")

    with app.app_context():
        flags.dismiss_flag(db.session.get(Flag, flag_id), db.session.get(User, flag_world["expert"].id),
                           "The answer covers this in the second paragraph.")
        db.session.commit()
        assert db.session.get(Flag, flag_id).state == "dismissed"
    assert notifications(app, kind="flag_dismissed") == [("agent@example.com", "flag_dismissed", card_id)]
    assert stored_state(app, card_id) == ("verified", "")


# -------------------------------------------------------------------------------------- 7. link_changed

@pytest.fixture
def linked_cards(make_team, make_user, make_collection, make_card):
    team = make_team("Logistics experts")
    expert = make_user("expert", teams=[team], email="leo@example.com")
    coll = make_collection(team, interval=90)
    target = make_card(coll, expert, title="When is the Christmas cut-off?", answer="December 21.",
                       external_id="holiday-cutoff")
    linking = make_card(coll, expert, title="Will my order arrive by Christmas?",
                        answer="Order before the [cut-off](/cards/by-key/holiday-cutoff).")
    return dict(expert=expert, target=target, linking=linking)


def _verify(app, card_id, user_id, at):
    with app.app_context():
        operations.verify_card(db.session.get(Card, card_id), db.session.get(User, user_id), at=at)
        db.session.commit()


def test_rewording_a_linked_card_asks_for_the_linking_card(app, runner, linked_cards):
    a, b, expert = linked_cards["linking"].id, linked_cards["target"].id, linked_cards["expert"].id
    base = utcnow().replace(microsecond=0) - timedelta(days=30)
    _verify(app, b, expert, base)
    _verify(app, a, expert, base + timedelta(hours=1))
    with app.app_context():
        operations.edit_card(db.session.get(Card, b), author=db.session.get(User, expert), answer="December 22.",
                             now=base + timedelta(days=2))
        db.session.commit()

    def status(when, card_id):
        row = next(c for c in check_stale(runner, when, "--all")["cards"] if c["id"] == card_id)
        return row["status"], row["reasons"]

    # B's edit alone is B's business; A only cares once the new wording is verified.
    assert status(base + timedelta(days=2, minutes=30), a) == ("verified", [])
    _verify(app, b, expert, base + timedelta(days=2, hours=1))
    assert status(base + timedelta(days=2), a) == ("verified", [])          # before B's re-verification
    assert status(base + timedelta(days=3), a) == ("needs_verification", ["link_changed"])
    assert status(base + timedelta(days=3), b) == ("verified", [])

    # A is checked again; B is re-verified later without any edit: A stays verified.
    _verify(app, a, expert, base + timedelta(days=4))
    assert status(base + timedelta(days=4, hours=1), a) == ("verified", [])
    _verify(app, b, expert, base + timedelta(days=5))
    assert status(base + timedelta(days=6), a) == ("verified", [])


def test_linking_cards_stored_status_changes_at_commit(app, linked_cards):
    a, b, expert = linked_cards["linking"].id, linked_cards["target"].id, linked_cards["expert"].id
    _verify(app, b, expert, utcnow() - timedelta(days=2))
    _verify(app, a, expert, utcnow() - timedelta(days=1))
    with app.app_context():
        card = db.session.get(Card, b)
        operations.edit_card(card, author=db.session.get(User, expert), answer="December 22.")
        operations.verify_card(card, db.session.get(User, expert))
        db.session.commit()
    assert stored_state(app, a) == ("needs_verification", "link_changed")


# ------------------------------------------------------------------------------------------ 8. orphaned

def test_deactivating_the_owner_orphans_their_cards_at_commit(app, make_team, make_user, make_collection,
                                                              make_card):
    team = make_team("Billing experts")
    owner = make_user("expert", teams=[team], email="bianca@example.com")
    colleague = make_user("expert", teams=[team], email="priya@example.com")
    admin = make_user("admin", email="admin@example.com")
    coll = make_collection(team)
    yesterday = utcnow() - timedelta(days=1)
    mine = make_card(coll, owner, verified_at=yesterday, title="How do refunds work?")
    theirs = make_card(coll, colleague, verified_at=yesterday, title="Can I pay by invoice?")
    assert stored_state(app, mine.id) == ("verified", "")

    def set_active(active):
        with app.app_context():
            user = db.session.get(User, owner.id)
            accounts.update_user(user, actor=db.session.get(User, admin.id), email=user.email, name=user.name,
                                 role=user.role, active=active, expires_on=None)
            db.session.commit()

    set_active(False)
    assert stored_state(app, mine.id) == ("needs_verification", "orphaned")
    assert stored_state(app, theirs.id) == ("verified", "")  # the team still has an active verifier
    set_active(True)
    assert stored_state(app, mine.id) == ("verified", "")


def test_a_team_without_active_verifiers_orphans_its_cards(app, make_team, make_user, make_collection, make_card):
    team = make_team("Billing experts")
    expert = make_user("expert", teams=[team], email="bianca@example.com")
    admin = make_user("admin", email="admin@example.com")
    agent_owner = make_user("agent", email="agent@example.com")
    card = make_card(make_collection(team), agent_owner, verified_at=utcnow() - timedelta(days=1),
                     verified_by=expert)
    assert stored_state(app, card.id) == ("verified", "")
    with app.app_context():
        user = db.session.get(User, expert.id)
        accounts.update_user(user, actor=db.session.get(User, admin.id), email=user.email, name=user.name,
                             role=user.role, active=False, expires_on=None)
        db.session.commit()
    assert stored_state(app, card.id) == ("needs_verification", "orphaned")


# Regression: a commit whose changes were never flushed before it (plain attribute change + commit, or
# set_archived + commit as the archive page does) must still refresh the stored status.
def test_deactivating_by_attribute_orphans_at_commit(app, make_team, make_user, make_collection, make_card):
    team = make_team("Billing experts")
    owner = make_user("expert", teams=[team], email="bianca@example.com")
    make_user("expert", teams=[team], email="priya@example.com")
    card = make_card(make_collection(team), owner, verified_at=utcnow() - timedelta(days=1))
    assert stored_state(app, card.id) == ("verified", "")
    with app.app_context():
        db.session.get(User, owner.id).active = False
        db.session.commit()
    assert stored_state(app, card.id) == ("needs_verification", "orphaned")


def test_archiving_stores_the_archived_status_at_commit(app, make_team, make_user, make_collection, make_card):
    team = make_team("Billing experts")
    expert = make_user("expert", teams=[team], email="bianca@example.com")
    card = make_card(make_collection(team), expert, verified_at=utcnow() - timedelta(days=1))
    def set_archived(archived):
        with app.app_context():  # what the archive page does
            operations.set_archived(db.session.get(Card, card.id), db.session.get(User, expert.id), archived)
            db.session.commit()

    set_archived(True)
    assert stored_state(app, card.id) == ("archived", "")
    set_archived(False)
    assert stored_state(app, card.id) == ("verified", "")


def test_dry_run_stores_nothing(app, runner):
    from kb.models import CardState, TrustSnapshot

    with app.app_context():
        demo.seed(now=NOW)
        db.session.commit()
        before = [(s.card_id, s.status, s.reasons)
                  for s in db.session.scalars(select(CardState).order_by(CardState.card_id))]
        snapshots = db.session.scalar(select(func.count()).select_from(TrustSnapshot))
    result = runner.invoke(args=["check-stale", "--dry-run", "--json", "--now", "2027-06-01T00:00:00Z"])
    assert result.exit_code == 0 and json.loads(result.output)["counts"]["needs_verification"] > 12
    with app.app_context():
        after = [(s.card_id, s.status, s.reasons)
                 for s in db.session.scalars(select(CardState).order_by(CardState.card_id))]
        assert after == before
        assert db.session.scalar(select(func.count()).select_from(TrustSnapshot)) == snapshots


def test_a_check_never_overwrites_a_state_refreshed_by_a_later_commit(app, world):
    """The checker evaluates first and stores seconds later; a card verified in between keeps its new state."""
    from datetime import timedelta as td

    from kb.cards import operations
    from kb.models import Card, CardState, User
    from kb.verification import checker

    with app.app_context():
        card = db.session.get(Card, world["billing_card"].id)
        operations.verify_card(card, db.session.get(User, world["expert"].id), at=utcnow() - td(days=200))
        db.session.commit()
        started = utcnow()
        verdicts = checker.evaluate(started)  # the cron's view: lapsed
        operations.verify_card(db.session.get(Card, card.id), db.session.get(User, world["expert"].id))
        db.session.commit()  # a verifier, meanwhile
        checker.store(verdicts, started, unless_newer_than=started)
        db.session.commit()
        assert db.session.get(CardState, card.id).status == "verified"

"""The status policy, table-driven: every reason, their combinations, and the boundaries."""
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kb.verification import policy
from kb.verification.policy import Facts

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
D = policy


def facts(verified_days_ago=10.0, interval=30, revision=1, verified_revision=1, **extra):
    verified = verified_days_ago is not None
    return Facts(interval_days=interval, revision_number=revision,
                 verified_revision_number=verified_revision if verified else None,
                 verified_at=NOW - timedelta(days=verified_days_ago) if verified else None, **extra)


TABLE = [
    # (facts, status, reason codes)
    (facts(verified_days_ago=None), D.DRAFT, ["never_verified"]),
    (facts(verified_days_ago=None, open_flags=1), D.DRAFT, ["flagged", "never_verified"]),
    (facts(verified_days_ago=None, owner_active=False), D.DRAFT, ["orphaned", "never_verified"]),
    (facts(1), D.VERIFIED, []),
    (facts(22.99), D.VERIFIED, []),                    # lapses in 7.01 days: outside the warning window
    (facts(23), D.DUE_SOON, []),                       # exactly 7 days before the lapse
    (facts(29.999), D.DUE_SOON, []),
    (facts(30), D.NEEDS_VERIFICATION, ["expired"]),    # exactly at expiry
    (facts(400), D.NEEDS_VERIFICATION, ["expired"]),
    (facts(1, revision=2), D.NEEDS_VERIFICATION, ["edited"]),
    (facts(1, open_flags=2), D.NEEDS_VERIFICATION, ["flagged"]),
    (facts(1, changed_links=("Will my order arrive by Christmas?",)), D.NEEDS_VERIFICATION, ["link_changed"]),
    (facts(1, owner_active=False), D.NEEDS_VERIFICATION, ["orphaned"]),
    (facts(1, team_has_verifiers=False), D.NEEDS_VERIFICATION, ["orphaned"]),
    (facts(23, open_flags=1), D.NEEDS_VERIFICATION, ["flagged"]),   # a flag beats "due soon"
    (facts(3, interval=7), D.VERIFIED, []),      # weekly card: the window is half the interval (3.5 days)...
    (facts(3.5, interval=7), D.DUE_SOON, []),    # ...not the whole week
    (facts(31, revision=3, verified_revision=2, open_flags=1, changed_links=("x",), owner_active=False,
           team_has_verifiers=False), D.NEEDS_VERIFICATION, ["expired", "edited", "flagged", "link_changed",
                                                             "orphaned"]),
    (facts(1, is_archived=True, open_flags=3, revision=2), D.ARCHIVED, []),
    (facts(None, is_archived=True), D.ARCHIVED, []),
]


@pytest.mark.parametrize("card_facts, status, reasons", TABLE)
def test_status_table(card_facts, status, reasons):
    result = policy.evaluate(card_facts, NOW)
    assert result.code == status
    assert list(result.reason_codes) == reasons
    assert all(r.message.endswith(".") for r in result.reasons)
    assert result.is_trusted == (status in (D.VERIFIED, D.DUE_SOON))


def test_messages_say_what_to_do():
    result = policy.evaluate(facts(31, revision=3, verified_revision=2, open_flags=2, changed_links=("Cut-offs",),
                                   owner_active=False), NOW)
    messages = [r.message for r in result.reasons]
    assert messages == [
        "Verification lapsed on 2026-11-26.",
        "Edited since verification (verified revision 2, current revision 3).",
        "2 open flags from agents.",
        "Linked card changed since verification: “Cut-offs”.",
        "Orphaned: its owner is deactivated or their account expired.",
    ]


def test_due_date():
    result = policy.evaluate(facts(10, interval=90), NOW)
    assert result.due_at == NOW + timedelta(days=80) and result.label == "Verified"
    assert policy.evaluate(facts(None), NOW).due_at is None


@pytest.mark.parametrize("days_ago, window, status", [
    (15, 14, D.VERIFIED), (16, 14, D.DUE_SOON), (29, 0, D.VERIFIED), (30, 0, D.NEEDS_VERIFICATION)])
def test_warning_window_is_configurable(days_ago, window, status):
    assert policy.evaluate(facts(days_ago), NOW, warning_days=window).code == status


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles", "Pacific/Kiritimati"])
def test_time_zones_compare_as_instants(zone):
    """Stored in UTC; an instant given in any zone gives the same answer."""
    local_now = NOW.astimezone(ZoneInfo(zone))
    assert policy.evaluate(facts(30), local_now).code == D.NEEDS_VERIFICATION
    assert policy.evaluate(facts(29.999), local_now).code == D.DUE_SOON


def test_demo_data_has_cards_in_every_state_and_every_reason(app):
    from kb import demo
    from kb.dates import utcnow
    from kb.extensions import db
    from kb.models import Card
    from kb.verification.status import statuses

    with app.app_context():
        now = utcnow()
        demo.seed(now=now)
        db.session.commit()
        codes = {}
        for status in statuses(db.session.scalars(db.select(Card.id)), now).values():
            codes.setdefault(status.code, set()).update(status.reason_codes)
        assert set(codes) == {D.VERIFIED, D.DUE_SOON, D.NEEDS_VERIFICATION, D.DRAFT}
        assert codes[D.NEEDS_VERIFICATION] == {"expired", "edited", "flagged", "link_changed", "orphaned"}


def test_dates_in_reasons_are_local_days():
    """Stored in UTC, shown local: a lapse at 12:00 UTC is already the next day in Kiritimati (UTC+14)."""
    lapsed = facts(31)  # lapsed on 2026-11-26 12:00 UTC
    assert policy.evaluate(lapsed, NOW).reasons[0].message == "Verification lapsed on 2026-11-26."
    kiritimati = policy.evaluate(lapsed, NOW, tz=ZoneInfo("Pacific/Kiritimati"))
    assert kiritimati.reasons[0].message == "Verification lapsed on 2026-11-27."


def test_seasonal_accounts_end_on_the_local_day(app, make_user):
    from datetime import date

    from kb.extensions import db
    from kb.models import User
    from kb.verification.facts import user_is_active_at

    user = make_user("agent", expires_on=date(2026, 11, 27))
    late_evening_utc = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # already Nov 28 in Tokyo
    with app.app_context():
        person = db.session.get(User, user.id)
        assert user_is_active_at(person, late_evening_utc)
        app.config["TIMEZONE"] = "Asia/Tokyo"
        assert not user_is_active_at(person, late_evening_utc)

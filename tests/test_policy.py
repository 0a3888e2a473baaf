"""The status policy at its boundaries (the full reason table arrives with the staleness checker)."""
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from kb.verification import policy

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def card(verified_days_ago=None, interval=30, revision=1, verified_revision=1, archived=False):
    return SimpleNamespace(
        verified_at=None if verified_days_ago is None else NOW - timedelta(days=verified_days_ago),
        interval_days=interval, revision_number=revision,
        verified_revision_number=None if verified_days_ago is None else verified_revision, is_archived=archived,
    )


@pytest.mark.parametrize("kwargs, status, reasons", [
    ({}, policy.DRAFT, ["never_verified"]),
    ({"verified_days_ago": 1}, policy.VERIFIED, []),
    ({"verified_days_ago": 22.99}, policy.VERIFIED, []),          # due in 7.01 days: not yet due soon
    ({"verified_days_ago": 23}, policy.DUE_SOON, ["due_soon"]),   # exactly 7 days before the lapse
    ({"verified_days_ago": 29.99}, policy.DUE_SOON, ["due_soon"]),
    ({"verified_days_ago": 30}, policy.NEEDS_VERIFICATION, ["expired"]),  # exactly at expiry
    ({"verified_days_ago": 400}, policy.NEEDS_VERIFICATION, ["expired"]),
    ({"verified_days_ago": 1, "revision": 2}, policy.NEEDS_VERIFICATION, ["edited"]),
    ({"verified_days_ago": 31, "revision": 2}, policy.NEEDS_VERIFICATION, ["expired", "edited"]),
    ({"verified_days_ago": 1, "archived": True}, policy.ARCHIVED, []),
    ({"archived": True}, policy.ARCHIVED, []),
])
def test_status_table(kwargs, status, reasons):
    result = policy.card_status(card(**kwargs), NOW)
    assert result.code == status
    assert [r.code for r in result.reasons] == reasons
    assert all(r.message for r in result.reasons)


def test_due_date_and_trust():
    result = policy.card_status(card(verified_days_ago=10, interval=90), NOW)
    assert result.due_at == NOW + timedelta(days=80) and result.is_trusted and result.label == "Verified"
    assert not policy.card_status(card(), NOW).is_trusted


def test_warning_window_is_configurable():
    assert policy.card_status(card(verified_days_ago=15), NOW, warning_days=14).code == policy.VERIFIED
    assert policy.card_status(card(verified_days_ago=16), NOW, warning_days=14).code == policy.DUE_SOON


def test_time_zones_compare_as_instants():
    tokyo = NOW.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo"))
    assert policy.card_status(card(verified_days_ago=30), tokyo).code == policy.NEEDS_VERIFICATION
    assert policy.card_status(card(verified_days_ago=29.99), tokyo).code == policy.DUE_SOON


def test_demo_data_has_cards_in_every_state(app):
    from kb import demo
    from kb.dates import utcnow
    from kb.extensions import db
    from kb.models import Card

    with app.app_context():
        now = utcnow()
        demo.seed(now=now)
        db.session.commit()
        codes = {}
        for c in db.session.scalars(db.select(Card)):
            st = policy.card_status(c, now)
            codes.setdefault(st.code, set()).update(r.code for r in st.reasons)
        assert set(codes) == {policy.VERIFIED, policy.DUE_SOON, policy.NEEDS_VERIFICATION, policy.DRAFT}
        assert codes[policy.NEEDS_VERIFICATION] == {"expired", "edited"}

"""The expert's pages: queue and bulk actions, flags, notifications, the trust dashboard."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, CardState, Flag, Notification, User


@pytest.fixture
def stale(world, make_card):
    """Two billing cards needing verification and one shipping card (another team's)."""
    lapsed = make_card(world["billing_coll"], world["expert"], title="Do you accept PayPal?",
                       verified_at=utcnow() - timedelta(days=100))
    draft = world["billing_card"]
    other = make_card(world["shipping_coll"], world["other_expert"], title="Do you ship to Iceland?",
                      verified_at=utcnow() - timedelta(days=200))
    return {"lapsed": lapsed, "draft": draft, "other": other}


def queue_ids(page):
    return [int(x) for x in re.findall(r'name="cards" value="(\d+)"', page)]


def test_queue_lists_my_teams_cards_soonest_due_first_with_reasons(world, stale, auth, client):
    auth.login("bianca@example.com")
    page = client.get("/verification/queue").get_data(as_text=True)
    assert queue_ids(page) == [stale["lapsed"].id, stale["draft"].id]  # lapsed first, draft (no due date) last
    assert "Verification lapsed on" in page and "never been verified" in page
    assert "Do you ship to Iceland?" not in page  # not her team's
    filtered = client.get("/verification/queue?reason=never_verified").get_data(as_text=True)
    assert queue_ids(filtered) == [stale["draft"].id]


def test_queue_serves_the_customer_first_flagged_then_longest_overdue_then_due_soon_then_drafts(
        app, world, auth, client, make_card):
    from kb.verification import flags

    coll, expert = world["billing_coll"], world["expert"]
    now = utcnow()
    long_overdue = make_card(coll, expert, title="Long overdue", interval_days=30, verified_at=now - timedelta(days=90))
    overdue = make_card(coll, expert, title="Just overdue", interval_days=30, verified_at=now - timedelta(days=31))
    due_soon = make_card(coll, expert, title="Due soon", interval_days=30, verified_at=now - timedelta(days=27))
    due_later = make_card(coll, expert, title="Due later", interval_days=30, verified_at=now - timedelta(days=25))
    flagged_old = make_card(coll, expert, title="Flagged first", interval_days=30, verified_at=now - timedelta(days=1))
    flagged_new = make_card(coll, expert, title="Flagged last", interval_days=30, verified_at=now - timedelta(days=28))
    with app.app_context():
        agent = db.session.get(User, world["agent"].id)
        flags.flag_card(db.session.get(Card, flagged_old.id), agent, "incorrect", "Says 30 days, the site says 14")
        db.session.flush()
        db.session.get(Flag, 1).created_at = now - timedelta(hours=3)
        flags.flag_card(db.session.get(Card, flagged_new.id), agent, "outdated", "New carrier since Monday")
        db.session.commit()
    auth.login("bianca@example.com")
    page = client.get("/verification/queue").get_data(as_text=True)
    assert queue_ids(page) == [flagged_new.id, flagged_old.id, long_overdue.id, overdue.id, due_soon.id, due_later.id,
                               world["billing_card"].id]
    assert "New carrier since Monday" in page and "Says 30 days, the site says 14" in page  # the agent's words
    overdue_since = (now - timedelta(days=60)).date().isoformat()
    assert f"overdue since {overdue_since}" in page  # how long overdue, not a date in the future


def test_bulk_verify_with_one_note_clears_the_queue(app, world, stale, auth, client):
    auth.login("bianca@example.com")
    response = auth.post("/verification/queue", data={"cards": [stale["lapsed"].id, stale["draft"].id],
                                                      "action": "verify", "note": "Checked the 2026 billing policy"})
    assert response.status_code == 302
    assert queue_ids(client.get("/verification/queue").get_data(as_text=True)) == []
    with app.app_context():
        for key in ("lapsed", "draft"):
            card = db.session.get(Card, stale[key].id)
            assert card.verifications[0].note == "Checked the 2026 billing policy"
            assert db.session.get(CardState, card.id).status == "verified"


def test_bulk_verify_is_all_or_nothing(app, world, stale, auth):
    auth.login("bianca@example.com")
    response = auth.post("/verification/queue", data={"cards": [stale["lapsed"].id], "action": "verify"})
    assert response.status_code == 302
    # A card of another team posted by hand: refused, and nothing else is verified either.
    auth.post("/verification/queue?mine=1", data={"cards": [stale["draft"].id, stale["other"].id], "action": "verify"})
    with app.app_context():
        assert db.session.get(Card, stale["draft"].id).verified_at is None
        assert db.session.get(Card, stale["other"].id).verified_by_id == world["other_expert"].id


def test_bulk_reassign_notifies_the_new_owner(app, world, stale, make_user, auth, client):
    newcomer = make_user("expert", teams=[world["billing"]], email="newcomer@example.com")
    auth.login("admin@example.com")
    response = auth.post("/verification/queue", data={"cards": [stale["lapsed"].id, stale["draft"].id],
                                                      "action": "reassign", "owner": newcomer.id})
    assert response.status_code == 302
    with app.app_context():
        assert {db.session.get(Card, stale[k].id).owner_id for k in ("lapsed", "draft")} == {newcomer.id}
        notes = db.session.scalars(select(Notification).filter_by(user_id=newcomer.id, kind="reassigned")).all()
        assert len(notes) == 2
    auth.logout()
    auth.login("newcomer@example.com")
    assert 'aria-label="Notifications: 2 unread"' in client.get("/").get_data(as_text=True)


def test_bulk_without_selection_is_a_clear_error(world, stale, auth):
    auth.login("bianca@example.com")
    response = auth.post("/verification/queue", data={"action": "verify"})
    assert response.status_code == 400 and "Select at least one card" in response.get_data(as_text=True)


@pytest.mark.parametrize("url", ["/verification/queue", "/verification/dashboard"])
def test_agents_cannot_open_expert_pages(world, auth, client, url):
    auth.login("agent@example.com")
    assert client.get(url).status_code == 403


def test_agent_flag_then_verifier_dismisses_and_the_agent_is_told(app, world, stale, auth, client):
    card_id = stale["lapsed"].id
    with app.app_context():
        card = db.session.get(Card, card_id)
        from kb.cards import operations
        operations.verify_card(card, db.session.get(User, world["expert"].id))
        db.session.commit()
    auth.login("agent@example.com")
    response = auth.post(f"/cards/{card_id}/flags", data={"kind": "outdated", "comment": "PayPal was dropped?"},
                         follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Needs verification" in page and "1 open flag from agents" in page and "PayPal was dropped?" in page
    assert "Dismiss this flag" not in page  # agents cannot dismiss
    auth.logout()
    auth.login("bianca@example.com")
    assert 'Notifications: 1 unread' in client.get("/").get_data(as_text=True)
    with app.app_context():
        flag_id = db.session.scalar(select(Flag.id).filter_by(card_id=card_id))
    assert auth.post(f"/flags/{flag_id}/dismiss", data={"reason": ""}).status_code == 302
    with app.app_context():
        assert db.session.get(Flag, flag_id).state == "open"  # an empty reason changes nothing
    auth.post(f"/flags/{flag_id}/dismiss", data={"reason": "We still accept PayPal; see the checkout page."})
    page = client.get(f"/cards/{card_id}").get_data(as_text=True)
    assert "Verified" in page and "open flag" not in page
    auth.logout()
    auth.login("agent@example.com")
    notes = client.get("/notifications").get_data(as_text=True)
    assert "Your flag on" in notes and "We still accept PayPal" in notes


def test_notifications_mark_read(app, world, stale, auth, client):
    with app.app_context():
        from kb.verification.notify import notify
        user = db.session.get(User, world["expert"].id)
        notify(user, key="a", kind="due_soon", subject="First", card=stale["lapsed"].id)
        notify(user, key="b", kind="due_soon", subject="Second")
        db.session.commit()
    auth.login("bianca@example.com")
    assert "Notifications: 2 unread" in client.get("/").get_data(as_text=True)
    with app.app_context():
        first = db.session.scalar(select(Notification.id).filter_by(key="a"))
    response = auth.post("/notifications/read", data={"id": first, "next": f"/cards/{stale['lapsed'].id}"})
    assert response.headers["Location"] == f"/cards/{stale['lapsed'].id}"
    assert "Notifications: 1 unread" in client.get("/").get_data(as_text=True)
    auth.post("/notifications/read", data={"next": "https://evil.example.org"})
    assert "Notifications: 0 unread" in client.get("/").get_data(as_text=True)


def test_dashboard_score_goes_up_when_the_queue_is_cleared(app, world, stale, auth, client):
    auth.login("bianca@example.com")

    def score():
        page = client.get("/verification/dashboard").get_data(as_text=True)
        assert "<svg" in page and 'class="line"' in page or "No history yet" in page
        return int(re.search(r'id="trust-score">(\d+)%', page).group(1))

    before = score()
    assert before == 0  # nothing trusted: 2 billing cards + 1 shipping draft + 1 lapsed shipping card
    auth.post("/verification/queue", data={"cards": [stale["lapsed"].id, stale["draft"].id], "action": "verify"})
    assert score() == 50
    page = client.get("/verification/dashboard").get_data(as_text=True)
    assert "Logistics experts" in page and "Do you ship to Iceland?" in page  # still stale, grouped by team


def test_edit_and_verify_in_one_step(app, world, auth, client):
    auth.login("bianca@example.com")
    card_id = world["billing_card"].id
    response = auth.post(f"/cards/{card_id}/edit", data={
        "title": "How do refunds work?", "answer": "Refunds take 3 days.", "collection": world["billing_coll"].id,
        "owner": world["expert"].id, "verifier_team": world["billing"].id, "interval": "90", "base_revision": "1",
        "summary": "Faster refunds since November", "verify_after": "y"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Saved as revision 2" in page and "Verified revision 2" in page
    with app.app_context():
        card = db.session.get(Card, card_id)
        assert card.verified_revision_number == 2 and card.verifications[0].note == "Faster refunds since November"


def test_viewing_a_card_counts_for_the_queue_order(app, world, stale, auth, client):
    auth.login("agent@example.com")
    for _ in range(3):
        client.get(f"/cards/{stale['draft'].id}")
    with app.app_context():
        from kb.models import CardUsage
        assert db.session.get(CardUsage, stale["draft"].id).views == 3
        assert db.session.scalar(select(func.count()).select_from(CardUsage)) == 1


def test_cards_verified_together_do_not_flag_each_other(app, world, make_card, auth):
    """A links to B; both were edited; verifying them in one batch leaves A verified, whatever the order."""
    old = utcnow() - timedelta(days=10)
    linking = make_card(world["billing_coll"], world["expert"], title="Refund to a gift card?", verified_at=old)
    target = make_card(world["billing_coll"], world["expert"], title="Refund timing?", verified_at=old)
    with app.app_context():
        from kb.cards import operations
        expert = db.session.get(User, world["expert"].id)
        target_card = db.session.get(Card, target.id)
        operations.edit_card(db.session.get(Card, linking.id), author=expert,
                             answer=f"See [refund timing](/cards/by-key/{target_card.external_id}).")
        operations.edit_card(target_card, author=expert, answer="Refunds now take 3 days.")
        db.session.commit()
    auth.login("bianca@example.com")
    # The linking card comes first in the batch, so one-by-one timestamps would make its link look newer.
    response = auth.post("/verification/queue", data={"cards": [linking.id, target.id], "action": "verify"})
    assert response.status_code == 302
    with app.app_context():
        state = db.session.get(CardState, linking.id)
        assert (state.status, state.reasons) == ("verified", "")
        assert db.session.get(CardState, target.id).status == "verified"


def test_dashboard_counts_cards_that_lapsed_since_the_last_check(app, world, make_card, auth, client):
    """Stored states are from the last commit or check; the dashboard still counts a lapse since then."""
    card = make_card(world["billing_coll"], world["expert"], title="Gift cards?", interval_days=30,
                     verified_at=utcnow() - timedelta(days=25))
    with app.app_context():
        assert db.session.get(CardState, card.id).status == "due_soon"
        # Time passes: the stored verdict and due date stay as the last check left them, but the due date
        # is now behind us (a plain UPDATE, as if the clock had moved on without any check running).
        db.session.execute(db.update(CardState).where(CardState.card_id == card.id)
                           .values(due_at=utcnow() - timedelta(minutes=1)))
        db.session.execute(db.update(Card).where(Card.id == card.id)
                           .values(verified_at=utcnow() - timedelta(days=30, minutes=1)))
        db.session.commit()
        assert db.session.get(CardState, card.id).status == "due_soon"
    auth.login("bianca@example.com")
    page = client.get("/verification/dashboard").get_data(as_text=True)
    assert re.search(r'Verification lapsed</a></td><td>1<', page)
    assert "Gift cards?" in client.get("/verification/queue?reason=expired").get_data(as_text=True)

"""Cards, revisions, restore, diff and the change feed, through the operations layer and the pages."""
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kb.cards import operations
from kb.cards.diff import diff_text
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, CardChange, Revision, User


def test_every_save_makes_a_numbered_immutable_revision(app, world):
    with app.app_context():
        card = db.session.get(Card, world["billing_card"].id)
        author = db.session.get(User, world["expert"].id)
        first = operations.edit_card(card, author=author, summary="longer window", answer="Refunds take 3 days.")
        second = operations.edit_card(card, author=author, tags=["refunds", "Money Back "])
        db.session.commit()
        numbers = db.session.scalars(select(Revision.number).filter_by(card_id=card.id).order_by(Revision.number))
        assert list(numbers) == [1, 2, 3]
        assert (first.number, second.number) == (2, 3)
        assert operations.get_revision(card, 1).answer == "Refunds take 5 days."
        assert operations.get_revision(card, 2).summary == "longer window"
        assert operations.get_revision(card, 3).tags == ["money back", "refunds"]
        assert card.revision_number == 3 and card.answer == "Refunds take 3 days."


def test_saving_unchanged_content_makes_no_revision(app, world):
    with app.app_context():
        card = db.session.get(Card, world["billing_card"].id)
        author = db.session.get(User, world["expert"].id)
        assert operations.edit_card(card, author=author, answer="Refunds take 5 days.\r\n") is None
        assert card.revision_number == 1


def test_restoring_an_old_revision_makes_a_new_one(app, world):
    with app.app_context():
        card = db.session.get(Card, world["billing_card"].id)
        author = db.session.get(User, world["expert"].id)
        operations.edit_card(card, author=author, answer="Changed.")
        restored = operations.restore_revision(card, 1, author)
        db.session.commit()
        assert restored.number == 3
        assert restored.summary == "Restored revision 1"
        assert card.answer == "Refunds take 5 days."
        assert operations.get_revision(card, 2).answer == "Changed."
        with pytest.raises(LookupError):
            operations.restore_revision(card, 99, author)


@pytest.mark.parametrize("fields, error_field", [
    ({"title": "  "}, "title"),
    ({"answer": ""}, "answer"),
    ({"title": "x" * 201}, "title"),
    ({"answer": "x" * 20_001}, "answer"),
    ({"tags": ["x" * 41]}, "tags"),
    ({"interval_days": 0}, "interval_days"),
    ({"interval_days": 5000}, "interval_days"),
])
def test_invalid_card_content_is_refused_and_changes_nothing(app, world, fields, error_field):
    with app.app_context():
        card = db.session.get(Card, world["billing_card"].id)
        author = db.session.get(User, world["expert"].id)
        with pytest.raises(operations.InvalidCard) as exc:
            operations.edit_card(card, author=author, **fields)
        assert error_field in exc.value.errors
        db.session.rollback()
        assert db.session.get(Card, card.id).revision_number == 1


def test_every_card_write_lands_in_the_change_feed_in_the_same_transaction(app, world):
    with app.app_context():
        head = db.session.scalar(select(func.max(CardChange.seq)))
        card = db.session.get(Card, world["billing_card"].id)
        author = db.session.get(User, world["expert"].id)
        operations.edit_card(card, author=author, answer="New words.")
        db.session.rollback()  # a rolled-back write leaves no feed row
        assert db.session.scalar(select(func.max(CardChange.seq))) == head
        card = db.session.get(Card, world["billing_card"].id)
        operations.verify_card(card, db.session.get(User, world["expert"].id))
        operations.set_archived(card, author, True)
        db.session.commit()
        rows = db.session.scalars(select(CardChange).where(CardChange.seq > head)).all()
        assert rows and {r.card_id for r in rows} == {card.id}


def test_diff_marks_changed_words_and_lines():
    lines = diff_text("Refunds take 5 days.\nKeep the receipt.", "Refunds take 3 days.\nKeep the receipt.\nNew line.")
    ops = [line.op for line in lines]
    assert ops == ["delete", "insert", "equal", "insert"]
    assert (True, "5") in lines[0].parts and (True, "3") in lines[1].parts
    assert (False, "Refunds take ") in lines[1].parts


def test_history_diff_and_restore_pages(app, world, auth, client):
    auth.login("bianca@example.com")
    card_id = world["billing_card"].id
    page = auth.post(f"/cards/{card_id}/edit", data={
        "title": "How do refunds work?", "answer": "Refunds take 3 business days.", "tags": "refunds",
        "collection": world["billing_coll"].id, "owner": world["expert"].id,
        "verifier_team": world["billing"].id, "interval": "90", "summary": "faster refunds",
        "is_public": "y", "base_revision": "1",
    })
    assert page.status_code == 302
    history = client.get(f"/cards/{card_id}/history").get_data(as_text=True)
    assert "faster refunds" in history and "#2" in history
    diff = client.get(f"/cards/{card_id}/diff?from=1&to=2").get_data(as_text=True)
    assert "Refunds take <del>5</del> days." in diff and "Refunds take <ins>3 business</ins> days." in diff
    assert client.get(f"/cards/{card_id}/diff?from=1&to=9").status_code == 404
    restored = auth.post(f"/cards/{card_id}/revisions/1/restore", follow_redirects=True)
    assert "Restored revision 1 as revision 3" in restored.get_data(as_text=True)
    assert "Refunds take 5 days." in client.get(f"/cards/{card_id}").get_data(as_text=True)


def test_a_stale_editor_cannot_overwrite_a_newer_revision(app, world, auth, client):
    auth.login("bianca@example.com")
    card_id = world["billing_card"].id
    form = {"title": "How do refunds work?", "tags": "", "collection": world["billing_coll"].id,
            "owner": world["expert"].id, "verifier_team": world["billing"].id, "interval": "90"}
    assert auth.post(f"/cards/{card_id}/edit", data={**form, "answer": "First editor.", "base_revision": "1"}
                     ).status_code == 302
    late = auth.post(f"/cards/{card_id}/edit", data={**form, "answer": "Second editor.", "base_revision": "1"})
    assert late.status_code == 400
    assert "Someone saved revision 2" in late.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Card, card_id).answer == "First editor."


def test_creating_a_card_from_the_editor(app, world, auth, client):
    auth.login("bianca@example.com")
    response = auth.post("/cards/new", data={
        "title": "Can I pay with PayPal?", "answer": "Yes, at checkout.", "tags": "payments, PayPal",
        "collection": world["billing_coll"].id, "owner": world["expert"].id, "verifier_team": world["billing"].id,
        "interval": "custom", "custom_days": "45", "is_public": "y",
    })
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Can I pay with PayPal?" in page and "Draft" in page and "every 45 days" in page
    with app.app_context():
        card = db.session.scalar(select(Card).filter_by(title="Can I pay with PayPal?"))
        assert card.tag_names == ["payments", "paypal"] and card.is_public and card.interval_days == 45
    # The editor proposes the collection's defaults: its team, interval and public flag.
    blank = client.get(f"/cards/new?collection={world['billing_coll'].slug}").get_data(as_text=True)
    assert 'checked id="is_public"' in blank or 'id="is_public" checked' in blank


def test_a_card_written_from_a_request_is_verified_by_the_team_asked_and_its_author_is_told_who(
        app, world, auth, client, make_user, make_collection):
    from kb.models import CardRequest, Team
    from kb.search import gaps

    writer = make_user("expert", teams=[world["logistics"]], email="writer@example.com", name="Willa Writer")
    peak = make_collection(world["logistics"], name="Peak season", interval=30)  # also Logistics'
    with app.app_context():
        request = gaps.request_card("loyalti point", db.session.get(Team, world["billing"].id),
                                    db.session.get(User, world["agent"].id))
        db.session.commit()
        request_id = request.id
    auth.login("writer@example.com")
    form = client.get(f"/cards/new?request={request_id}").get_data(as_text=True)
    team = re.search(r'<select[^>]*id="verifier_team".*?</select>', form, re.S).group(0)
    assert re.search(rf'<option selected value="{world["billing"].id}">|<option value="{world["billing"].id}" '
                     r'selected>', team), "the request's team verifies the card"
    response = auth.post("/cards/new", data={
        "title": "Do you have loyalty points?", "answer": "Not yet.", "collection": peak.id,
        "owner": writer.id, "verifier_team": world["billing"].id, "interval": "30", "request": request_id,
        "defaults_from": peak.id})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    # The author cannot verify it: told who will.
    assert f"Billing experts verifies it: {world['expert'].name}." in page and 'data-testid="who-verifies"' in page
    with app.app_context():
        card = db.session.scalar(select(Card).filter_by(title="Do you have loyalty points?"))
        assert card.verifier_team_id == world["billing"].id
        assert db.session.get(CardRequest, request_id).card_id == card.id


def test_a_new_cards_interval_audience_and_verifier_follow_its_collection_until_the_author_sets_them(
        app, world, auth, make_collection):
    auth.login("admin@example.com")
    weekly = make_collection(world["logistics"], name="Holiday peak", interval=7, public=True)
    base = {"answer": "Yes.", "owner": world["expert"].id, "collection": weekly.id,
            # filled with the billing collection's defaults, then the collection was changed
            "defaults_from": world["billing_coll"].id, "verifier_team": world["billing"].id, "interval": "90",
            "is_public": "y"}
    assert auth.post("/cards/new", data={**base, "title": "Left at the defaults?"}).status_code == 302
    assert auth.post("/cards/new", data={**base, "title": "Set by the author?", "interval": "30",
                                         "verifier_team": world["logistics"].id}).status_code == 302
    with app.app_context():
        followed = db.session.scalar(select(Card).filter_by(title="Left at the defaults?"))
        assert (followed.interval_days, followed.is_public, followed.verifier_team_id) == (
            7, True, world["logistics"].id)
        kept = db.session.scalar(select(Card).filter_by(title="Set by the author?"))
        assert (kept.interval_days, kept.verifier_team_id) == (30, world["logistics"].id)


def test_editor_reports_invalid_input_without_saving(app, world, auth):
    auth.login("bianca@example.com")
    response = auth.post("/cards/new", data={
        "title": "", "answer": "", "collection": world["billing_coll"].id, "owner": world["expert"].id,
        "verifier_team": world["billing"].id, "interval": "custom", "custom_days": "",
    })
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "This field is required" in text and "Enter the number of days" in text
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Card)) == 2


def test_card_links_by_stable_key(app, world, auth, client):
    auth.login("agent@example.com")
    with app.app_context():
        key = db.session.get(Card, world["shipping_card"].id).external_id
    response = client.get(f"/cards/by-key/{key}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cards/{world['shipping_card'].id}")
    assert client.get("/cards/by-key/nope").status_code == 404


def test_card_page_serves_the_verified_answer_and_shows_the_pending_edit_beside_it(app, world, auth, client):
    with app.app_context():
        card = db.session.get(Card, world["billing_card"].id)
        expert = db.session.get(User, world["expert"].id)
        operations.verify_card(card, expert, note="Checked the refund SOP", at=utcnow() - timedelta(days=2))
        operations.edit_card(card, author=expert, answer="Refunds take 2 days.")
        db.session.commit()
    auth.login("agent@example.com")
    page = client.get(f"/cards/{world['billing_card'].id}").get_data(as_text=True)
    assert "Needs verification" in page and "Edited since verification" in page
    answer = re.search(r'id="answer">(.*?)</div>', page, re.S).group(1)
    assert "Refunds take 5 days." in answer and "2 days" not in answer  # what the agent tells the customer
    assert "Pending change, not verified yet" in page and "<ins>2</ins>" in page
    assert "revision 2 by Expert" in page or "revision 2 by " in page
    assert "Checked the refund SOP" in page


def test_live_preview_renders_sanitised_markdown(world, auth, client):
    auth.login("bianca@example.com")
    token = auth.csrf_token()
    response = client.post("/cards/preview", json={"text": "**bold** <script>alert(1)</script>"},
                           headers={"X-CSRFToken": token})
    assert response.json["html"] == "<p><strong>bold</strong> </p>"
    assert client.post("/cards/preview", json={"text": "x"}).status_code == 400  # no CSRF token


def test_an_archived_card_cannot_be_verified(app, world, auth, client):
    auth.login("bianca@example.com")
    card_id = world["billing_card"].id
    auth.post(f"/cards/{card_id}/archive")
    response = auth.post(f"/cards/{card_id}/verify", data={"note": "checked"})
    assert response.status_code == 400 and "restore it from the archive" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Card, card_id).verified_at is None

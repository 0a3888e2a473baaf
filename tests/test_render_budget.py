"""Markdown's cost is bounded: a pathological answer is refused quickly, everywhere it could be rendered,
and readers use the HTML stored with each revision instead of rendering on every view."""
import json
from datetime import timedelta

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, update

from kb.cards import operations
from kb.channels import tokens
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, Revision

BRACKETS = "[" * 20_000  # took over a minute to render before the bound


@pytest.fixture
def kb(app, make_team, make_user, make_collection, make_card):
    team = make_team("Billing experts")
    expert = make_user("expert", teams=[team], email="expert@example.com")
    public = make_collection(team, name="Payments", public=True)
    card = make_card(public, expert, title="When will I get my refund?", answer="Refunds take **5 days**.",
                     verified_at=utcnow() - timedelta(days=1))
    with app.app_context():
        _, secret = tokens.create("chatbot", [tokens.PUBLIC_READ])
        db.session.commit()
    return dict(expert=expert, public=public, card=card, token=f"Bearer {secret}")


def _revisions(app, card_id):
    with app.app_context():
        return [(r.number, r.answer, r.answer_html) for r in
                db.session.scalars(select(Revision).filter_by(card_id=card_id).order_by(Revision.number))]


def test_a_pathological_preview_gets_a_clear_refusal_instead_of_a_hung_worker(client, auth, kb):
    auth.login("expert@example.com")
    response = client.post("/cards/preview", json={"text": BRACKETS},
                           headers={"X-CSRFToken": auth.csrf_token()})
    assert response.status_code == 200
    body = response.get_json()
    assert body["error"].startswith("This answer is too complex to display (")
    assert "simplify its brackets/nesting" in body["error"]
    assert "too complex to display" in body["html"]  # what the editor shows in place of the preview
    normal = client.post("/cards/preview", json={"text": "**bold** [a link](https://example.com)"},
                         headers={"X-CSRFToken": auth.csrf_token()}).get_json()
    assert "<strong>bold</strong>" in normal["html"] and "error" not in normal


@pytest.mark.parametrize("text", [BRACKETS, "[a](" * 1000, "[" * 30 + "x" + "]" * 30])
def test_saving_a_pathological_answer_is_refused_and_changes_nothing(app, client, auth, kb, text):
    card = kb["card"]
    before = _revisions(app, card.id)
    auth.login("expert@example.com")
    page = client.get(f"/cards/{card.id}/edit").get_data(as_text=True)
    form = {"title": card.title, "answer": text, "internal_notes": "", "tags": "",
            "collection": kb["public"].id, "owner": kb["expert"].id, "verifier_team": kb["public"].team_id,
            "interval": "90", "base_revision": "1", "summary": "", "is_public": "y"}
    assert 'name="answer"' in page
    response = auth.post(f"/cards/{card.id}/edit", data=form)
    assert response.status_code == 400
    assert "too complex to display" in response.get_data(as_text=True)
    assert _revisions(app, card.id) == before
    with app.app_context():
        assert db.session.get(Card, card.id).answer == "Refunds take **5 days**."


def test_notes_are_bounded_too_on_save_and_on_the_page(app, auth_for, kb):
    with app.app_context():
        card = db.session.get(Card, kb["card"].id)
        with pytest.raises(operations.InvalidCard) as refused:
            operations.edit_card(card, author=card.owner, internal_notes=BRACKETS)
        assert "too complex to display" in refused.value.errors["internal_notes"]
        db.session.rollback()
        # Notes saved before the bound (straight into the table) show a notice, not a hung page.
        db.session.execute(update(Card).where(Card.id == card.id).values(internal_notes=BRACKETS))
        db.session.commit()
    client = app.test_client()
    auth_for(client).login("expert@example.com")
    page = client.get(f"/cards/{kb['card'].id}").get_data(as_text=True)
    assert "This text is too complex to display (" in page


def test_import_refuses_a_pathological_answer_with_its_line(app, runner, kb, tmp_path):
    path = tmp_path / "cards.jsonl"
    path.write_text(json.dumps({"title": "Brackets?", "answer": BRACKETS, "collection": "Payments",
                                "owner_email": "expert@example.com"}) + "\n", encoding="utf-8")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code != 0
    assert "too complex to display" in result.output
    with app.app_context():
        assert db.session.scalar(select(Card).filter_by(title="Brackets?")) is None


def test_a_revision_saved_before_stored_html_renders_once_and_keeps_its_html(app, client, auth, kb):
    card = kb["card"]
    with app.app_context():
        db.session.execute(update(Revision).values(answer_html=None))
        db.session.commit()
    auth.login("expert@example.com")
    page = client.get(f"/cards/{card.id}").get_data(as_text=True)
    assert "<strong>5 days</strong>" in page
    [(_, _, stored)] = _revisions(app, card.id)
    assert stored is not None and "<strong>5 days</strong>" in stored


def test_the_faq_the_api_and_the_card_page_serve_the_stored_html(app, client, auth, kb):
    card = kb["card"]
    with app.app_context():
        db.session.execute(update(Revision).where(Revision.card_id == card.id)
                           .values(answer_html="<p>Stored <em>rendering</em></p>"))
        db.session.commit()
    faq = client.get(f"/faq/cards/{card.id}", follow_redirects=True).get_data(as_text=True)
    assert "Stored <em>rendering</em>" in faq
    api = client.get(f"/api/v1/cards/{card.id}", headers={"Authorization": kb["token"]}).get_json()
    assert api["answer_html"] == "<p>Stored <em>rendering</em></p>"
    auth.login("expert@example.com")
    assert "Stored <em>rendering</em>" in client.get(f"/cards/{card.id}").get_data(as_text=True)


def test_the_migration_fills_the_stored_html_of_existing_revisions(app, kb):
    with app.app_context():
        downgrade(revision="0006")
        upgrade()
        [html] = db.session.scalars(select(Revision.answer_html).filter_by(card_id=kb["card"].id))
        assert "<strong>5 days</strong>" in html
        assert db.session.scalar(select(Card.version).filter_by(id=kb["card"].id)) >= 1

"""Hostile input: control characters, look-alike e-mails, bidirectional overrides, broken files on the CLI.

Tests run on SQLite, which would store a NUL silently (PostgreSQL refuses it with a 500): so each test
asserts the 400 and that nothing changed. tests/test_postgres.py posts the same on PostgreSQL.
"""

import pytest
from sqlalchemy import func, select

from kb.extensions import db
from kb.models import Card, Flag, Revision, SearchEvent, User


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def edit_form(world, **changes):
    return {"title": "How do refunds work?", "answer": "Refunds take 3 days.", "tags": "", "interval": "90",
            "collection": world["billing_coll"].id, "owner": world["expert"].id,
            "verifier_team": world["billing"].id, "base_revision": "1", **changes}


# -- 1. Control characters refused with a 400, before any query --------------------------------------

@pytest.mark.parametrize("q", ["refund\x00", "\x00", "refund\x1b[31m", "refund\x7f"])
def test_a_search_with_a_control_character_is_a_400_and_logs_nothing(app, world, auth, client, q):
    auth.login("agent@example.com")
    before = count(app, SearchEvent)
    page = client.get("/search", query_string={"q": q})
    assert page.status_code == 400
    assert "control character" in page.get_data(as_text=True)
    assert count(app, SearchEvent) == before


def test_tab_and_line_breaks_are_still_welcome(app, world, auth, client):
    auth.login("bianca@example.com")
    card_id = world["billing_card"].id
    saved = auth.post(f"/cards/{card_id}/edit", data=edit_form(world, answer="Refunds:\r\n\tthree days."))
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(Card, card_id).answer == "Refunds:\n\tthree days."


@pytest.mark.parametrize("field", ["title", "answer", "summary"])
def test_a_card_save_with_nul_is_a_400_and_changes_nothing(app, world, auth, field):
    auth.login("bianca@example.com")
    card_id = world["billing_card"].id
    revisions = count(app, Revision)
    page = auth.post(f"/cards/{card_id}/edit", data=edit_form(world, **{field: "Refunds\x00 take 3 days."}))
    assert page.status_code == 400
    assert f"“{field}”" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Card, card_id).answer == "Refunds take 5 days."
    assert count(app, Revision) == revisions


def test_a_flag_comment_with_nul_is_a_400_and_raises_no_flag(app, world, auth):
    auth.login("agent@example.com")
    page = auth.post(f"/cards/{world['billing_card'].id}/flags", data={"kind": "incorrect", "comment": "old\x00"})
    assert page.status_code == 400
    assert count(app, Flag) == 0


@pytest.fixture
def api_token(app, world):
    from kb.channels import tokens

    with app.app_context():
        _, secret = tokens.create("agent tool", [tokens.INTERNAL_READ, tokens.FLAGS_WRITE],
                                  db.session.get(User, world["admin"].id))
        db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_the_api_refuses_nul_in_json_and_query_with_its_own_error_format(app, world, client, api_token):
    url = f"/api/v1/cards/{world['billing_card'].id}/flags"
    for body in ({"kind": "incorrect", "comment": "old\x00"}, {"kind": "incorrect", "comment": "\ud800"},
                 {"kind": "incorrect", "extra": [{"deep": "\x01"}]}):
        refused = client.post(url, json=body, headers=api_token)
        assert refused.status_code == 400, body
        assert refused.get_json()["error"]["code"] == "invalid_parameter"
    search = client.get("/api/v1/search", query_string={"q": "refund\x00"}, headers=api_token)
    assert search.status_code == 400 and search.get_json()["error"] == {
        "code": "invalid_parameter", "field": "q",
        "message": "q contains a control character (U+0000, position 7); remove it and try again"}
    assert count(app, Flag) == 0 and count(app, SearchEvent) == 0


def test_deeply_nested_json_is_a_400_not_a_recursion_error(app, world, client, api_token):
    url = f"/api/v1/cards/{world['billing_card'].id}/flags"
    for depth in (40, 100_000):
        body = "[" * depth + "]" * depth
        refused = client.post(url, data=body, content_type="application/json", headers=api_token)
        assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "invalid_parameter"
    assert count(app, Flag) == 0


def test_nul_in_a_url_path_is_a_400(client, world):
    assert client.get("/cards/by-key/abc%00def").status_code == 400

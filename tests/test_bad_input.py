"""Bad input gets a clear error and changes nothing: no form or URL answers a 500."""
import pytest
from sqlalchemy import func, select

from kb.extensions import db
from kb.models import AuditEvent, Card, Collection, Revision, Team, User

GARBAGE = [
    {},
    {"title": "x" * 5000, "answer": "y" * 30_000, "collection": "abc", "owner": "-1", "verifier_team": "9999",
     "interval": "nope", "custom_days": "-5", "base_revision": "zz"},
    {"title": "\x00\ud7ff", "answer": "\x00", "collection": "999999", "owner": "1", "verifier_team": "1",
     "interval": "custom", "custom_days": "999999"},
    {"email": "not-an-email", "name": "", "role": "emperor", "teams": ["x", "999"], "expires_on": "31/12/2026",
     "password": "x", "user": "nobody", "is_lead": "maybe", "default_interval_days": "0", "slug": "Ünïcode slug",
     "team": "none", "note": "n" * 5000, "source_url": "javascript:alert(1)", "kind": "spam", "comment": "c" * 3000,
     "cards": ["1", "x", "-5"], "action": "delete", "reason": "r" * 3000, "id": "abc", "next": "//evil.example.org"},
]
POST_URLS = ["/cards/new", "/cards/{card}/edit", "/cards/{card}/verify", "/cards/{card}/archive",
             "/cards/{card}/revisions/99/restore", "/admin/users/new", "/admin/users/{user}", "/admin/teams",
             "/admin/teams/{team}", "/admin/collections/new", "/admin/collections/{coll}", "/login",
             "/cards/{card}/flags", "/flags/1/dismiss", "/verification/queue", "/notifications/read"]
GET_URLS = ["/cards/{card}/diff?from=abc&to=-1", "/cards/{card}/diff?from=99", "/cards/{card}/revisions/0",
            "/collections/%00", "/cards/by-key/%E2%80%AE", "/collections/orders?archived=%ff",
            "/cards/99999999999999999999",
            "/cards/9223372036854775807/history",
            "/admin/users/0", "/admin/teams/0", "/admin/collections/0"]


def _snapshot(app):
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m))
                     for m in (Card, Revision, Collection, User, Team, AuditEvent))


@pytest.mark.parametrize("url", POST_URLS)
@pytest.mark.parametrize("data", GARBAGE)
def test_garbage_posts_are_refused_without_changes(app, world, auth, url, data):
    auth.login("admin@example.com")
    before = _snapshot(app)
    ids = {"card": world["billing_card"].id, "user": world["agent"].id, "team": world["billing"].id,
           "coll": world["billing_coll"].id}
    response = auth.post(url.format(**ids), data=data)
    assert response.status_code < 500, response.get_data(as_text=True)[:500]
    if url.endswith("/archive") or url.endswith("/notifications/read"):
        return  # these need no input: any body archives, or marks notifications read
    after = _snapshot(app)
    assert after[:5] == before[:5], url
    if "/verify" in url and "source_url" in data:
        assert response.status_code == 400  # a javascript: source link and an overlong note are refused


@pytest.mark.parametrize("url", GET_URLS)
def test_garbage_urls_are_a_clear_4xx(world, auth, client, url):
    auth.login("admin@example.com")
    response = client.get(url.format(card=world["billing_card"].id))
    assert 200 <= response.status_code < 500


def test_oversized_request_is_413(world, auth, client):
    auth.login("admin@example.com")
    response = client.post("/cards/preview", data="x" * (3 * 1024 * 1024), content_type="application/json")
    assert response.status_code == 413

"""Each role against each action: allowed actions succeed, forbidden ones are a 403 and change nothing."""
import pytest
from sqlalchemy import func, select

from kb.extensions import db
from kb.models import Card, Collection, User

# (role key in `world`, may edit the billing card, may verify it, may open admin pages)
ROLES = [
    ("agent", False, False, False),
    ("expert", True, True, False),         # billing expert: owning and verifying team
    ("other_expert", False, False, False),  # logistics expert: another team's card
    ("admin", True, True, True),
]


def _login(auth, world, who):
    auth.login(world[who].email)


@pytest.mark.parametrize("who, may_edit, may_verify, may_admin", ROLES)
def test_edit_page(world, auth, client, who, may_edit, may_verify, may_admin):
    _login(auth, world, who)
    response = client.get(f"/cards/{world['billing_card'].id}/edit")
    assert response.status_code == (200 if may_edit else 403)
    if not may_edit:
        assert "not allowed" in response.get_data(as_text=True)


@pytest.mark.parametrize("who, may_edit, may_verify, may_admin", ROLES)
def test_edit_post(app, world, auth, who, may_edit, may_verify, may_admin):
    _login(auth, world, who)
    response = auth.post(f"/cards/{world['billing_card'].id}/edit", data={
        "title": "Hijacked?", "answer": "x", "collection": world["billing_coll"].id, "owner": world["expert"].id,
        "verifier_team": world["billing"].id, "interval": "90", "base_revision": "1"})
    assert response.status_code == (302 if may_edit else 403)
    with app.app_context():
        assert (db.session.get(Card, world["billing_card"].id).title == "Hijacked?") is may_edit


@pytest.mark.parametrize("who, may_edit, may_verify, may_admin", ROLES)
def test_verify(app, world, auth, who, may_edit, may_verify, may_admin):
    _login(auth, world, who)
    response = auth.post(f"/cards/{world['billing_card'].id}/verify", data={"note": "checked"})
    assert response.status_code == (302 if may_verify else 403)
    with app.app_context():
        assert (db.session.get(Card, world["billing_card"].id).verified_at is not None) is may_verify


@pytest.mark.parametrize("who, may_edit, may_verify, may_admin", ROLES)
def test_create_card_in_a_collection(app, world, auth, client, who, may_edit, may_verify, may_admin):
    _login(auth, world, who)
    response = auth.post("/cards/new", data={
        "title": "New?", "answer": "x", "collection": world["billing_coll"].id, "owner": world["expert"].id,
        "verifier_team": world["billing"].id, "interval": "90"})
    # Agents have no collection to write in at all; the other expert cannot pick billing's collection.
    assert response.status_code in ((302,) if may_edit else (400, 403))
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Card).filter_by(title="New?")) == int(may_edit)


@pytest.mark.parametrize("who, may_edit, may_verify, may_admin", ROLES)
def test_archive_and_restore(app, world, auth, who, may_edit, may_verify, may_admin):
    _login(auth, world, who)
    card_id = world["billing_card"].id
    assert auth.post(f"/cards/{card_id}/archive").status_code == (302 if may_edit else 403)
    assert auth.post(f"/cards/{card_id}/revisions/1/restore").status_code == (302 if may_edit else 403)
    with app.app_context():
        assert db.session.get(Card, card_id).is_archived is may_edit


@pytest.mark.parametrize("who, may_edit, may_verify, may_admin", ROLES)
@pytest.mark.parametrize("url", ["/admin/users", "/admin/users/new", "/admin/teams", "/admin/collections",
                                 "/admin/collections/new", "/admin/audit"])
def test_admin_pages(world, auth, client, who, may_edit, may_verify, may_admin, url):
    _login(auth, world, who)
    assert client.get(url).status_code == (200 if may_admin else 403)


@pytest.mark.parametrize("who, may_edit, may_verify, may_admin", ROLES)
def test_admin_writes(app, world, auth, who, may_edit, may_verify, may_admin):
    _login(auth, world, who)
    response = auth.post("/admin/users/new", data={"email": "new@example.com", "name": "New", "role": "admin",
                                                   "password": "long-enough-1"})
    assert response.status_code == (302 if may_admin else 403)
    response = auth.post("/admin/collections/new", data={"name": "Loyalty", "team": world["billing"].id,
                                                         "default_interval_days": "90"})
    assert response.status_code == (302 if may_admin else 403)
    with app.app_context():
        assert (db.session.scalar(select(User).filter_by(email="new@example.com")) is not None) is may_admin
        assert (db.session.scalar(select(Collection).filter_by(name="Loyalty")) is not None) is may_admin


@pytest.mark.parametrize("who", ["agent", "expert", "other_expert", "admin"])
def test_everyone_signed_in_can_read(world, auth, client, who):
    _login(auth, world, who)
    card_id = world["billing_card"].id
    for url in ["/", f"/collections/{world['billing_coll'].slug}", f"/cards/{card_id}",
                f"/cards/{card_id}/history", f"/cards/{card_id}/diff?from=1&to=1", f"/cards/{card_id}/revisions/1"]:
        assert client.get(url).status_code == 200, url


def test_agents_see_no_edit_or_verify_buttons(world, auth, client):
    auth.login("agent@example.com")
    page = client.get(f"/cards/{world['billing_card'].id}").get_data(as_text=True)
    assert "/edit" not in page and "/verify" not in page
    auth.logout()
    auth.login("bianca@example.com")
    page = client.get(f"/cards/{world['billing_card'].id}").get_data(as_text=True)
    assert "/edit" in page and "/verify" in page

"""Admin pages for users, teams and collections; every change lands in the audit trail."""
from sqlalchemy import select

from kb.extensions import db
from kb.models import AuditEvent, Collection, Membership, User


def audit_actions(app):
    with app.app_context():
        return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_create_a_seasonal_user_in_a_team(app, world, auth, client):
    auth.login("admin@example.com")
    response = auth.post("/admin/users/new", data={
        "email": "Hire@Example.com", "name": "Q4 Hire", "role": "agent", "teams": [world["logistics"].id],
        "expires_on": "2027-01-31", "password": "long-enough-1"})
    assert response.status_code == 302
    assert "Q4 Hire" in client.get("/admin/users").get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(select(User).filter_by(email="hire@example.com"))
        assert str(user.expires_on) == "2027-01-31" and [t.name for t in user.teams] == ["Logistics experts"]
    assert "user.create" in audit_actions(app)


def test_user_form_errors_change_nothing(app, world, auth):
    auth.login("admin@example.com")
    response = auth.post("/admin/users/new", data={"email": "agent@example.com", "name": "Dup", "role": "agent",
                                                   "password": "short"})
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "Is already in use" in text and "At least 8 characters" in text
    with app.app_context():
        assert db.session.scalar(select(User).filter_by(name="Dup")) is None


def test_edit_user_role_teams_and_deactivate(app, world, auth):
    auth.login("admin@example.com")
    agent = world["agent"]
    response = auth.post(f"/admin/users/{agent.id}", data={
        "email": agent.email, "name": "Promoted", "role": "expert", "teams": [world["billing"].id]})
    assert response.status_code == 302  # "active" unchecked: deactivated
    with app.app_context():
        user = db.session.get(User, agent.id)
        assert (user.name, user.role, user.active) == ("Promoted", "expert", False)
        assert [t.name for t in user.teams] == ["Billing experts"]
    assert {"user.update", "team.add_member"} <= set(audit_actions(app))


def test_admin_cannot_demote_or_deactivate_themselves(app, world, auth):
    auth.login("admin@example.com")
    admin = world["admin"]
    response = auth.post(f"/admin/users/{admin.id}", data={"email": admin.email, "name": admin.name, "role": "agent",
                                                           "active": "y"})
    assert response.status_code == 400 and "cannot change your own role" in response.get_data(as_text=True)


def test_team_membership_and_leads(app, world, auth, client):
    auth.login("admin@example.com")
    team_id, agent_id = world["billing"].id, world["agent"].id
    assert auth.post("/admin/teams", data={"name": "Billing experts"}).status_code == 400  # duplicate name
    assert auth.post(f"/admin/teams/{team_id}", data={"user": agent_id, "is_lead": "y"}).status_code == 302
    with app.app_context():
        assert db.session.get(Membership, (agent_id, team_id)).is_lead
    assert auth.post(f"/admin/teams/{team_id}/members/{agent_id}/remove").status_code == 302
    with app.app_context():
        assert db.session.get(Membership, (agent_id, team_id)) is None
    assert {"team.add_member", "team.remove_member"} <= set(audit_actions(app))
    assert "team.add_member" in client.get("/admin/audit").get_data(as_text=True)


def test_collections_create_edit_and_validate(app, world, auth, client):
    auth.login("admin@example.com")
    response = auth.post("/admin/collections/new", data={"name": "Loyalty programme", "team": world["billing"].id,
                                                         "default_interval_days": "30", "is_public": "y"})
    assert response.status_code == 302
    with app.app_context():
        coll = db.session.scalar(select(Collection).filter_by(slug="loyalty-programme"))
        assert coll.is_public and coll.default_interval_days == 30
    clash = auth.post(f"/admin/collections/{coll.id}", data={
        "name": "Loyalty programme", "slug": world["billing_coll"].slug, "team": world["billing"].id,
        "default_interval_days": "30"})
    assert clash.status_code == 400 and "Another collection already uses" in clash.get_data(as_text=True)
    bad = auth.post(f"/admin/collections/{coll.id}", data={"name": "Loyalty", "slug": "Bad Slug!",
                                                           "team": world["billing"].id, "default_interval_days": "30"})
    assert bad.status_code == 400 and "lower-case letters" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Collection, coll.id).slug == "loyalty-programme"
    assert "Loyalty programme" in client.get("/").get_data(as_text=True)

"""Signing in and out, redirects, CSRF, and accounts that stop working."""
from datetime import date, timedelta

import pytest

from kb import create_app
from kb.accounts import operations
from kb.extensions import db
from kb.models import User


@pytest.mark.parametrize("url", ["/", "/collections/x", "/cards/1", "/cards/1/edit", "/cards/new", "/cards/1/history",
                                 "/admin/users", "/admin/audit"])
def test_every_page_needs_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


def test_login_page_and_static_files_are_public(client):
    assert client.get("/login").status_code == 200
    with client.get("/static/kb.css") as response:
        assert response.status_code == 200


def test_login_then_back_to_the_page_asked_for(world, auth):
    response = auth.login("agent@example.com", next_url="/cards/1")
    assert response.status_code == 302 and response.headers["Location"] == "/cards/1"


@pytest.mark.parametrize("target", ["https://evil.example.org/", "//evil.example.org/x", "/\\evil.example.org",
                                    "javascript:alert(1)", "http://localhost.evil.example.org/",
                                    "http:/evil.example.org", "https:evil.example.org", "/\t/evil.example.org",
                                    "evil.example.org", "/%0d%0aSet-Cookie:x=1"])
def test_next_never_leaves_the_site(world, auth, target):
    response = auth.login("agent@example.com", next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_wrong_password_is_refused(world, auth, client):
    response = auth.login("agent@example.com", password="wrong-password")
    assert response.status_code == 400
    assert "Wrong e-mail or password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_logout_needs_a_post_with_csrf(world, auth, client):
    auth.login("agent@example.com")
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400  # no CSRF token: refused, still signed in
    assert client.get("/").status_code == 200
    auth.logout()
    assert client.get("/").status_code == 302


@pytest.mark.parametrize("url, data", [
    ("/login", {"email": "agent@example.com", "password": "correct-horse-1"}),
    ("/cards/1/verify", {"note": "x"}),
    ("/cards/1/archive", {}),
    ("/admin/teams", {"name": "Sneaky"}),
])
def test_forms_without_csrf_token_are_rejected(world, auth, client, url, data):
    if url != "/login":
        auth.login("admin@example.com")
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_deactivated_user_is_signed_out_on_next_request(app, world, auth, client):
    auth.login("agent@example.com")
    assert client.get("/").status_code == 200
    with app.app_context():
        admin = db.session.get(User, world["admin"].id)
        agent = db.session.get(User, world["agent"].id)
        operations.update_user(agent, actor=admin, email=agent.email, name=agent.name, role="agent", active=False,
                               expires_on=None)
        db.session.commit()
    assert client.get("/").status_code == 302
    response = auth.login("agent@example.com")
    assert response.status_code == 400 and "deactivated" in response.get_data(as_text=True)


def test_expired_seasonal_account_cannot_sign_in(make_user, auth):
    make_user("agent", email="seasonal@example.com", expires_on=date.today() - timedelta(days=2))
    response = auth.login("seasonal@example.com")
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)


def test_password_change_signs_out_other_sessions(app, world, auth, client):
    auth.login("agent@example.com")
    with app.app_context():
        agent = db.session.get(User, world["agent"].id)
        agent.set_password("a-new-password-2")
        db.session.commit()
    assert client.get("/").status_code == 302


def test_session_cookie_is_secure_httponly_and_samesite_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_SESSION_COOKIE_SECURE", raising=False)
    app = create_app({"SECRET_KEY": "s"}, instance_path=tmp_path)
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax" and app.config["REMEMBER_COOKIE_SECURE"]


def test_session_cookie_flags_on_login(world, auth):
    response = auth.login("agent@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_script_signed_out_gets_a_json_401_a_browser_the_sign_in_page(world, client):
    card_id = world["billing_card"].id
    answer = client.get(f"/cards/{card_id}/answer.json")
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "unauthorized"
    preview = client.post("/cards/preview", json={"text": "x"})
    assert preview.status_code in (400, 401)  # CSRF or sign-in: never the HTML sign-in page as a 302
    page = client.get(f"/cards/{card_id}", headers={"Accept": "text/html"})
    assert page.status_code == 302 and "/login" in page.headers["Location"]

"""Sign-in under attack: throttled guessing, refused weak passwords, refusals that tell nothing, sign-out that
ends the session on the server, a fresh CSRF secret at sign-in, and error pages that survive a broken session."""
import re
import sys
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import select, text

from kb.extensions import db
from kb.models import User

WRONG = "not-the-password-1"


@pytest.fixture
def app(make_app):
    """Rate limits on, whatever the suite's defaults become: several tests here are about them."""
    return make_app(RATELIMIT_ENABLED=True)


def attempt(client, email, password=WRONG, address="10.0.0.1", csrf=None):
    """One sign-in POST from `address`, with a token from the sign-in page as a browser would send it."""
    if csrf is None:
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf},
                       environ_base={"REMOTE_ADDR": address})


# -- Throttling -------------------------------------------------------------------------------------------------

def test_guessing_one_accounts_password_is_stopped_from_any_address(world, client):
    for n in range(5):
        assert attempt(client, "agent@example.com", address=f"10.0.0.{n}").status_code == 400
    response = attempt(client, "Agent@Example.com", address="10.0.0.99")  # the same account, spelt otherwise
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert re.search(r"Too many attempts; try again in \d+ seconds\.", page) and "Sign in" in page
    assert 0 < int(response.headers["Retry-After"]) <= 60
    # Not even the right password gets through meanwhile: otherwise a guesser would learn it all the same.
    assert attempt(client, "agent@example.com", "correct-horse-1", address="10.0.0.98").status_code == 429
    # Another account is not held back by it.
    assert attempt(client, "admin@example.com", "correct-horse-1", address="10.0.0.97").status_code == 302


def test_one_address_guessing_many_accounts_is_stopped(world, client):
    for n in range(10):
        assert attempt(client, f"nobody{n}@example.com").status_code == 400
    assert attempt(client, "agent@example.com", "correct-horse-1").status_code == 429
    assert attempt(client, "agent@example.com", "correct-horse-1", address="10.0.0.2").status_code == 302


def test_successful_sign_ins_do_not_count_against_the_limits(world, client):
    for _ in range(12):
        assert attempt(client, "agent@example.com", "correct-horse-1").status_code == 302
        client.post("/logout", data={"csrf_token": _token(client)})


def test_the_limits_are_settings(make_app):
    app = make_app("strict", RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT_ACCOUNT="2 per minute",
                   LOGIN_RATE_LIMIT_ADDRESS="100 per minute")
    with app.app_context():
        from kb.accounts import operations

        operations.create_user(email="kim@example.com", name="Kim", role="agent", password="correct-horse-1")
        db.session.commit()
    client = app.test_client()
    assert [attempt(client, "kim@example.com").status_code for _ in range(3)] == [400, 400, 429]


def _token(client):
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


# -- Passwords ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("password, reason", [
    ("password", "Is a common password"),
    ("Password1!", "Is a common password"),
    ("p@ssw0rd", "Is a common password"),
    ("Qwerty2024", "Is a common password"),
    ("priyashah99", "Is too close to your e-mail address or name"),
    ("Shah.Priya!", "Is too close to your e-mail address or name"),
    ("short1", "At least 8 characters"),
])
def test_admin_cannot_give_an_account_a_weak_password(app, world, auth, password, reason):
    auth.login("admin@example.com")
    response = auth.post("/admin/users/new", data={"email": "priya.shah@example.com", "name": "Priya Shah",
                                                   "role": "admin", "password": password})
    assert response.status_code == 400 and reason in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(User).filter_by(email="priya.shah@example.com")) is None


def test_admin_cannot_change_a_password_to_a_common_one(app, world, auth):
    auth.login("admin@example.com")
    agent = world["agent"]
    response = auth.post(f"/admin/users/{agent.id}", data={"email": agent.email, "name": agent.name,
                                                           "role": "agent", "active": "y", "password": "iloveyou1"})
    assert response.status_code == 400 and "Is a common password" in response.get_data(as_text=True)
    assert attempt(auth.client, "agent@example.com", "correct-horse-1").status_code == 302


def test_cli_create_user_refuses_a_common_password(app, runner):
    result = runner.invoke(args=["create-user", "--email", "root@example.com", "--name", "Root", "--role", "admin",
                                 "--password", "Password123"])
    assert result.exit_code == 1 and "common password" in result.output
    with app.app_context():
        assert db.session.scalar(select(User).filter_by(email="root@example.com")) is None


def test_set_password_link_refuses_a_common_password(app, world, client):
    from kb.accounts import links

    with app.app_context():
        secret = links.issue(db.session.get(User, world["agent"].id)).secret
        db.session.commit()
    csrf = _token(client)
    response = client.post(f"/set-password/{secret}", data={"password": "p@ssword1", "confirm": "p@ssword1",
                                                            "csrf_token": csrf})
    assert response.status_code == 400 and "common password" in response.get_data(as_text=True)
    response = client.post(f"/set-password/{secret}", data={"password": "a-new-password", "confirm": "a-new-password",
                                                            "csrf_token": csrf})
    assert response.status_code == 302  # the link stayed good for a better password


def test_the_demo_passwords_and_ordinary_ones_pass(app):
    from kb import demo
    from kb.accounts import operations
    from kb.demo_content import USERS

    names = {u["email"]: u["name"] for u in USERS}
    with app.app_context():
        for email, password, _role in demo.demo_accounts():
            assert operations.password_problem(password, email=email, name=names[email]) is None
        assert operations.password_problem("correct-horse-1", email="leo@example.com", name="Leo Fischer") is None


# -- Refusals that tell nothing --------------------------------------------------------------------------------

def count_hash_checks(client, email, password):
    """Sign in once, counting the calls of werkzeug's check_password_hash (a profiler hook, not a mock)."""
    calls = []

    def profile(frame, event, arg):
        if event == "call" and frame.f_code.co_name == "check_password_hash" and "werkzeug" in frame.f_code.co_filename:
            calls.append(1)

    csrf = _token(client)
    sys.setprofile(profile)
    try:
        response = attempt(client, email, password, csrf=csrf)
    finally:
        sys.setprofile(None)
    return response, len(calls)


def test_an_unknown_email_costs_the_same_password_check_as_a_wrong_password(app, world, client):
    from kb.accounts.operations import UNUSABLE_PASSWORD  # an imported hire's, before their set-password link

    with app.app_context():
        db.session.get(User, world["other_expert"].id).password_hash = UNUSABLE_PASSWORD
        db.session.commit()
    results = {email: count_hash_checks(client, email, WRONG)
               for email in ("agent@example.com", "nobody@example.com", "leo@example.com")}
    assert {checks for _, checks in results.values()} == {1}
    # The same page but for the e-mail typed in and the CSRF token (both in attributes).
    pages = {re.sub(r'(value|content)="[^"]*"', "", r.get_data(as_text=True)) for r, _ in results.values()}
    assert {r.status_code for r, _ in results.values()} == {400} and len(pages) == 1
    assert "Wrong e-mail or password." in pages.pop()


# -- Signing out --------------------------------------------------------------------------------------------------

def signed_in_cookies(app, email="agent@example.com"):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": "correct-horse-1", "remember": "y",
                                           "csrf_token": _token(client)})
    assert response.status_code == 302
    return client, client.get_cookie("session").value, client.get_cookie("remember_token").value


def page_with(app, name, value):
    """Open the home page from a fresh browser that holds only this one cookie."""
    other = app.test_client()
    other.set_cookie(name, value)
    return other.get("/")


def test_signing_out_ends_the_session_and_the_remember_cookie_copied_before(app, world):
    client, session_cookie, remember_cookie = signed_in_cookies(app)
    assert page_with(app, "session", session_cookie).status_code == 200
    assert page_with(app, "remember_token", remember_cookie).status_code == 200
    response = client.post("/logout", data={"csrf_token": _token(client)}, follow_redirects=True)
    assert "You are signed out (on every device)." in response.get_data(as_text=True)
    for name, value in (("session", session_cookie), ("remember_token", remember_cookie)):
        response = page_with(app, name, value)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("change", ["admin", "link"])
def test_a_new_password_ends_the_remember_cookie_too(app, world, auth, change):
    _client, _session, remember_cookie = signed_in_cookies(app)
    with app.app_context():
        agent = db.session.get(User, world["agent"].id)
        if change == "admin":
            from kb.accounts import operations

            operations.update_user(agent, actor=None, email=agent.email, name=agent.name, role=agent.role,
                                   active=True, expires_on=None, password="a-fresh-password-2")
        else:
            from kb.accounts import links

            links.redeem(links.issue(agent).secret, "a-fresh-password-2")
        db.session.commit()
    assert page_with(app, "remember_token", remember_cookie).status_code == 302


def test_keep_me_signed_in_lasts_two_weeks_httponly_and_lax(app, world):
    client = app.test_client()
    response = client.post("/login", data={"email": "agent@example.com", "password": "correct-horse-1",
                                           "remember": "y", "csrf_token": _token(client)})
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    assert expires < datetime.now(timezone.utc) + timedelta(days=15)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_remember_cookie_is_secure_when_the_session_cookie_is(make_app):
    app = make_app("secure", SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=None)
    assert app.config["REMEMBER_COOKIE_SECURE"] is True


# -- CSRF at sign-in ------------------------------------------------------------------------------------------

def test_a_csrf_token_from_before_sign_in_is_refused_after_it(world, client):
    before = _token(client)
    assert attempt(client, "agent@example.com", "correct-horse-1", csrf=before).status_code == 302
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 400 and "Form expired" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # still signed in: the stale form did nothing


# -- Error pages after a database error ---------------------------------------------------------------------

def app_with_failing_route(make_app, failure):
    app = make_app("failing")

    def fail():
        failure()
        return "unreachable"

    app.add_url_rule("/test-only/fail", "test_only_fail", fail)
    with app.app_context():
        from kb.accounts import operations

        operations.create_user(email="ana@example.com", name="Ana", role="agent", password="correct-horse-1")
        db.session.commit()
    client = app.test_client()
    assert attempt(client, "ana@example.com", "correct-horse-1").status_code == 302
    return client


def duplicate_account():
    """A failed flush: the session refuses every query until it is rolled back."""
    db.session.add(User(email="ana@example.com", name="Twin", role="agent", password_hash="!unset"))
    db.session.flush()


def notifications_table_gone():
    """A real OperationalError, and the header's unread count can no longer be read either."""
    db.session.execute(text("ALTER TABLE notifications RENAME TO notifications_gone"))
    db.session.commit()
    db.session.execute(text("SELECT count(*) FROM notifications"))


def users_table_gone():
    """Not even the signed-in user can be read: the page falls back to plain HTML."""
    db.session.execute(text("ALTER TABLE users RENAME TO users_gone"))
    db.session.commit()
    db.session.execute(text("SELECT count(*) FROM users"))


@pytest.mark.parametrize("failure", [duplicate_account, notifications_table_gone, users_table_gone])
def test_the_error_page_survives_the_database_error(make_app, failure):
    client = app_with_failing_route(make_app, failure)
    response = client.get("/test-only/fail")
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and "Traceback" not in page
    if failure is duplicate_account:  # a bug's error: 500
        assert response.status_code == 500
        assert "Something went wrong" in page and "Nothing you typed was saved" in page
    elif response.status_code == 503:  # SQLite says the table is gone as an OperationalError: try again later
        assert "Service unavailable" in page and "nothing was saved" in page
    else:  # PostgreSQL says so as a ProgrammingError: a bug's error page
        assert response.status_code == 500 and "Something went wrong" in page


def test_a_set_password_link_signs_in_on_a_fresh_session_too(app, client):
    """Every way in renews the session: a CSRF token from before the link was used is refused after."""
    from kb.accounts import links, operations

    with app.app_context():
        user = operations.create_user(email="hana@example.com", name="Hana", role="agent",
                                      password="first-passphrase-7")
        secret = links.issue(user, days=7).secret
        db.session.commit()
    before = _token(client)
    page = client.get(f"/set-password/{secret}").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(f"/set-password/{secret}", data={"password": "a-new-passphrase-8",
                                                            "confirm": "a-new-passphrase-8", "csrf_token": token})
    assert response.status_code == 302 and client.get("/onboarding/").status_code == 200
    response = client.post("/logout", data={"csrf_token": before})
    assert response.status_code == 400 and "Form expired" in response.get_data(as_text=True)

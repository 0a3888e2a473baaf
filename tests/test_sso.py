"""Single sign-on against a real OpenID provider: oidc-provider-mock's own server, run as a process on 127.0.0.1.

kb talks to it over HTTP exactly as to a production provider (discovery, authorization, token exchange, ID-token
signature and nonce); the test plays the browser, carrying redirects between kb's test client and the provider.
"""
import json
import os
import socket
import subprocess
import sys
import time
from datetime import date
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from sqlalchemy import func, select

from kb import ConfigError
from kb.accounts import sso
from kb.extensions import db
from kb.models import AuditEvent, Team, User

DOMAINS = ("example.com",)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """The provider's issuer URL; its process is stopped however the module ends."""
    log_path = tmp_path_factory.mktemp("oidc") / "provider.log"
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    for attempt in range(3):  # the free port may be taken between our probe and the server's bind
        port = _free_port()
        issuer = f"http://127.0.0.1:{port}"
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port),
                 "--require-nonce"],
                stdout=log, stderr=subprocess.STDOUT, env=env,
            )
        try:
            if _wait_until_up(issuer, proc):
                break
        except BaseException:
            _stop(proc)
            raise
        _stop(proc)
    else:
        pytest.fail("oidc-provider-mock did not start:\n" + log_path.read_text(errors="replace"))
    try:
        yield issuer
    finally:
        _stop(proc)


def _wait_until_up(issuer, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if _http().get(issuer + "/.well-known/openid-configuration", timeout=1).ok:
                return True
        except requests.ConnectionError:
            time.sleep(0.05)
    return False


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _http():
    """The test's own HTTP client: never a proxy, never a .netrc: only 127.0.0.1 is reachable."""
    session = requests.Session()
    session.trust_env = False
    return session


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """kb's Authlib client reads the environment; keep its calls to 127.0.0.1 off any proxy."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def sso_app(make_app, provider):
    def make(**config):
        settings = {"OIDC_ISSUER": provider, "OIDC_CLIENT_ID": "kb-test", "OIDC_CLIENT_SECRET": "not-a-secret",
                    "OIDC_ALLOWED_DOMAINS": DOMAINS, "OIDC_TEAM": "Seasonal hires"}
        return make_app(**{**settings, **config})

    return make


def sign_in(client, provider, sub, next_url=None, deny=False, **claims):
    """Be a browser: start at kb, authorize at the provider as `sub` with `claims`, return kb's answer."""
    http = _http()
    claims.setdefault("email_verified", True)
    assert http.put(f"{provider}/users/{quote(sub, safe='')}", json=claims, timeout=5).status_code == 204
    start = client.get("/login/sso" + (f"?next={quote(next_url)}" if next_url else ""))
    assert start.status_code == 302, start.get_data(as_text=True)
    authorize_url = start.headers["Location"]
    assert authorize_url.startswith(provider + "/")
    query = parse_qs(urlsplit(authorize_url).query)
    assert query["state"] and query["nonce"] and query["code_challenge"]
    assert query["redirect_uri"] == ["http://localhost/login/sso/callback"]
    form = {"action": "deny"} if deny else {"sub": sub}
    answer = http.post(authorize_url, data=form, allow_redirects=False, timeout=5)
    assert answer.status_code in (302, 303), answer.text
    callback = answer.headers["Location"]
    assert callback.startswith("http://localhost/login/sso/callback?")
    return client.get(callback)


def users(app):
    with app.app_context():
        return db.session.scalars(select(User).order_by(User.id)).all()


def audit_actions(app):
    with app.app_context():
        return [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def is_signed_in(client):
    return client.get("/").status_code == 200


def test_first_sign_in_creates_the_account_in_the_configured_team_and_role(sso_app, provider):
    app = sso_app(OIDC_ROLE="expert", OIDC_EXPIRES_ON="2099-12-31")
    client = app.test_client()
    response = sign_in(client, provider, "alice-1", email="Alice@Example.com", name="Alice Martin")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert is_signed_in(client)
    with app.app_context():
        user = db.session.scalar(select(User))
        assert (user.email, user.name, user.role) == ("alice@example.com", "Alice Martin", "expert")
        assert user.expires_on == date(2099, 12, 31)
        assert user.sso_subject == f"{provider} alice-1"
        assert [t.name for t in user.teams] == ["Seasonal hires"]
        assert user.last_login_at is not None
        assert not user.check_password("")  # a random password nobody was told
    assert audit_actions(app) == ["team.create", "user.create", "user.sso_create"]


def test_the_second_sign_in_reuses_the_account_and_the_team(sso_app, provider):
    app = sso_app()
    first = app.test_client()
    sign_in(first, provider, "bob-1", email="bob@example.com")
    second = app.test_client()
    assert sign_in(second, provider, "bob-1", email="bob@example.com", name="Bob").status_code == 302
    assert is_signed_in(second)
    assert len(users(app)) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Team)) == 1
        user = db.session.scalar(select(User))
        assert user.role == "agent"  # the default role
        assert user.name == "bob"  # no name claim at the first sign-in: the address's local part


def test_a_later_sign_in_finds_the_account_by_subject_not_by_address(sso_app, provider):
    app = sso_app()
    sign_in(app.test_client(), provider, "carol-1", email="carol@example.com")
    client = app.test_client()
    assert sign_in(client, provider, "carol-1", email="carol.married@example.com").status_code == 302
    assert [u.email for u in users(app)] == ["carol@example.com"]


def test_sign_in_goes_back_to_a_safe_next_page_only(sso_app, provider):
    app = sso_app()
    assert sign_in(app.test_client(), provider, "dan-1", next_url="/search?q=refund",
                   email="dan@example.com").headers["Location"] == "/search?q=refund"
    assert sign_in(app.test_client(), provider, "dan-1", next_url="//evil.org/",
                   email="dan@example.com").headers["Location"] == "/"


@pytest.mark.parametrize("written", ["JOSÉ.NÚÑEZ@EXAMPLE.COM", "jose\u0301.nu\u0301n\u0303ez@example.com",
                                     "Jose\u0301.Nu\u0301n\u0303ez@Example.COM"])
def test_an_existing_password_account_with_the_same_address_is_linked_not_duplicated(
        sso_app, provider, make_user, written):
    app = sso_app()
    make_user("expert", email="josé.núñez@example.com")
    client = app.test_client()
    assert sign_in(client, provider, "jose-1", email=written).status_code == 302
    assert is_signed_in(client)
    [user] = users(app)
    assert user.role == "expert" and user.sso_subject == f"{provider} jose-1"
    assert audit_actions(app)[-1] == "user.sso_link"


def test_an_account_linked_to_another_identity_is_not_taken_over(sso_app, provider):
    app = sso_app()
    sign_in(app.test_client(), provider, "erin-1", email="erin@example.com")
    client = app.test_client()
    response = sign_in(client, provider, "someone-else", email="erin@example.com")
    assert response.status_code == 400
    assert "another single sign-on identity" in response.get_data(as_text=True)
    assert not is_signed_in(client)
    assert [u.sso_subject for u in users(app)] == [f"{provider} erin-1"]


@pytest.mark.parametrize("address", ["mallory@evil.org", "mallory@example.com.evil.org", "mallory@evil-example.com",
                                     "mallory@sub.example.com", "mallory@example.co"])
def test_an_address_outside_the_allowed_domains_is_refused_and_creates_nothing(sso_app, provider, address):
    app = sso_app()
    client = app.test_client()
    response = sign_in(client, provider, "mallory", email=address)
    assert response.status_code == 400
    assert "may not sign in here" in response.get_data(as_text=True)
    assert users(app) == [] and audit_actions(app) == []
    assert not is_signed_in(client)


def test_no_allowed_domains_lets_nobody_in(sso_app, provider):
    app = sso_app(OIDC_ALLOWED_DOMAINS=())
    response = sign_in(app.test_client(), provider, "frank-1", email="frank@example.com")
    assert response.status_code == 400 and users(app) == []


@pytest.mark.parametrize("verified", [False, None, "false"])
def test_an_unverified_address_is_refused(sso_app, provider, verified):
    app = sso_app()
    response = sign_in(app.test_client(), provider, "gina-1", email="gina@example.com", email_verified=verified)
    assert response.status_code == 400
    assert "not verified this e-mail address" in response.get_data(as_text=True)
    assert users(app) == []


def test_no_address_is_refused(sso_app, provider):
    app = sso_app()
    http = _http()
    http.put(f"{provider}/users/nomail", json={"name": "No Mail"}, timeout=5)
    start = app.test_client()
    response = start.get(http.post(start.get("/login/sso").headers["Location"], data={"sub": "nomail"},
                                   allow_redirects=False, timeout=5).headers["Location"])
    assert response.status_code == 400 and "did not send an e-mail address" in response.get_data(as_text=True)
    assert users(app) == []


def test_an_expired_or_deactivated_account_is_refused(sso_app, provider, make_user):
    app = sso_app()
    make_user(email="hana@example.com", expires_on=date(2000, 1, 31))
    client = app.test_client()
    response = sign_in(client, provider, "hana-1", email="hana@example.com")
    assert response.status_code == 400
    assert "This account is deactivated or has expired; ask an admin." in response.get_data(as_text=True)
    assert not is_signed_in(client)
    assert users(app)[0].sso_subject is None  # refused before it was linked


def test_a_cohort_whose_end_date_passed_gets_no_new_accounts(sso_app, provider):
    app = sso_app(OIDC_EXPIRES_ON="2000-01-31")
    response = sign_in(app.test_client(), provider, "ivan-1", email="ivan@example.com")
    assert response.status_code == 400 and "has expired" in response.get_data(as_text=True)
    assert users(app) == []


def test_a_linked_account_deactivated_later_is_refused(sso_app, provider):
    app = sso_app()
    sign_in(app.test_client(), provider, "jack-1", email="jack@example.com")
    with app.app_context():
        db.session.scalar(select(User)).active = False
        db.session.commit()
    client = app.test_client()
    assert sign_in(client, provider, "jack-1", email="jack@example.com").status_code == 400
    assert not is_signed_in(client)


def test_denying_at_the_provider_shows_the_login_page_with_its_reason(sso_app, provider):
    app = sso_app()
    response = sign_in(app.test_client(), provider, "kate-1", deny=True, email="kate@example.com")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "did not sign you in" in page and 'action="/login"' in page
    assert users(app) == []


@pytest.mark.parametrize("query", ["", "?state=forged&code=whatever", "?code=x", "?error=server_error",
                                   "?error=%ff&error_description=" + "x" * 5000])
def test_a_callback_without_a_matching_state_is_refused(sso_app, query):
    # A NUL (%00) is refused before any view, with its own 400 page: tests/test_hostile_input.py.
    app = sso_app()
    client = app.test_client()
    client.get("/login/sso")  # a state exists, but not the one the callback brings
    response = client.get("/login/sso/callback" + query)
    assert response.status_code == 400
    assert "Sign in" in response.get_data(as_text=True)


def test_a_replayed_callback_is_refused(sso_app, provider):
    app = sso_app()
    client = app.test_client()
    http = _http()
    http.put(f"{provider}/users/lena-1", json={"email": "lena@example.com", "email_verified": True}, timeout=5)
    callback = http.post(client.get("/login/sso").headers["Location"], data={"sub": "lena-1"},
                         allow_redirects=False, timeout=5).headers["Location"]
    assert client.get(callback).status_code == 302
    client.post("/logout", data={"csrf_token": _csrf(client)})
    assert client.get(callback).status_code == 400


def _csrf(client):
    import re

    return re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)


def test_an_unreachable_provider_is_a_502_on_the_login_page(make_app):
    app = make_app(OIDC_ISSUER=f"http://127.0.0.1:{_free_port()}", OIDC_CLIENT_ID="kb-test",
                   OIDC_ALLOWED_DOMAINS=DOMAINS)
    response = app.test_client().get("/login/sso")
    assert response.status_code == 502
    assert "cannot be reached" in response.get_data(as_text=True)


def test_an_issuer_without_a_discovery_document_is_a_502(make_app, provider):
    app = make_app(OIDC_ISSUER=provider + "/no-such-issuer", OIDC_CLIENT_ID="kb-test", OIDC_ALLOWED_DOMAINS=DOMAINS)
    assert app.test_client().get("/login/sso").status_code == 502


def test_a_provider_that_goes_away_before_the_token_exchange_is_a_502(sso_app, provider):
    app = sso_app()
    client = app.test_client()
    http = _http()
    http.put(f"{provider}/users/max-1", json={"email": "max@example.com", "email_verified": True}, timeout=5)
    callback = http.post(client.get("/login/sso").headers["Location"], data={"sub": "max-1"},
                         allow_redirects=False, timeout=5).headers["Location"]
    # The discovery document is cached; point its token endpoint at a port nobody listens on.
    app.extensions["kb.sso"].client.server_metadata["token_endpoint"] = f"http://127.0.0.1:{_free_port()}/token"
    response = client.get(callback)
    assert response.status_code == 502 and users(app) == []


def test_the_button_shows_only_when_sso_is_on(sso_app, make_app):
    off = make_app("off")
    page = off.test_client().get("/login").get_data(as_text=True)
    assert "Sign in with SSO" not in page and "/login/sso" not in page
    assert off.test_client().get("/login/sso").status_code == 404
    assert off.test_client().get("/login/sso/callback?code=x&state=y").status_code == 404
    on = sso_app(OIDC_BUTTON_LABEL="Sign in with Acme")
    page = on.test_client().get("/login?next=/search").get_data(as_text=True)
    assert "Sign in with Acme" in page and 'href="/login/sso?next=/search"' in page


def test_the_password_login_still_works_beside_sso(sso_app, make_user, auth_for):
    app = sso_app()
    make_user(email="nina@example.com")
    client = app.test_client()
    assert auth_for(client).login("nina@example.com").status_code == 302
    assert is_signed_in(client)


@pytest.mark.parametrize("value, expected", [
    (("example.com", "Example.ORG"), {"example.com", "example.org"}),
    ("example.com", {"example.com"}),  # a bare string from the environment is one domain, not its letters
    ("example.com, @example.org  acme.test", {"example.com", "example.org", "acme.test"}),
    (json.loads('["example.com"]'), {"example.com"}),  # KB_OIDC_ALLOWED_DOMAINS='["example.com"]'
    ((), set()), (None, set()), ("", set()),
])
def test_allowed_domains_are_read_from_any_spelling(value, expected):
    assert sso.parse_domains(value) == expected


@pytest.mark.parametrize("config", [{"OIDC_CLIENT_ID": None}, {"OIDC_ROLE": "root"},
                                    {"OIDC_EXPIRES_ON": "31/01/2025"}, {"OIDC_EXPIRES_ON": 20250131}])
def test_unusable_settings_stop_the_start(make_app, config):
    with pytest.raises(ConfigError):
        make_app(**{"OIDC_ISSUER": "https://id.example.com", "OIDC_CLIENT_ID": "kb", **config})


def test_settings_come_from_the_environment(make_app, monkeypatch):
    monkeypatch.setenv("KB_OIDC_ISSUER", "https://id.example.com/")
    monkeypatch.setenv("KB_OIDC_CLIENT_ID", "kb")
    monkeypatch.setenv("KB_OIDC_ALLOWED_DOMAINS", "example.com,example.org")
    monkeypatch.setenv("KB_OIDC_EXPIRES_ON", "2025-01-31")
    cfg = make_app().extensions["kb.sso"]
    assert cfg.issuer == "https://id.example.com" and cfg.role == "agent"
    assert cfg.allowed_domains == {"example.com", "example.org"} and cfg.expires_on == date(2025, 1, 31)


@pytest.mark.parametrize("claims, message", [
    ({"iss": "https://other.example.com", "sub": "x", "email": "a@example.com", "email_verified": True},
     "another provider"),
    ({"iss": "ISSUER", "email": "a@example.com", "email_verified": True}, "did not say who you are"),
    ({"iss": "ISSUER", "sub": "x" * 400, "email": "a@example.com", "email_verified": True}, "too long"),
    ({"iss": "ISSUER", "sub": "x", "email": "a@evil.org@example.com", "email_verified": True}, "not a valid"),
    ({"iss": "ISSUER", "sub": "x", "email": ["a@example.com"], "email_verified": True}, "did not send"),
])
def test_account_for_refuses_claims_that_do_not_identify_an_allowed_person(sso_app, provider, claims, message):
    app = sso_app()
    claims = {k: (provider if v == "ISSUER" else v) for k, v in claims.items()}
    with app.test_request_context():
        with pytest.raises(sso.Refused, match=message):
            sso.account_for(claims, sso.utcnow())
        assert db.session.scalar(select(func.count()).select_from(User)) == 0

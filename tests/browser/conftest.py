"""Fixtures of the end-to-end tests: the real app served over HTTP, driven by the system Chromium through Playwright.

One server (with its own migrated SQLite database and the demo data) per test module, so modules never see
each other's changes; one Chromium for the whole run; a fresh browser context per test.

Chromium comes from Debian (/usr/bin/chromium), never from a Playwright download. Without it (or without
Playwright) the tests are skipped on a workstation, but fail when the CI environment variable is set, so
that CI can never pass them by silently skipping.

The test modules of this folder mark themselves `pytestmark = pytest.mark.browser`. They import
`expect` from Playwright inside try/except: when Playwright is missing, the `browser` fixture below decides
between skipping and failing.
"""
import os
import threading

import pytest

CHROMIUM = "/usr/bin/chromium"
AGENT = ("agent@example.com", "agent-demo")  # the demo agent (kb/demo_content.py)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    expect = sync_playwright = None


def _unavailable(reason):
    """Skip on a workstation; fail in CI, where a skipped browser test would hide a broken setup."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so the browser tests must run)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if sync_playwright is None:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not os.path.exists(CHROMIUM):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory, database_url_for_module):
    """An app like tests/conftest.py's `app` (migrated, in a tmp instance folder, on the suite's database
    backend), with the demo data."""
    from flask_migrate import upgrade

    from kb import create_app, demo
    from kb.extensions import db

    url = database_url_for_module()
    app = create_app(
        {"TESTING": True, "SECRET_KEY": "test-secret", "SESSION_COOKIE_SECURE": False,
         "REMEMBER_COOKIE_SECURE": False, **({"DATABASE_URL": url} if url else {})},
        instance_path=tmp_path_factory.mktemp("browser") / "instance",
    )
    with app.app_context():
        upgrade()
        demo.seed()
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="module")
def base_url(live_app):
    """Serve the app on a free port of 127.0.0.1 from a background thread; shut it down afterwards.
    EXTERNAL_URL is that address, so the FAQ links that answers carry lead somewhere a test can open."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="kb-test-server", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    live_app.config["EXTERNAL_URL"] = url
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def page(browser, base_url):
    """A page in a fresh browser context (no cookies shared between tests); fails on JS errors."""
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    js_errors = []
    page.on("pageerror", lambda exc: js_errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert js_errors == [], f"JavaScript errors on the page: {js_errors}"


@pytest.fixture
def customer(browser, base_url):
    """A signed-out visitor in a browser context of its own: a customer on the FAQ, or the chatbot's client
    (`customer.request`); beside `page`, which may sign in."""
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _log_in(page, email, password):
    """Fill and submit the sign-in form that is on the page."""
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def log_in():
    """`log_in(page, email, password)`: fill and submit the sign-in form that is on the page."""
    return _log_in


@pytest.fixture
def sign_in(log_in, base_url):
    """`sign_in(page)`: sign in as the demo agent (or `email`, `password`); wait for kb.js (deferred), which
    wires the search box and the copy buttons."""
    def sign_in(page, email=AGENT[0], password=AGENT[1]):
        page.goto("/login")
        log_in(page, email, password)
        expect(page).to_have_url(f"{base_url}/")
        page.wait_for_load_state("load")

    return sign_in


class Clipboard:
    """The page's real clipboard (navigator.clipboard), readable and writable by the app's origin."""

    def __init__(self, page, origin):
        self.page = page
        page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)

    def read(self):
        return self.page.evaluate("navigator.clipboard.readText()")

    def write(self, text):
        self.page.evaluate("text => navigator.clipboard.writeText(text)", text)


@pytest.fixture
def clipboard(page, base_url):
    """The real clipboard of `page` (`clipboard.read()`, `clipboard.write(text)`), permissions granted."""
    return Clipboard(page, base_url)


@pytest.fixture
def card_key_to_id(live_app):
    """`card_key_to_id(key)`: the id of the demo card with that external id (kb/demo_content.py)."""
    from sqlalchemy import select

    from kb.extensions import db
    from kb.models import Card

    def lookup(key):
        with live_app.app_context():
            card_id = db.session.scalar(select(Card.id).filter_by(external_id=key))
        assert card_id is not None, f"demo card {key!r} is missing"
        return card_id

    return lookup

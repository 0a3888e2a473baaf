"""Fixtures: a fresh app per test, with its own SQLite file and instance folder, migrated for real."""
import itertools
import os
import re
import shutil
import uuid

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade

from kb import create_app
from kb.extensions import db

PASSWORD = "correct-horse-1"
_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch, tmp_path):
    """No test may read a developer's KB_* settings or touch the real instance/ folder."""
    import os

    for name in list(os.environ):
        if name.startswith("KB_") and name != "KB_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("KB_INSTANCE_PATH", str(tmp_path / "default-instance"))


TEST_SETTINGS = {"TESTING": True, "SECRET_KEY": "test-secret", "SESSION_COOKIE_SECURE": False,
                 "REMEMBER_COOKIE_SECURE": False, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


class ClosingClient(FlaskClient):
    """Closes each response as a WSGI server does once it has sent it, so that the work a page leaves for
    after its response (view counts, search log, the index feed) has run before the test looks."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        response.close()
        return response


# The whole suite runs on SQLite (the default) or, with KB_TEST_DATABASE=postgres, on the PostgreSQL server
# at KB_TEST_POSTGRES_URL (`make test` runs both when the server is there; `.ci/run` starts one).
BACKEND = os.environ.get("KB_TEST_DATABASE", "sqlite")
SERVER_URL = os.environ.get("KB_TEST_POSTGRES_URL", "").replace("postgresql+psycopg://", "postgresql://")


def _pg(sql):
    import psycopg

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql)


def _pg_url(name):
    return SERVER_URL.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory):
    """One migrated database per test process, copied for every app: migrating takes about a second,
    copying a few milliseconds. (Apps given their own DATABASE_URL still migrate it.)"""
    if BACKEND == "postgres":
        if not SERVER_URL:
            pytest.exit("KB_TEST_DATABASE=postgres needs KB_TEST_POSTGRES_URL", returncode=2)
        name = f"kb_template_{uuid.uuid4().hex[:10]}"
        _pg(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    else:
        folder = tmp_path_factory.mktemp("template")
        name, url = str(folder / "kb.sqlite"), None
    app = create_app({**TEST_SETTINGS, **({"DATABASE_URL": url} if url else {})},
                     instance_path=tmp_path_factory.mktemp("template-instance") if url else folder)
    with app.app_context():
        upgrade()
        db.session.remove()
        db.engine.dispose()
    yield name
    if BACKEND == "postgres":
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url_for_module(migrated_template):
    """For apps built outside `make_app` (the browser tests' live app): a copy of the template database on
    the suite's backend, as a URL, or None on SQLite (the app's instance folder holds its own file)."""
    made = []

    def make():
        if BACKEND != "postgres":
            return None
        database = f"kb_live_{uuid.uuid4().hex[:12]}"
        _pg(f'CREATE DATABASE "{database}" TEMPLATE "{migrated_template}"')
        made.append(database)
        return _pg_url(database)

    yield make
    for database in made:
        _pg(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def make_app(tmp_path, migrated_template):
    """Build a migrated app in its own instance folder (several per test if needed), on a copy of the
    migrated template database unless `DATABASE_URL` names one (then it is migrated here)."""
    made, databases = [], {}  # instance name -> its PostgreSQL database: two apps on one instance share it

    def make(name="instance", **config):
        instance = tmp_path / name
        fresh = "DATABASE_URL" not in config
        if fresh and BACKEND == "postgres":
            if name not in databases:
                databases[name] = f"kb_test_{uuid.uuid4().hex[:12]}"
                _pg(f'CREATE DATABASE "{databases[name]}" TEMPLATE "{migrated_template}"')
            config["DATABASE_URL"] = _pg_url(databases[name])
        elif fresh and not (instance / "kb.sqlite").exists():
            instance.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(migrated_template, instance / "kb.sqlite")
        app = create_app({**TEST_SETTINGS, **config}, instance_path=instance)
        app.test_client_class = ClosingClient
        if not fresh:
            with app.app_context():
                upgrade()
        made.append(app)
        return app

    yield make
    from kb.search import vectors

    vectors.stop_backfill()  # a test's background embedding must not run on (and log) into the next tests
    for app in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    for database in databases.values():
        _pg(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def pg_app(make_app):
    """An app on a database of its own on the PostgreSQL test server, whatever the suite's backend (the
    tests of PostgreSQL's own behaviour). Without the server these skip, except under CI where they fail."""
    if not SERVER_URL:
        if os.environ.get("CI"):
            pytest.fail("KB_TEST_POSTGRES_URL is not set: .ci/run must start PostgreSQL")
        pytest.skip("no PostgreSQL server (set KB_TEST_POSTGRES_URL)")
    name = f"kb_test_{uuid.uuid4().hex[:10]}"
    _pg(f'CREATE DATABASE "{name}"')
    app = make_app(DATABASE_URL=_pg_url(name))
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _detached(app, obj):
    """Commit, load the columns, and hand the object out of the session (its ids stay readable)."""
    db.session.commit()
    db.session.refresh(obj)
    db.session.expunge(obj)
    return obj


@pytest.fixture
def make_team(app):
    def make(name=None, description=""):
        from kb.accounts import operations

        with app.app_context():
            return _detached(app, operations.create_team(name=name or f"Team {next(_seq)}", description=description))

    return make


@pytest.fixture
def make_user(app):
    def make(role="agent", teams=(), email=None, password=PASSWORD, name=None, expires_on=None, lead_of=()):
        from kb.accounts import operations
        from kb.models import Team

        n = next(_seq)
        with app.app_context():
            team_objs = [db.session.get(Team, t.id) for t in teams]
            user = operations.create_user(email=email or f"{role}{n}@example.com", name=name or f"{role.title()} {n}",
                                          role=role, password=password, teams=team_objs, expires_on=expires_on)
            for team in lead_of:
                operations.set_membership(db.session.get(Team, team.id), user, actor=None, is_lead=True)
            return _detached(app, user)

    return make


@pytest.fixture
def make_collection(app):
    def make(team, name=None, public=False, interval=90):
        from kb.cards import operations
        from kb.models import Team

        with app.app_context():
            coll = operations.create_collection(name=name or f"Collection {next(_seq)}",
                                                team=db.session.get(Team, team.id), is_public=public,
                                                default_interval_days=interval)
            return _detached(app, coll)

    return make


@pytest.fixture
def make_card(app):
    def make(collection, owner, verifier_team=None, verified_at=None, verified_by=None, **fields):
        from kb.cards import operations
        from kb.models import Collection, Team, User

        with app.app_context():
            coll = db.session.get(Collection, collection.id)
            owner_ = db.session.get(User, owner.id)
            team = db.session.get(Team, (verifier_team or coll.team).id)
            fields.setdefault("title", f"Question {next(_seq)}?")
            fields.setdefault("answer", "An answer.")
            card = operations.create_card(collection=coll, owner=owner_, verifier_team=team, author=owner_, **fields)
            if verified_at is not None:
                operations.verify_card(card, db.session.get(User, (verified_by or owner).id), at=verified_at)
            return _detached(app, card)

    return make


class AuthActions:
    def __init__(self, client):
        self.client = client

    def csrf_token(self):
        page = self.client.get("/login").get_data(as_text=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)

    def login(self, email, password=PASSWORD, next_url=None):
        url = "/login" + (f"?next={next_url}" if next_url else "")
        return self.client.post(url, data={"email": email, "password": password, "csrf_token": self.csrf_token()})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf_token()})

    def post(self, url, data=None, **kwargs):
        """POST a form with a valid CSRF token, as a browser would."""
        return self.client.post(url, data={**(data or {}), "csrf_token": self.csrf_token()}, **kwargs)


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def auth_for():
    """Log-in helpers for a client of another app than the `app` fixture's (e.g. one with SSO settings)."""
    return AuthActions


@pytest.fixture
def world(make_team, make_user, make_collection, make_card):
    """A small knowledge base: two teams, users of every role, a collection each, a card each."""
    billing, logistics = make_team("Billing experts"), make_team("Logistics experts")
    admin = make_user("admin", email="admin@example.com")
    expert = make_user("expert", teams=[billing], email="bianca@example.com")
    other_expert = make_user("expert", teams=[logistics], email="leo@example.com")
    agent = make_user("agent", email="agent@example.com")
    billing_coll = make_collection(billing, name="Payments & billing", public=True)
    shipping_coll = make_collection(logistics, name="Shipping & delivery")
    billing_card = make_card(billing_coll, expert, title="How do refunds work?", answer="Refunds take 5 days.")
    shipping_card = make_card(shipping_coll, other_expert, title="How long does shipping take?",
                              answer="3-5 business days.")
    return dict(billing=billing, logistics=logistics, admin=admin, expert=expert, other_expert=other_expert,
                agent=agent, billing_coll=billing_coll, shipping_coll=shipping_coll, billing_card=billing_card,
                shipping_card=shipping_card)

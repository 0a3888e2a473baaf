"""Deploying kb: a wheel that serves pages, honest health, no silent new database, a trusted proxy's headers
(and only then), and logs a collector can read."""
import json
import os
import runpy
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kb import ConfigError, create_app
from kb.cli import run_command
from kb.extensions import db

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = {"TESTING": True, "SECRET_KEY": "test-secret", "SESSION_COOKIE_SECURE": False}


@pytest.fixture
def sqlite_app(app):
    """The `app` fixture's, when the suite runs on SQLite (these tests are about the SQLite file)."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("about the SQLite file")
    return app


@pytest.fixture
def same_database(app, make_app):
    """Another app (other settings) on the `app` fixture's database and index, on either backend."""
    def make(name, **config):
        return make_app(name, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], INDEX_DIR=app.config["INDEX_DIR"],
                        **config)

    return make


@pytest.fixture
def fresh_app(tmp_path):
    """An app on an instance folder that has no database yet (nothing has run `kb init`)."""
    made = []

    def make(**config):
        app = create_app({**SETTINGS, **config}, instance_path=tmp_path / "fresh")
        made.append(app)
        return app

    yield make
    for app in made:
        with app.app_context():
            db.engine.dispose()


# -- Health tells the truth about the database -----------------------------------------------------------

def test_health_is_ok_on_a_writable_database(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200 and response.get_json()["database"] == "ok"


def test_health_reports_a_read_only_database(sqlite_app, make_app):
    path = Path(sqlite_app.instance_path) / "kb.sqlite"
    read_only = make_app("read-only", DATABASE_URL=f"sqlite:///file:{path}?mode=ro&uri=true")
    response = read_only.test_client().get("/api/v1/health")
    assert response.status_code == 503
    assert response.get_json()["database"] == "read-only" and response.get_json()["status"] == "error"


@pytest.mark.postgres
def test_health_reports_a_read_only_postgresql_database(pg_app, make_app):
    """A standby or a database set read-only (the same refusal to writes) is not healthy."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(pg_app.config["SQLALCHEMY_DATABASE_URI"])
    assert pg_app.test_client().get("/api/v1/health").status_code == 200
    server = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on')
    read_only = make_app("pg-read-only", DATABASE_URL=url.render_as_string(hide_password=False))
    response = read_only.test_client().get("/api/v1/health")
    assert response.status_code == 503 and response.get_json()["database"] == "read-only"


# -- Never a new empty database behind the operator's back ------------------------------------------------

def test_a_database_deleted_while_serving_gets_a_503_not_a_new_empty_file(sqlite_app, client, auth, make_user):
    app = sqlite_app
    user = make_user("agent", email="agent@example.com")
    assert auth.login(user.email).status_code == 302
    path = Path(app.instance_path) / "kb.sqlite"
    path.unlink()
    page = client.get("/")
    assert page.status_code == 503 and "database is unavailable" in page.get_data(as_text=True)
    health = app.test_client().get("/api/v1/health")  # a load balancer's probe: no session
    assert health.status_code == 503 and health.get_json()["database"].startswith("unreachable")
    assert not path.exists()


def test_kb_run_refuses_to_start_without_a_database(fresh_app):
    app = fresh_app()
    result = app.test_cli_runner().invoke(run_command, ["--port", "1"])
    assert result.exit_code == 1
    assert "No database at" in result.output and "run `kb init`" in result.output
    assert not os.path.exists(os.path.join(app.instance_path, "kb.sqlite"))


def test_gunicorn_entry_point_refuses_to_start_without_a_database(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_INSTANCE_PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("KB_SECRET_KEY", "s")
    with pytest.raises(ConfigError, match="run `kb init`"):
        runpy.run_path(str(ROOT / "wsgi.py"))
    assert not (tmp_path / "empty" / "kb.sqlite").exists()


def test_kb_init_creates_the_database_and_then_the_app_serves(fresh_app):
    app = fresh_app()
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert os.path.exists(os.path.join(app.instance_path, "kb.sqlite"))
    assert app.test_client().get("/api/v1/health").status_code == 200


# -- Behind a reverse proxy ------------------------------------------------------------------------------

PROXIED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Host": "help.example.com", "X-Forwarded-Proto": "https"}


@pytest.fixture
def public_card(make_team, make_user, make_collection, make_card):
    from kb.dates import utcnow

    team = make_team("Care")
    expert = make_user("expert", teams=[team])
    return make_card(make_collection(team, name="Returns", public=True), expert, title="How do refunds work?",
                     answer="Within 5 days.", verified_at=utcnow())


def faq_json_ld(client, card):
    import re

    page = client.get(f"/faq/cards/{card.id}", headers=PROXIED, follow_redirects=True).get_data(as_text=True)
    return json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', page, re.S).group(1))


def test_behind_a_trusted_proxy_urls_name_the_public_host(same_database, public_card):
    proxied = same_database("proxied", PROXY_FIX_X_FOR=1, PROXY_FIX_X_PROTO=1, PROXY_FIX_X_HOST=1)
    data = faq_json_ld(proxied.test_client(), public_card)
    assert data["mainEntity"][0]["url"].startswith(f"https://help.example.com/faq/cards/{public_card.id}")


def test_without_the_setting_forwarded_headers_are_ignored(app, public_card):
    data = faq_json_ld(app.test_client(), public_card)
    assert data["mainEntity"][0]["url"].startswith("http://localhost/faq/cards/")


def test_behind_a_trusted_proxy_each_caller_has_its_own_rate_limit(make_app):
    proxied = make_app("proxied", PROXY_FIX_X_FOR=1, API_RATE_LIMIT="1 per minute").test_client()
    assert proxied.get("/api/v1/health", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 200
    assert proxied.get("/api/v1/health", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 200
    assert proxied.get("/api/v1/health", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 429


def test_without_the_setting_a_forged_address_does_not_escape_the_rate_limit(make_app):
    direct = make_app("direct", API_RATE_LIMIT="1 per minute").test_client()
    assert direct.get("/api/v1/health", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 200
    assert direct.get("/api/v1/health", headers={"X-Forwarded-For": "198.51.100.2"}).status_code == 429


def test_a_proxy_setting_that_is_not_a_number_is_refused_at_start(fresh_app):
    with pytest.raises(ConfigError, match="PROXY_FIX_X_FOR"):
        fresh_app(PROXY_FIX_X_FOR="yes")


# -- Logs ------------------------------------------------------------------------------------------------

def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_json_logs_carry_the_request_and_its_id(same_database, make_user, auth_for, capsys):
    user = make_user("agent", email="agent@example.com")
    app = same_database("json-logs", LOG_FORMAT="json", PROXY_FIX_X_FOR=1)

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    client = app.test_client()
    capsys.readouterr()
    response = client.get("/login", headers={"X-Request-ID": "req-42", "X-Forwarded-For": "203.0.113.7"})
    assert response.headers["X-Request-ID"] == "req-42"
    line = [entry for entry in json_lines(capsys.readouterr().err) if entry["logger"] == "kb.request"][-1]
    assert {"time", "level", "logger", "request_id", "path", "method", "status", "duration_ms"} <= set(line)
    assert (line["request_id"], line["path"], line["method"], line["status"]) == ("req-42", "/login", "GET", 200)
    assert line["remote_addr"] == "203.0.113.7"

    auth_for(client).login(user.email)
    capsys.readouterr()
    client.get("/")
    line = [entry for entry in json_lines(capsys.readouterr().err) if entry["logger"] == "kb.request"][-1]
    assert line["user_id"] == user.id and len(line["request_id"]) == 32  # a new id when the caller sent none

    client.get("/boom")
    failure = [entry for entry in json_lines(capsys.readouterr().err) if entry["level"] == "ERROR"][-1]
    assert "RuntimeError: kaboom" in failure["exc_info"] and failure["path"] == "/boom"


def test_a_caller_request_id_that_could_break_a_log_line_is_replaced(make_app):
    client = make_app("ids").test_client()
    response = client.get("/login", headers={"X-Request-ID": "bad id\twith spaces"})
    assert response.headers["X-Request-ID"] != "bad id\twith spaces" and len(response.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("setting", [{"LOG_FORMAT": "xml"}, {"LOG_LEVEL": "LOUD"}])
def test_an_unknown_log_setting_is_refused_at_start(fresh_app, setting):
    with pytest.raises(ConfigError, match=next(iter(setting))):
        fresh_app(**setting)


# -- The wheel -------------------------------------------------------------------------------------------

def source_copy(target):
    """The project as a fresh clone has it (no build/ folder left by an earlier build to hide a gap)."""
    target.mkdir()
    for name in ("setup.cfg", "setup.py", "pyproject.toml", "MANIFEST.in", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, target / name)
    for name in ("kb", "templates", "static"):
        shutil.copytree(ROOT / name, target / name, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_the_wheel_carries_the_templates_and_static_files(tmp_path):
    source = source_copy(tmp_path / "src")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q",
                             "-w", str(tmp_path / "dist")], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    wheel = next((tmp_path / "dist").glob("kb-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"kb/templates/accounts/login.html", "kb/templates/base.html", "kb/static/kb.css",
            "kb/migrations/alembic.ini"} <= names


def test_kb_worker_refuses_to_start_without_a_database(fresh_app):
    app = fresh_app()
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1 and "run `kb init`" in result.output
    assert not os.path.exists(os.path.join(app.instance_path, "kb.sqlite"))


# -- gunicorn --------------------------------------------------------------------------------------------

def gunicorn_settings(monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def test_gunicorn_settings_default_to_capped_workers_without_preloading(monkeypatch):
    import multiprocessing

    settings = gunicorn_settings(monkeypatch)
    assert settings["workers"] == min(2 * multiprocessing.cpu_count() + 1, 8)
    assert settings["preload_app"] is False and settings["max_requests"] > 0 and settings["threads"] == 1
    assert "logconfig_dict" not in settings


def test_gunicorn_settings_come_from_the_environment(monkeypatch):
    settings = gunicorn_settings(monkeypatch, KB_GUNICORN_WORKERS="3", KB_GUNICORN_TIMEOUT="90",
                                 KB_GUNICORN_BIND="0.0.0.0:9000", KB_LOG_FORMAT="json")
    assert (settings["workers"], settings["timeout"], settings["bind"]) == (3, 90, "0.0.0.0:9000")
    assert settings["logconfig_dict"]["formatters"]["json"]["()"] == "kb.logs.JsonFormatter"


def test_gunicorn_serves_kb_with_its_config_and_json_logs(make_app, tmp_path):
    import socket
    import time
    import urllib.request

    app = make_app("served")  # `kb init` done: the database exists (SQLite, or PostgreSQL for the suite)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "KB_INSTANCE_PATH": app.instance_path, "KB_SECRET_KEY": "s", "KB_LOG_FORMAT": "json",
           "KB_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "KB_GUNICORN_WORKERS": "1", "KB_GUNICORN_THREADS": "2", "KB_JOBS_ENABLED": "false"}
    log = open(tmp_path / "gunicorn.log", "w+")
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "-c", "gunicorn.conf.py", "--bind",
                               f"127.0.0.1:{port}", "wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        for _ in range(120):
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/login", headers={"X-Request-ID": "gu-1"})
                with urllib.request.urlopen(request, timeout=5) as response:
                    status, request_id, page = response.status, response.headers["X-Request-ID"], response.read()
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.5)
        else:
            pytest.fail("gunicorn did not answer")
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    assert status == 200 and request_id == "gu-1" and b'name="password"' in page
    lines = json_lines((tmp_path / "gunicorn.log").read_text())
    assert any(e["logger"] == "gunicorn.error" for e in lines)
    assert any(e["logger"] == "kb.request" and e.get("request_id") == "gu-1" and e["status"] == 200 for e in lines)

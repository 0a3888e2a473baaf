"""The app factory, settings, error pages, migrations and the command line."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from kb import ConfigError, create_app
from kb.extensions import db
from kb.models import Card, User


def test_missing_secret_key_in_production_is_a_clear_start_up_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KB_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="KB_SECRET_KEY"):
        create_app(instance_path=tmp_path)


def test_settings_from_instance_config_then_environment(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text("SECRET_KEY = 'from-file'\nBRAND_NAME = 'Northwind KB'\nWARNING_DAYS = 3\n")
    monkeypatch.setenv("KB_WARNING_DAYS", "10")
    monkeypatch.setenv("KB_INDEX_DIR", str(tmp_path / "idx"))
    app = create_app(instance_path=tmp_path)
    assert app.config["SECRET_KEY"] == "from-file" and app.config["BRAND_NAME"] == "Northwind KB"
    assert app.config["WARNING_DAYS"] == 10  # environment beats the file
    assert app.config["INDEX_DIR"] == str(tmp_path / "idx")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/kb.sqlite"


def test_instance_path_and_database_url_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KB_INSTANCE_PATH", str(tmp_path / "second"))
    monkeypatch.setenv("KB_SECRET_KEY", "s")
    monkeypatch.setenv("KB_DATABASE_URL", "postgres://kb:pw@db.internal/kb")
    app = create_app()
    assert app.instance_path == str(tmp_path / "second") and (tmp_path / "second").is_dir()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://kb:pw@db.internal/kb"
    assert app.config["INDEX_DIR"] == str(tmp_path / "second" / "search-index")


def test_migrations_match_the_models(app):
    """A model change without a migration fails here."""
    with app.app_context(), db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"render_as_batch": True}), db.metadata)
        assert diff == []


def test_not_found_is_a_page_for_people_and_json_for_programs(world, auth, client):
    auth.login("agent@example.com")
    page = client.get("/cards/999")
    assert page.status_code == 404 and "There is no card 999" in page.get_data(as_text=True)
    api = client.get("/cards/999", headers={"Accept": "application/json"})
    assert api.status_code == 404 and api.json["error"]["message"] == "There is no card 999."


def test_unexpected_errors_are_a_friendly_500(app, world, auth, client, monkeypatch):
    from kb.cards import views

    auth.login("agent@example.com")
    monkeypatch.setattr(views, "get_card", lambda *a, **k: 1 / 0)
    response = client.get(f"/cards/{world['billing_card'].id}")
    assert response.status_code == 500 and "Something went wrong" in response.get_data(as_text=True)


def test_cli_init_seed_demo_is_idempotent_and_prints_accounts(app, runner):
    assert runner.invoke(args=["init"]).exit_code == 0
    first = runner.invoke(args=["seed-demo", "--if-empty"])
    assert first.exit_code == 0 and "52 cards added" in first.output and "admin@example.com" in first.output
    second = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "not loaded" in second.output and "admin-demo" in second.output
    third = runner.invoke(args=["seed-demo"])
    assert "0 cards added" in third.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Card)) == 52


def test_cli_create_user_with_teams_and_expiry(app, runner):
    assert runner.invoke(args=["create-team", "Billing experts"]).exit_code == 0
    result = runner.invoke(args=["create-user", "--email", "Sam@Example.com", "--name", "Sam", "--role", "expert",
                                 "--password", "long-enough-1", "--team", "billing experts", "--expires", "2027-01-31"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).filter_by(email="sam@example.com"))
        assert user.role == "expert" and [t.name for t in user.teams] == ["Billing experts"]
        assert str(user.expires_on) == "2027-01-31" and user.check_password("long-enough-1")


@pytest.mark.parametrize("args, message", [
    (["--team", "Nope"], "unknown team 'Nope'"),
    (["--expires", "31/01/2027"], "use YYYY-MM-DD"),
    (["--role", "boss"], "'boss' is not one of"),
    (["--password", "short"], "at least 8 characters"),
])
def test_cli_create_user_refuses_bad_input(app, runner, args, message):
    base = {"--email": "x@example.com", "--name": "X", "--password": "long-enough-1"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    result = runner.invoke(args=["create-user", *[p for kv in base.items() for p in kv]])
    assert result.exit_code != 0 and message in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_init_gives_cards_without_a_status_one(app, runner, world):
    from kb.models import CardState

    with app.app_context():
        db.session.execute(db.delete(CardState))
        db.session.commit()
    assert runner.invoke(args=["init"]).exit_code == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CardState)) == 2

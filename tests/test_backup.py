"""`kb backup DIR` and `kb restore DIR`: the demo knowledge base goes into a backup and comes back, table by
table, into an empty instance (on the suite's backend: SQLite, or PostgreSQL in the second run), with its
search index rebuilt; refused backups and restores say why in one line and change nothing."""
import json
import os

from sqlalchemy import func, select

from kb import backup, demo
from kb.extensions import db
from kb.models import Card, User


def _tables(app):
    with app.app_context():
        return {t.name: [json.dumps({k: backup._encode(v) for k, v in r._mapping.items()}, sort_keys=True)
                         for r in db.session.execute(select(t).order_by(*t.primary_key.columns))]
                for t in db.metadata.sorted_tables}


def _seeded(make_app):
    source = make_app("source")
    with source.app_context():
        demo.seed()
        db.session.commit()
    return source


def test_a_backup_restores_every_row_into_an_empty_instance(make_app, tmp_path):
    source = _seeded(make_app)
    folder = tmp_path / "backup-1"
    result = source.test_cli_runner().invoke(args=["backup", str(folder)])
    assert result.exit_code == 0, result.output
    assert "Backed up" in result.output and "cards" in result.output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["tables"]["cards"] > 10 and (folder / "cards.jsonl").read_text().count("\n") == \
        manifest["tables"]["cards"]

    target = make_app("target")
    result = target.test_cli_runner().invoke(args=["restore", str(folder)])
    assert result.exit_code == 0, result.output
    assert _tables(target) == _tables(source)
    with target.app_context():
        from kb.search import query

        hits = query.search("refund").hits
        assert hits, "the restored instance's search index was not rebuilt"
        # New rows get new ids after the restored ones (PostgreSQL's sequences follow the rows).
        from kb.accounts import operations

        user = operations.create_user(email="new@example.com", name="New", role="agent", password="a-new-passphrase-9")
        db.session.commit()
        assert user.id > max(db.session.scalars(select(User.id).where(User.id != user.id)))
    login = target.test_client().post("/login", data={"email": "leo@example.com", "password": "expert-demo"})
    assert login.status_code in (302, 400)  # the page answers; the account came back (CSRF aside)


def test_refused_backups_and_restores_change_nothing(make_app, tmp_path):
    source = _seeded(make_app)
    runner = source.test_cli_runner()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    result = runner.invoke(args=["backup", str(busy)])
    assert result.exit_code == 1 and "not empty" in result.output and "Traceback" not in result.output
    assert os.listdir(busy) == ["keep.txt"]

    folder = tmp_path / "backup"
    assert runner.invoke(args=["backup", str(folder)]).exit_code == 0
    # Into an instance that already holds data: refused.
    result = runner.invoke(args=["restore", str(folder)])
    assert result.exit_code == 1 and "already holds" in result.output

    # A damaged backup: refused, and the empty target stays empty.
    target = make_app("target")
    cards = folder / "tables" / "cards.jsonl"
    lines = cards.read_text().splitlines()
    cards.write_text("\n".join(lines[:-1]) + "\n")
    result = target.test_cli_runner().invoke(args=["restore", str(folder)])
    assert result.exit_code == 1 and "damaged" in result.output and "Traceback" not in result.output
    with target.app_context():
        assert db.session.scalar(select(func.count()).select_from(Card)) == 0
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
    (folder / "manifest.json").write_text("{not json")
    result = target.test_cli_runner().invoke(args=["restore", str(folder)])
    assert result.exit_code == 1 and "manifest.json is damaged" in result.output
    result = target.test_cli_runner().invoke(args=["restore", str(tmp_path)])
    assert result.exit_code == 1 and "is not a kb backup" in result.output

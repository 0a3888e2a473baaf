"""`kb backup DIR` and `kb restore DIR`: every table as read in one consistent snapshot, plus the cards in
kb's export format (readable, and importable into another kb), written to a new folder atomically.

The same files restore on SQLite and PostgreSQL alike, so a backup also moves an instance from one to the
other. The search index is not backed up: it is a projection of the database and is rebuilt on restore.
"""
import base64
import json
import os
import shutil
from datetime import date, datetime

from flask_migrate import upgrade
from sqlalchemy import Boolean, Date, DateTime, LargeBinary, func, insert, select, text

from kb.dates import UTCDateTime, utcnow
from kb.extensions import db

FORMAT = 1
MANIFEST = "manifest.json"
CHUNK = 1000


class BackupError(Exception):
    """A backup or restore that cannot go ahead; nothing was written."""


def _revision(connection):
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _encode(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _decoder(column):
    kind = column.type
    if isinstance(kind, UTCDateTime | DateTime):
        return datetime.fromisoformat
    if isinstance(kind, Date):
        return date.fromisoformat
    if isinstance(kind, LargeBinary):
        return base64.b64decode
    if isinstance(kind, Boolean):
        return bool
    return None


def backup(folder):
    """Write the backup into `folder` (which must not exist). Returns the manifest."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    from kb.cards import transfer

    try:
        version = installed("kb")
    except PackageNotFoundError:
        version = "unknown"

    folder = os.path.abspath(folder)
    if os.path.exists(folder) and os.listdir(folder):
        raise BackupError(f"{folder} exists and is not empty: give a new folder")
    staging = folder.rstrip(os.sep) + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(os.path.join(staging, "tables"))
    session = db.session
    connection = session.connection(execution_options={"isolation_level": "REPEATABLE READ"}
                                    if db.engine.dialect.name == "postgresql" else {})
    try:
        counts = {}
        for table in db.metadata.sorted_tables:
            path = os.path.join(staging, "tables", f"{table.name}.jsonl")
            with open(path, "w", encoding="utf-8") as out:
                count = 0
                for row in connection.execute(select(table).order_by(*table.primary_key.columns)):
                    out.write(json.dumps({k: _encode(v) for k, v in row._mapping.items()}, ensure_ascii=False))
                    out.write("\n")
                    count += 1
            counts[table.name] = count
        with open(os.path.join(staging, "cards.jsonl"), "w", encoding="utf-8") as out:
            for line in transfer.export_lines():  # the same snapshot: this session's transaction
                out.write(line if line.endswith("\n") else line + "\n")
        manifest = {"format": FORMAT, "kb": version, "schema": _revision(connection),
                    "backend": db.engine.dialect.name, "created_at": utcnow().isoformat(), "tables": counts}
    finally:
        session.rollback()
    with open(os.path.join(staging, MANIFEST), "w", encoding="utf-8") as out:
        json.dump(manifest, out, indent=2, sort_keys=True)
    for root, _, files in os.walk(staging):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                os.fsync(handle.fileno())
    if os.path.exists(folder):
        os.rmdir(folder)
    os.replace(staging, folder)
    return manifest


def read_manifest(folder):
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a kb backup (no {MANIFEST})") from None
    except (ValueError, UnicodeDecodeError):
        raise BackupError(f"{path} is damaged (not JSON)") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} is a backup of format {manifest.get('format')!r}; this kb reads format {FORMAT}")
    return manifest


def restore(folder):
    """Load a backup into this instance's database, which must be empty (a fresh `kb init`), then rebuild
    the search index. All or nothing. Returns the manifest."""
    from kb.models import Card, User
    from kb.search import index as search_index

    manifest = read_manifest(folder)
    if _is_unmigrated():
        upgrade(revision=manifest["schema"])
    connection = db.session.connection()
    current = _revision(connection)
    if current != manifest["schema"]:
        raise BackupError(f"the backup's schema is {manifest['schema']} and this database's is {current}: restore "
                          f"into an empty database made by the kb version that wrote the backup ({manifest['kb']}), "
                          f"then upgrade kb and run `kb init`")
    if db.session.scalar(select(func.count()).select_from(User)) or db.session.scalar(
            select(func.count()).select_from(Card)):
        raise BackupError("this database already holds accounts or cards: restore into an empty instance "
                          "(a new KB_INSTANCE_PATH or database, then `kb init`)")
    try:
        if db.engine.dialect.name == "sqlite":
            connection.execute(text("PRAGMA defer_foreign_keys=ON"))
        for table in db.metadata.sorted_tables:
            connection.execute(table.delete())  # rows a fresh `kb init` may have made (none today)
            decoders = {c.name: d for c in table.columns if (d := _decoder(c)) is not None}
            path = os.path.join(folder, "tables", f"{table.name}.jsonl")
            if not os.path.exists(path):
                raise BackupError(f"{path} is missing: the backup is incomplete")
            batch, count = [], 0
            with open(path, encoding="utf-8") as handle:
                for number, line in enumerate(handle, 1):
                    try:
                        row = json.loads(line)
                    except ValueError:
                        raise BackupError(f"{path}, line {number}: damaged (not JSON)") from None
                    for name, decode in decoders.items():
                        if row.get(name) is not None:
                            row[name] = decode(row[name])
                    batch.append(row)
                    count += 1
                    if len(batch) >= CHUNK:
                        connection.execute(insert(table), batch)
                        batch = []
            if batch:
                connection.execute(insert(table), batch)
            if count != manifest["tables"].get(table.name, 0):
                raise BackupError(f"{path} holds {count} rows and the manifest says "
                                  f"{manifest['tables'].get(table.name, 0)}: the backup is damaged")
        _reset_sequences(connection)
        db.session.commit()
    except BackupError:
        db.session.rollback()
        raise
    except Exception as error:
        db.session.rollback()
        raise BackupError(f"the backup does not fit this database ({type(error).__name__}: {error}); "
                          f"nothing was restored") from None
    search_index.reindex()
    return manifest


def _is_unmigrated():
    from sqlalchemy import inspect

    return "alembic_version" not in inspect(db.engine).get_table_names()


def _reset_sequences(connection):
    """PostgreSQL: the next id of each table follows the restored rows, not 1."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        keys = list(table.primary_key.columns)
        if len(keys) == 1 and keys[0].autoincrement in (True, "auto") and keys[0].type.python_type is int:
            name = keys[0].name
            connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', '{name}'), "
                f"COALESCE((SELECT MAX({name}) FROM {table.name}), 0) + 1, false)"))

"""Flask extensions, created unbound so that any module can import them without cycles."""
import os
from urllib.parse import quote

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event, exc
from sqlalchemy.engine import Engine, make_url

# Named constraints, so that migrations can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING))
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Limits are declared where they apply (the API); the key is chosen there too.
limiter = Limiter(get_remote_address, default_limits=[])


def insert_ignoring_conflicts(table):
    """INSERT that skips rows another transaction inserted meanwhile (SQLite and PostgreSQL), so that two
    overlapping runs of a job cannot fail on a unique key."""
    name = db.session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        return table.insert()
    return insert(table).on_conflict_do_nothing()


def init_app(app):
    db.init_app(app)
    _guard_sqlite_file(app)
    migrate.init_app(
        app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"), render_as_batch=True
    )
    # current_user reaches templates as the lazy proxy, not loaded for every page: the public FAQ never
    # touches the session, so its pages carry no `Vary: Cookie` and proxies can share them.
    login_manager.init_app(app, add_context_processor=False)
    app.context_processor(lambda: {"current_user": current_user})
    csrf.init_app(app)
    limiter.init_app(app)
    app.register_error_handler(exc.OperationalError, database_unavailable)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite: enforce foreign keys, and let several workers share the file (WAL, wait on locks)."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


# -- The SQLite file: never a new empty one behind the operator's back ------------------------------------

def sqlite_file(app):
    """The database file of a SQLite URL, else None (other databases, memory, `file:` URIs chosen by hand)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or url.query \
            or url.database.startswith("file:"):
        return None
    return os.path.join(app.instance_path, url.database)


def require_database(app):
    """Refuse to serve without a database: connecting would create an empty SQLite file and serve it."""
    from kb import ConfigError

    path = sqlite_file(app)
    if path and not os.path.exists(path):
        raise ConfigError(f"No database at {path}: run `kb init` to create it (or set KB_DATABASE_URL).")


def _guard_sqlite_file(app):
    """SQLite creates a missing file at connect. Once this app has seen its file, a connection opens it in
    `mode=rw`, so that a file deleted while serving is an error, not a new empty database taking the writes;
    a pooled connection still holding the deleted (or replaced) file is dropped at checkout for that reason.
    Only an app whose file did not exist yet (`kb init`, a test's fresh instance) creates it, once."""
    path = sqlite_file(app)
    if path is None:
        return
    with app.app_context():
        engine = db.engine
    seen = {"file": os.path.exists(path)}

    @event.listens_for(engine, "do_connect")
    def existing_file_only(dialect, connection_record, cargs, cparams):
        if seen["file"]:
            cargs[:] = ["file:" + quote(path) + "?mode=rw"]
            cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def remember_file(dbapi_connection, connection_record):
        seen["file"] = True
        connection_record.info["kb_inode"] = os.stat(path).st_ino

    @event.listens_for(engine, "checkout")
    def same_file(dbapi_connection, connection_record, connection_proxy):
        try:
            inode = os.stat(path).st_ino
        except FileNotFoundError:
            inode = None
        if inode != connection_record.info.get("kb_inode"):
            raise exc.DisconnectionError(f"the database file {path} was deleted or replaced")


def database_unavailable(error):
    """A database that cannot be opened (deleted, unreachable, locked past the timeout) is a 503 that says
    so and acknowledges nothing; the page must not need the database itself."""
    from flask import current_app, jsonify

    from kb.web import error_page, wants_json

    db.session.rollback()
    current_app.logger.error("Database unavailable: %s", error.orig if hasattr(error, "orig") else error)
    message = "The database is unavailable, so nothing was saved. Please try again in a moment."
    if wants_json():
        return jsonify(error={"code": "database_unavailable", "message": message}), 503
    return error_page(503, "Service unavailable", message)  # falls back to plain HTML if the page needs the db

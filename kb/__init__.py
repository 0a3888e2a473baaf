"""kb: a knowledge base of verified answer cards for customer-support teams."""
import os

from flask import Flask

# A wheel carries the top-level templates/ and static/ inside the package (setup.py copies them at build
# time); a source checkout, editable install included, serves the top-level folders themselves.
_HERE = os.path.dirname(__file__)
_PACKAGED = os.path.isdir(os.path.join(_HERE, "templates"))
TEMPLATE_FOLDER = "templates" if _PACKAGED else "../templates"
STATIC_FOLDER = "static" if _PACKAGED else "../static"


class ConfigError(RuntimeError):
    """A setting is missing or invalid; raised at start-up so it is never silent."""


def create_app(config=None, instance_path=None):
    """Build the application.

    Settings load in this order, later ones winning: `kb.config` defaults, `instance/config.py`,
    `KB_*` environment variables, then `config` (tests pass their overrides here).
    The instance folder is `instance_path`, else `KB_INSTANCE_PATH`, else Flask's default.
    """
    instance_path = instance_path or os.environ.get("KB_INSTANCE_PATH") or None
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path) if instance_path else None,
        instance_relative_config=True,
        template_folder=TEMPLATE_FOLDER,
        static_folder=STATIC_FOLDER,
    )
    app.config.from_object("kb.config")
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("KB")
    if config:
        app.config.from_mapping(config)
    os.makedirs(app.instance_path, exist_ok=True)
    _derive_settings(app)
    _behind_proxy(app)

    from kb import cli, deferred, extensions, logs, markup, web
    from kb.accounts import auth, sso
    from kb.accounts import views as admin_views
    from kb.cards import views as card_views
    from kb.channels import admin as token_admin
    from kb.channels import api, faq
    from kb.search import index  # noqa: F401  (applies the change feed after every commit)
    from kb.search import views as search_views
    from kb.verification import checker  # noqa: F401  (keeps card status current at every commit)
    from kb.verification import views as verification_views

    logs.init_app(app)
    extensions.init_app(app)
    deferred.init_app(app)
    markup.init_app(app)
    web.init_app(app)
    auth.init_app(app)
    cli.init_app(app)
    app.register_blueprint(auth.bp)
    sso.init_app(app)
    app.register_blueprint(card_views.bp)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(verification_views.bp)
    app.register_blueprint(search_views.bp)
    api.init_app(app)
    app.register_blueprint(faq.bp)
    app.register_blueprint(token_admin.bp)
    from kb.onboarding import views as onboarding_views

    onboarding_views.init_app(app)
    from kb.accounts import cohort_views

    cohort_views.init_app(app)
    return app


def _derive_settings(app):
    """Fill settings that depend on others, and refuse an unsafe production start."""
    cfg = app.config
    if not cfg.get("SECRET_KEY"):
        if cfg.get("TESTING") or app.debug:
            cfg["SECRET_KEY"] = os.urandom(32).hex()
        else:
            raise ConfigError(
                "No secret key: set KB_SECRET_KEY in the environment or SECRET_KEY in "
                f"{os.path.join(app.instance_path, 'config.py')} (`make run` writes one)."
            )
    url = cfg.get("DATABASE_URL") or "sqlite:///" + os.path.join(app.instance_path, "kb.sqlite")
    # One spelling for every PostgreSQL URL, with the psycopg 3 driver.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix):]
    cfg["SQLALCHEMY_DATABASE_URI"] = url
    cfg["INDEX_DIR"] = cfg.get("INDEX_DIR") or os.path.join(app.instance_path, "search-index")
    cfg["VECTORS_DIR"] = cfg.get("VECTORS_DIR") or cfg["INDEX_DIR"].rstrip(os.sep) + "-vectors"
    cfg["OUTBOX_DIR"] = cfg.get("OUTBOX_DIR") or os.path.join(app.instance_path, "outbox")


PROXY_HEADERS = ("for", "proto", "host", "prefix")


def _behind_proxy(app):
    """Trust `X-Forwarded-*` from this many proxies (PROXY_FIX_X_FOR, …; 0, the default, ignores the header,
    which anyone can send). Then URLs name the public host and scheme, and each caller's address, not the
    proxy's, is what logs and rate limits see. E-mails keep using EXTERNAL_URL."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    hops = {}
    for name in PROXY_HEADERS:
        key = f"PROXY_FIX_X_{name.upper()}"
        value = app.config.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) and not str(value).isdigit():
            raise ConfigError(f"{key} must be a number of proxies (0 = off), not {value!r}.")
        hops[f"x_{name}"] = int(value)
    if any(hops.values()):
        app.wsgi_app = ProxyFix(app.wsgi_app, **hops)

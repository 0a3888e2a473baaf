"""Site-wide page plumbing: error pages, security headers and template wiring. Domain rules live in their
domain (status in `kb.verification.status`, card lookups beside the card views)."""
import json

from flask import current_app, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from kb import dates, hygiene
from kb.accounts import permissions
from kb.extensions import db
from kb.ids import DatabaseInt
from kb.verification.notify import link_of, unread_count
from kb.verification.status import status_of


def wants_json():
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or best == "application/json"


# The page served when even the error page cannot be rendered (the database is gone, say): no template,
# no query, nothing that can fail again.
PLAIN_ERROR_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><p>{code}</p><h1>{title}</h1><p>{message}</p><p><a href="/">Back to the knowledge base</a></p></body></html>
"""

# Template globals that query the database on every page (the header and its banners), and what each shows
# when the query fails: an error page must not fail again on them.
QUERYING_GLOBALS = {"unread_notifications": 0, "open_pushes": (), "is_lead": False, "has_onboarding": False}


def _recover_session():
    """A failed flush or statement leaves the session unusable until it is rolled back; the error page queries
    (the signed-in user, the header's banners), so roll back first. Nothing of the failed request is kept."""
    try:
        db.session.rollback()
    except Exception:  # the connection itself is gone: the page falls back to the plain one if it must
        current_app.logger.exception("Could not roll back the database session")


def error_page(code, title, message):
    """The error page; if rendering it fails too, a plain HTML page that cannot."""
    _recover_session()
    try:
        return render_template("errors/error.html", code=code, title=title, message=message), code
    except Exception:
        current_app.logger.exception("The error page failed; serving the plain one")
        _recover_session()
        page = PLAIN_ERROR_PAGE.format(code=code, title=escape(title), message=escape(message))
        return current_app.response_class(page, code, mimetype="text/html")


def fail_soft(function, empty):
    """`function`, returning `empty` instead of raising when the database fails (after a rollback)."""

    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except SQLAlchemyError:
            current_app.logger.exception("A template helper's query failed; showing %r", empty)
            _recover_session()
            return empty

    return call


def fail_soft_globals():
    """A context processor: the querying globals, fail-soft. Read at render time, because other modules
    (onboarding) register theirs after this one."""
    found = current_app.jinja_env.globals
    return {name: fail_soft(found[name], empty) for name, empty in QUERYING_GLOBALS.items() if name in found}


def handle_http_error(error):
    """Every HTTP error as a page (or JSON for API clients), never a bare stack trace."""
    if error.response is not None:  # the error brings its own page (the sign-in page when throttled)
        return error.response
    if isinstance(error, CSRFError):
        code, title, message = 400, "Form expired", (
            "This form was missing its security token or it expired. Go back, reload the page and try again."
        )
    else:
        code, title, message = error.code or 500, error.name, error.description
    if code == 404 and request.path.startswith("/faq/"):  # a URL no FAQ route matched: the FAQ's own page
        from kb.channels import faq

        _recover_session()
        return faq.not_found(error)
    if wants_json():
        response = error.get_response()  # keeps headers such as Allow (405) and Retry-After (429)
        response.data = json.dumps({"error": {"code": title.lower().replace(" ", "_").replace("'", ""),
                                              "message": message}})
        response.content_type = "application/json"
        return response
    return error_page(code, title, message)


def handle_unexpected(error):
    current_app.logger.exception("Unhandled error")
    if wants_json():
        _recover_session()
        return jsonify(error={"code": "internal_error", "message": "Something went wrong on our side."}), 500
    return error_page(500, "Something went wrong",
                      "The error has been logged. Nothing you typed was saved by this request; please try again.")


def set_security_headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'",
    )
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Pages that never read the session (the public FAQ) are the same for everyone: no `Vary: Cookie`
    (Flask-Login looks at the session after every request, which would otherwise add it), so proxies and
    browsers can share them."""

    def save_session(self, app, session, response):
        if request.blueprint == "faq" and not session.modified:
            session.accessed = False
        return super().save_session(app, session, response)


def init_app(app):
    app.url_map.converters["int"] = DatabaseInt
    hygiene.init_app(app)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
    app.after_request(set_security_headers)
    app.context_processor(fail_soft_globals)
    app.session_interface = SessionInterface()
    app.jinja_env.filters["datetime"] = dates.format_datetime
    app.jinja_env.filters["date"] = dates.format_date
    app.jinja_env.globals.update(
        status_of=status_of,
        can_edit=lambda card: permissions.can_edit(current_user, card),
        can_verify=lambda card: permissions.can_verify(current_user, card),
        can_write_in=lambda collection: permissions.can_write_in(current_user, collection),
        is_admin=lambda: permissions.is_admin(current_user),
        csrf_form=FlaskForm,
        brand=lambda: current_app.config["BRAND_NAME"],
        unread_notifications=lambda: unread_count(current_user) if current_user.is_authenticated else 0,
        is_verifier=lambda: permissions.is_verifier(current_user),
        notification_link=link_of,
    )

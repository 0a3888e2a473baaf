"""Site-wide page plumbing: error pages, template helpers, security headers."""
import json

from flask import current_app, flash, jsonify, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from kb import dates
from kb.accounts import permissions
from kb.dates import utcnow, zone
from kb.extensions import db
from kb.validation import Invalid
from kb.verification import policy
from kb.verification.facts import facts_for, user_is_active_at
from kb.verification.notify import unread_count


def wants_json():
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return request.path.startswith("/api/") or best == "application/json"


def handle_http_error(error):
    """Every HTTP error as a page (or JSON for API clients), never a bare stack trace."""
    if isinstance(error, CSRFError):
        code, title, message = 400, "Form expired", (
            "This form was missing its security token or it expired. Go back, reload the page and try again."
        )
    else:
        code, title, message = error.code or 500, error.name, error.description
    if code == 404 and request.path.startswith("/faq/"):  # a URL no FAQ route matched: the FAQ's own page
        from kb.channels import faq

        return faq.not_found(error)
    if wants_json():
        response = error.get_response()  # keeps headers such as Allow (405) and Retry-After (429)
        response.data = json.dumps({"error": {"code": title.lower().replace(" ", "_").replace("'", ""),
                                              "message": message}})
        response.content_type = "application/json"
        return response
    return render_template("errors/error.html", code=code, title=title, message=message), code


def handle_unexpected(error):
    current_app.logger.exception("Unhandled error")
    if wants_json():
        return jsonify(error={"code": "internal_error", "message": "Something went wrong on our side."}), 500
    return render_template(
        "errors/error.html", code=500, title="Something went wrong",
        message="The error has been logged. Nothing you typed was saved by this request; please try again."
    ), 500


def save(form, write, aliases=None):
    """Run a write and commit it: returns (True, result). If the input is refused, roll back, show each
    reason on its form field (renamed through `aliases`) and return (False, None)."""
    try:
        result = write()
    except Invalid as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            field = getattr(form, (aliases or {}).get(name, name), None)
            (field.errors if field is not None else form.form_errors).append(message[0].upper() + message[1:])
        return False, None
    db.session.commit()
    return True, result


def status_of(card, now=None):
    """The card's status for lists: time-based reasons live, the rest from the state stored at the last
    commit or check (cheap for a page of cards; the card page itself uses the exact facts)."""
    now = now or utcnow()
    if card.state is None:  # never evaluated yet (e.g. just migrated): ask the exact way
        return policy.evaluate(facts_for(card, now), now, current_app.config["WARNING_DAYS"], zone())
    stored = set(card.state.reasons.split(",")) if card.state.reasons else set()
    owner_active = user_is_active_at(card.owner, now)
    extra = {
        "open_flags": int(policy.FLAGGED in stored),
        "changed_links": (None,) if policy.LINK_CHANGED in stored else (),
        "owner_active": owner_active,
        "team_has_verifiers": policy.ORPHANED not in stored or not owner_active,
    }
    return policy.card_status(card, now, current_app.config["WARNING_DAYS"], zone(), **extra)


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


MAX_ID = 2**63 - 1  # the largest id a database integer column holds


class DatabaseInt(IntegerConverter):
    """`<int:…>` in every route: only ids a database column can hold, so a huge number is a 404, not a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def db_int(value):
    """`type=` for ids read from query strings and forms: a positive id a column can hold, else ValueError
    (so `request.args.get(name, type=db_int)` gives None)."""
    number = int(value)
    if not 0 < number <= MAX_ID:
        raise ValueError(f"{value!r} is not an id")
    return number


def flash_form_errors(form, prefix):
    """One flash with every reason a form was refused (for forms that redirect instead of re-rendering)."""
    messages = [m for errors in form.errors.values() for m in errors if isinstance(m, str)] + list(form.form_errors)
    flash(prefix + ": " + "; ".join(messages), "error")


def init_app(app):
    app.url_map.converters["int"] = DatabaseInt
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
    app.after_request(set_security_headers)
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
    )

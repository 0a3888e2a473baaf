"""Signing in and out, and the rule that every page but a few needs a signed-in user."""
import functools
import math
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from kb.accounts.emails import email_key
from kb.accounts.operations import find_user, has_password
from kb.dates import utcnow
from kb.extensions import db, limiter, login_manager
from kb.models import User

bp = Blueprint("auth", __name__)

# Endpoints anyone may reach. Blueprints for the public FAQ add theirs here.
PUBLIC_ENDPOINTS = {"auth.login", "sso.start", "sso.callback", "static"}


class LoginForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=512)])
    remember = BooleanField("Keep me signed in on this device")


def is_safe_next(target):
    """Only a path on this site ("/cards/12?x=1"), never a URL that a browser could read as another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


@login_manager.user_loader
def load_user(token):
    user = db.session.scalar(select(User).filter_by(session_token=token))
    # A deactivated or expired account is signed out on its next request, not at next login.
    return user if user is not None and user.is_active else None


def require_login():
    """Every page needs a signed-in user, except login, the public FAQ and static files. The API reads
    its bearer token here and checks scopes per endpoint (kb.channels.api.require)."""
    if request.path.startswith("/api/"):
        from kb.channels import api

        return api.authenticate()
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS or request.blueprint == "faq":
        return None
    if not current_user.is_authenticated:
        accept = request.headers.get("Accept", "")
        if request.path.endswith(".json") or request.is_json or ("json" in accept and "html" not in accept):
            # A script asked (Copy answer, the preview): it gets an answer it can read, not the sign-in page.
            return jsonify(error={"code": "unauthorized", "message": "You are signed out: sign in again."}), 401
        return login_manager.unauthorized()
    return None


@functools.cache
def _dummy_hash(method):
    return generate_password_hash("no account has this password", method=method)


def authenticate(email, password):
    """The account these credentials open, or None. An unknown e-mail, or an account that never chose a
    password, costs one hash check too (against a dummy hash made the same way), so that the time a
    refusal takes does not tell which e-mails have accounts."""
    user = find_user(email)
    if user is None or not has_password(user):
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password or "")
        return None
    return user if user.check_password(password) else None


def _account_key():
    """The throttle's key for the account a sign-in names: the e-mail as accounts compare it."""
    return "account:" + email_key(request.form.get("email", ""))[:254]


def _failed(response):
    """Only refused sign-ins count against the limits: a successful one is never held back by them."""
    return response.status_code == 400


def _too_many_attempts(request_limit):
    """The sign-in page again, with a 429, the wait and Retry-After, instead of the generic error page."""
    wait = max(1, math.ceil(request_limit.reset_at - time.time()))
    page = render_template("accounts/login.html", form=LoginForm(),
                           throttled=f"Too many attempts; try again in {wait} seconds.")
    response = current_app.make_response((page, 429))
    response.headers["Retry-After"] = str(wait)
    return response


def _throttle(setting, **kwargs):
    return limiter.limit(lambda: current_app.config[setting], methods=["POST"], deduct_when=_failed,
                         on_breach=_too_many_attempts, **kwargs)


def start_session(user, remember=False):
    """Sign `user` in on a fresh session (and so a fresh CSRF secret): nothing planted in the session before
    sign-in survives it. Every way in (password, set-password link, SSO) goes through here."""
    session.clear()
    login_user(user, remember=remember)


@bp.route("/login", methods=["GET", "POST"])
@_throttle("LOGIN_RATE_LIMIT_ADDRESS")
@_throttle("LOGIN_RATE_LIMIT_ACCOUNT", key_func=_account_key)
def login():
    form = LoginForm()
    next_url = request.args.get("next")
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is None:
            form.password.errors.append("Wrong e-mail or password.")
        elif not user.is_active:
            form.email.errors.append("This account is deactivated or has expired; ask an admin.")
        else:
            start_session(user, remember=form.remember.data)
            user.last_login_at = utcnow()
            db.session.commit()
            return redirect(next_url if is_safe_next(next_url) else url_for("cards.home"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout():
    """Signing out rotates the account's session token, so that every session and "keep me signed in"
    cookie of the account stops working, a copied one included. Without a table of sessions kb cannot end
    this device's session alone, so signing out ends them all, and says so."""
    if current_user.is_authenticated:
        current_user.sign_out_everywhere()
        db.session.commit()
    logout_user()
    session.pop("csrf_token", None)
    flash("You are signed out (on every device).", "info")
    return redirect(url_for("auth.login"))


def init_app(app):
    if app.config.get("REMEMBER_COOKIE_SECURE") is None:
        app.config["REMEMBER_COOKIE_SECURE"] = app.config["SESSION_COOKIE_SECURE"]
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see this page."
    login_manager.login_message_category = "info"
    app.before_request(require_login)

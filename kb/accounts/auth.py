"""Signing in and out, and the rule that every page but a few needs a signed-in user."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from kb.accounts.operations import find_user
from kb.dates import utcnow
from kb.extensions import db, login_manager
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


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    next_url = request.args.get("next")
    if form.validate_on_submit():
        user = find_user(form.email.data)
        if user is None or not user.check_password(form.password.data):
            form.password.errors.append("Wrong e-mail or password.")
        elif not user.is_active:
            form.email.errors.append("This account is deactivated or has expired; ask an admin.")
        else:
            login_user(user, remember=form.remember.data)
            user.last_login_at = utcnow()
            db.session.commit()
            return redirect(next_url if is_safe_next(next_url) else url_for("cards.home"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.post("/logout")
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def init_app(app):
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see this page."
    login_manager.login_message_category = "info"
    app.before_request(require_login)

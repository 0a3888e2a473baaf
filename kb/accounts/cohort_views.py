"""Cohort pages: a lead imports hires from a CSV, sees what the import did and downloads its links once; a
hire opens their set-password link. Thin: the rules live in kb.accounts.cohort and kb.accounts.links."""
from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from sqlalchemy import select
from wtforms import BooleanField, DateField, PasswordField, SelectField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from kb.accounts import cohort, links, permissions
from kb.cards.forms import options
from kb.dates import local_day
from kb.extensions import db, limiter
from kb.models import ROLES, Team, UserImport
from kb.validation import Invalid

bp = Blueprint("cohorts", __name__)

LEAD_ROLES = ("agent", "expert")  # what a lead may give; only admins make admins
ERRORS_SHOWN = 200  # bad lines listed on the page (the count says how many more)


class ImportForm(FlaskForm):
    file = FileField("Cohort file (CSV: email, name, role, expires)", validators=[FileRequired()])
    team = SelectField("Team", coerce=int)
    expires = DateField("Accounts work until (last day, inclusive)", validators=[Optional()])
    role = SelectField("Role of new accounts (where a line gives none)", default="agent")
    dry_run = BooleanField("Check only: report what would change, write nothing")


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(max=512)])
    confirm = PasswordField("Repeat it", validators=[DataRequired(), EqualTo("password", "The two passwords differ.")])


def _led_teams():
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    return [t for t in teams if permissions.leads(current_user, t)]


def _allowed_roles():
    return ROLES if permissions.is_admin(current_user) else LEAD_ROLES


def _leads_only():
    if not permissions.is_lead(current_user):
        abort(403, "Only team leads and admins can import a cohort.")


@bp.url_value_preprocessor
def _bigger_uploads(endpoint, values):
    """A cohort file may be larger than a card form (COHORT_MAX_BYTES, with room for the form around it).
    Set here, not in before_request: the app's CSRF check reads the body before any blueprint hook runs."""
    if endpoint == "cohorts.new_import":
        request.max_content_length = current_app.config["COHORT_MAX_BYTES"] + 64 * 1024


@bp.route("/cohorts/import", methods=["GET", "POST"])
def new_import():
    _leads_only()
    form = ImportForm()
    teams = _led_teams()
    form.team.choices = options((t.id, t.name) for t in teams)
    form.role.choices = options((r, r.capitalize()) for r in _allowed_roles())
    problems, extra = [], 0
    if form.validate_on_submit():
        team = next((t for t in teams if t.id == form.team.data), None)
        if form.expires.data is not None and form.expires.data < local_day():
            form.expires.errors.append("This day is in the past.")
        else:
            try:
                rows = cohort.parse(form.file.data.read(current_app.config["COHORT_MAX_BYTES"] + 1),
                                    allowed_roles=_allowed_roles())
            except cohort.CohortRefused as exc:
                problems, extra = exc.lines()[:ERRORS_SHOWN], max(0, len(exc.problems) - ERRORS_SHOWN)
            else:
                result = cohort.apply(rows, team, form.expires.data, form.role.data, current_user)
                if form.dry_run.data:
                    db.session.rollback()
                    flash("Check only, nothing written: " + result.summary() + ".", "info")
                    return render_template("cohorts/import.html", form=form, problems=[], extra=0), 200
                db.session.commit()
                cohort.hand_out(result)
                flash(f"Imported into {team.name}: {result.summary()}.", "success")
                return redirect(url_for("cohorts.show_import", import_id=result.user_import.id))
    status = 400 if request.method == "POST" else 200
    return render_template("cohorts/import.html", form=form, problems=problems, extra=extra), status


def _get_import(import_id):
    """The import, for the person who ran it and admins (who also stand in for a command run without --by)."""
    record = db.session.get(UserImport, import_id) or abort(404, "There is no such import.")
    if not (permissions.is_admin(current_user) or record.created_by_id == current_user.id):
        abort(403, "Only the person who ran this import (and admins) can open it.")
    return record


@bp.get("/cohorts/imports/<int:import_id>")
def show_import(import_id):
    record = _get_import(import_id)
    return render_template("cohorts/imported.html", record=record, mail=links.mail_configured())


@bp.post("/cohorts/imports/<int:import_id>/links.csv")
def download_links(import_id):
    record = _get_import(import_id)
    if record.created_by_id not in (None, current_user.id):
        abort(403, "Only the lead who ran this import can download its links.")
    try:
        text = cohort.download_links(record, current_user)
    except Invalid as exc:
        db.session.rollback()
        flash("The links " + exc.errors["links"] + ".", "error")
        return redirect(url_for("cohorts.show_import", import_id=record.id))
    db.session.commit()
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="set-password-links-{record.id}.csv"',
        "Cache-Control": "no-store"})


@bp.route("/set-password/<secret>", methods=["GET", "POST"])
@limiter.limit("30 per minute")
def set_password(secret):
    """Anyone holding the link; no sign-in needed (the hire has no password yet)."""
    form = SetPasswordForm()
    try:
        link = links.find(secret)
    except links.LinkRefused as exc:
        return render_template("accounts/set_password.html", form=None, refused=str(exc)), 410
    if form.validate_on_submit():
        try:
            user = links.redeem(secret, form.password.data)
        except Invalid as exc:
            db.session.rollback()
            form.password.errors.append("The password " + exc.errors["password"] + ".")
        except links.LinkRefused as exc:  # used by another tab meanwhile
            db.session.rollback()
            return render_template("accounts/set_password.html", form=None, refused=str(exc)), 410
        else:
            db.session.commit()
            from kb.accounts.auth import start_session

            logout_user()
            start_session(user)
            flash("Your password is set: you are signed in. Next time, sign in with your e-mail address and it.",
                  "success")
            return redirect(url_for("onboarding.mine"))
    status = 400 if request.method == "POST" else 200
    return render_template("accounts/set_password.html", form=form, user=link.user, refused=None), status


def init_app(app):
    from kb.accounts.auth import PUBLIC_ENDPOINTS

    PUBLIC_ENDPOINTS.add("cohorts.set_password")
    app.register_blueprint(bp)

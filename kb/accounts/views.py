"""Admin pages: users, teams and memberships, collections, and the audit trail."""
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, DateField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from kb.accounts import operations, permissions
from kb.cards import operations as card_operations
from kb.cards.forms import CollectionForm, options
from kb.extensions import db
from kb.forms import save
from kb.ids import db_int
from kb.models import ROLES, AuditEvent, Card, Collection, Membership, Team, User

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
def admins_only():
    if not permissions.is_admin(current_user):
        abort(403, "Only admins can open the admin pages.")


class UserForm(FlaskForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    role = SelectField("Role", choices=options((r, r.capitalize()) for r in ROLES))
    teams = SelectMultipleField("Teams", coerce=int)
    expires_on = DateField("Account expires after (seasonal hires)", validators=[Optional()])
    active = BooleanField("Active", default=True)
    password = PasswordField("Password (leave empty to keep)", validators=[Optional(), Length(max=512)])


class TeamForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    description = TextAreaField("Description", validators=[Length(max=2000)])


class MemberForm(FlaskForm):
    user = SelectField("Person", coerce=int)
    is_lead = BooleanField("Team lead")


def _team_options():
    return options((t.id, t.name) for t in db.session.scalars(select(Team).order_by(Team.name)))


def _teams_choices(form):
    form.teams.choices = _team_options()


def _selected_teams(form):
    return [db.session.get(Team, team_id) for team_id in form.teams.data or []]


@bp.get("/")
def index():
    return redirect(url_for("admin.users"))


@bp.get("/users")
def users():
    rows = db.session.scalars(select(User).order_by(User.active.desc(), User.name)).all()
    return render_template("admin/users.html", users=rows, today=date.today())


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = UserForm()
    _teams_choices(form)
    if form.validate_on_submit():
        saved, user = save(form, lambda: operations.create_user(
            email=form.email.data, name=form.name.data, role=form.role.data, password=form.password.data or "",
            teams=_selected_teams(form), expires_on=form.expires_on.data, actor=current_user,
        ))
        if saved:
            flash(f"Account created for {user.email}.", "success")
            return redirect(url_for("admin.users"))
    return render_template("admin/user_form.html", form=form, user=None), 400 if form.errors else 200


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def edit_user(user_id):
    user = db.session.get(User, user_id) or abort(404, "No such user.")
    form = UserForm(obj=user if request.method == "GET" else None)
    _teams_choices(form)
    if request.method == "GET":
        form.teams.data = [m.team_id for m in user.memberships]
    if form.validate_on_submit():
        def write():
            operations.update_user(
                user, actor=current_user, email=form.email.data, name=form.name.data, role=form.role.data,
                active=form.active.data, expires_on=form.expires_on.data, password=form.password.data or None,
            )
            operations.set_teams(user, _selected_teams(form), actor=current_user)

        if save(form, write)[0]:
            flash(f"Saved {user.email}.", "success")
            return redirect(url_for("admin.users"))
    owned = db.session.scalar(select(func.count()).select_from(Card).filter_by(owner_id=user.id, is_archived=False))
    return render_template("admin/user_form.html", form=form, user=user, owned=owned), 400 if form.errors else 200


@bp.get("/teams")
def teams():
    rows = db.session.scalars(select(Team).order_by(Team.name)).all()
    return render_template("admin/teams.html", teams=rows, form=TeamForm())


@bp.post("/teams")
def create_team():
    form = TeamForm()
    if form.validate_on_submit():
        saved, team = save(form, lambda: operations.create_team(
            name=form.name.data, description=form.description.data, actor=current_user))
        if saved:
            flash(f"Team {team.name} created.", "success")
            return redirect(url_for("admin.team", team_id=team.id))
    rows = db.session.scalars(select(Team).order_by(Team.name)).all()
    return render_template("admin/teams.html", teams=rows, form=form), 400


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
def team(team_id):
    team_ = db.session.get(Team, team_id) or abort(404, "No such team.")
    form = MemberForm()
    form.user.choices = options((u.id, f"{u.name} ({u.email})")
                                for u in db.session.scalars(select(User).where(User.active).order_by(User.name)))
    if form.validate_on_submit():
        user = db.session.get(User, form.user.data) or abort(400, "No such user.")
        operations.set_membership(team_, user, actor=current_user, is_lead=form.is_lead.data)
        db.session.commit()
        flash(f"{user.name} is now {'a lead' if form.is_lead.data else 'a member'} of {team_.name}.", "success")
        return redirect(url_for("admin.team", team_id=team_.id))
    return render_template("admin/team.html", team=team_, form=form), 400 if form.errors else 200


@bp.post("/teams/<int:team_id>/members/<int:user_id>/remove")
def remove_member(team_id, user_id):
    team_ = db.session.get(Team, team_id) or abort(404, "No such team.")
    membership = db.session.get(Membership, (user_id, team_id)) or abort(404, "Not a member.")
    operations.set_membership(team_, membership.user, actor=current_user, member=False)
    db.session.commit()
    flash(f"Removed {membership.user.name} from {team_.name}.", "success")
    return redirect(url_for("admin.team", team_id=team_id))


def _collection_form(collection=None):
    form = CollectionForm(obj=collection if request.method == "GET" else None)
    form.team.choices = _team_options()
    if collection is not None and request.method == "GET":
        form.team.data = collection.team_id
    return form


@bp.get("/collections")
def collections():
    rows = db.session.scalars(select(Collection).order_by(Collection.position, Collection.name)).all()
    return render_template("admin/collections.html", collections=rows)


@bp.route("/collections/new", methods=["GET", "POST"])
@bp.route("/collections/<int:collection_id>", methods=["GET", "POST"])
def edit_collection(collection_id=None):
    collection = None
    if collection_id is not None:
        collection = db.session.get(Collection, collection_id) or abort(404, "No such collection.")
    form = _collection_form(collection)
    if form.validate_on_submit():
        team_ = db.session.get(Team, form.team.data)
        fields = dict(name=form.name.data, team=team_, description=form.description.data,
                      default_interval_days=form.default_interval_days.data, is_public=form.is_public.data)
        if collection is None:
            saved, collection = save(form, lambda: card_operations.create_collection(
                actor=current_user, slug=form.slug.data or None, **fields))
        else:
            saved, _ = save(form, lambda: card_operations.update_collection(
                collection, actor=current_user, slug=form.slug.data or collection.slug, **fields))
        if saved:
            flash(f"Saved collection {collection.name}.", "success")
            return redirect(url_for("admin.collections"))
    return render_template("admin/collection_form.html", form=form, collection=collection), \
        400 if form.errors else 200


@bp.get("/audit")
def audit_log():
    page = request.args.get("page", 1, type=db_int)
    rows = db.paginate(select(AuditEvent).order_by(AuditEvent.id.desc()), page=page, per_page=50, error_out=False)
    return render_template("admin/audit.html", events=rows)

"""Admins create and revoke API tokens. The secret is shown once, on the page that created it."""
from flask import Blueprint, abort, flash, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.utils import redirect
from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from kb.accounts import views as admin_views
from kb.cards.forms import options
from kb.channels import tokens
from kb.extensions import db
from kb.forms import save
from kb.models import ApiToken

bp = Blueprint("tokens", __name__, url_prefix="/admin/tokens")


bp.before_request(admin_views.admins_only)


class TokenForm(FlaskForm):
    name = StringField("Name (who or what uses it)", validators=[DataRequired(), Length(max=80)])
    scopes = SelectMultipleField("Scopes", choices=options((k, f"{k}: {v}") for k, v in tokens.SCOPES.items()),
                                 validators=[DataRequired("Choose at least one scope.")],
                                 option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False))


class RevokeForm(FlaskForm):
    pass


@bp.route("/", methods=["GET", "POST"])
def index():
    form, secret = TokenForm(), None
    if form.validate_on_submit():
        saved, result = save(form, lambda: tokens.create(form.name.data, form.scopes.data, current_user))
        if saved:
            token, secret = result
            flash(f"Token “{token.name}” created. Copy its secret now: it will not be shown again.", "success")
            form = TokenForm(formdata=None)
    status = 400 if form.errors else 200
    return render_template("admin/tokens.html", form=form, secret=secret, tokens=tokens.all_tokens(),
                           revoke=RevokeForm()), status


@bp.post("/<int:token_id>/revoke")
def revoke(token_id):
    form = RevokeForm()
    token = db.session.get(ApiToken, token_id)
    if token is None:
        abort(404, f"There is no token {token_id}.")
    if form.validate_on_submit():
        tokens.revoke(token, current_user)
        db.session.commit()
        flash(f"Token “{token.name}” revoked: requests with it are refused from now on.", "success")
    return redirect(url_for("tokens.index"))

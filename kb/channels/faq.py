"""The public FAQ (no login): public collections and their served cards, in the verified wording only."""
from flask import Blueprint, abort

bp = Blueprint("faq", __name__, url_prefix="/faq")


@bp.get("/")
def index():
    abort(404)


@bp.get("/<slug>")
def collection(slug):
    abort(404)


@bp.get("/cards/<int:card_id>")
@bp.get("/cards/<int:card_id>-<slug>")
def card(card_id, slug=None):
    abort(404)

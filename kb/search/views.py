"""Search pages: results with facets, the as-you-type JSON endpoint, copies, gaps and synonyms."""
from flask import (
    Blueprint,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from kb.accounts import permissions
from kb.cards.forms import options
from kb.cards.views import get_card
from kb.channels import copy
from kb.dates import utcnow
from kb.deferred import later
from kb.extensions import db
from kb.forms import flash_form_errors, save
from kb.ids import db_int
from kb.models import Collection, SynonymSet, Team
from kb.search import gaps, service, synonyms, usage, vectors
from kb.search import index as search_index
from kb.search.forms import RequestForm, SynonymForm, SynonymImportForm
from kb.validation import Invalid
from kb.verification import policy

bp = Blueprint("search", __name__)


@bp.get("/search")
def page():
    """Full results with facets (works without JavaScript); recent and most-used cards when empty."""
    try:
        params = service.params_from(request.args)
    except Invalid as error:
        flash("Search: " + "; ".join(error.errors.values()), "error")
        params = service.Params(q=request.args.get("q", ""), filters=service.query.Filters())
    try:
        results, search_id = service.run(params, current_user, facets=True, explain="explain" in request.args
                                         and permissions.is_verifier(current_user))
        rebuilding = False
    except search_index.Rebuilding:
        results, search_id, rebuilding = service.rebuilding(params), None, True
    body = service.results_json(results, search_id, explain="explain" in request.args)
    empty = not (params.q or "").strip()
    return render_template(
        "search/results.html", params=params, body=body, results=results, search_id=search_id,
        facet_url=_facet_url, page_url=lambda cursor: _url_with(cursor=[cursor]), rebuilding=rebuilding,
        recent=usage.recently_viewed(current_user) if empty else [],
        popular=usage.most_used() if empty else [], statuses=policy.LABELS,
        collections=db.session.scalars(select(Collection).order_by(Collection.name)).all(),
    )


def _url_with(**changes):
    args = request.args.to_dict(flat=False)
    args.pop("cursor", None)
    args.update(changes)
    return url_for("search.page", **{k: v for k, v in args.items() if v})


def _facet_url(name, value, on):
    """The page with a facet value added to (or, when on, removed from) the filters."""
    values = [v for v in request.args.getlist(name) if v != value] + ([] if on else [value])
    return _url_with(**{name: values})


@bp.get("/cards/<int:card_id>/answer.json")
def answer(card_id):
    """What "Copy answer" puts on the clipboard: the served wording as chat-ready text, its placeholders,
    its links to internal cards, and whether it is only a draft (see `kb.channels.copy`)."""
    return jsonify(copy.for_agent(get_card(card_id)).as_json())


@bp.post("/cards/<int:card_id>/copied")
def copied(card_id):
    """Count a copy (the clipboard itself is the browser's business), after the response."""
    card = get_card(card_id)
    later(usage.record, card.id, current_user.id, "copy", search_ref=request.form.get("sid", "")[:32] or None,
          now=utcnow())
    return jsonify(ok=True)


@bp.get("/search/similar")
def similar():
    """Cards like the one being written (duplicate check in the editor)."""
    title = request.args.get("title", "")[:300]
    exclude = request.args.get("exclude", type=db_int)
    if len(title.split()) < 2 and len(title) < 8:
        return jsonify(results=[])
    params = service.Params(q=title, filters=service.query.Filters(), limit=6)
    try:
        results, _ = service.run(params, current_user, log=False)
    except search_index.Rebuilding:
        return jsonify(results=[])
    hits = [h for h in results.hits if h.id != exclude][:5]
    return jsonify(results=[{"id": h.id, "title": h.title, "status": h.status,
                             "url": url_for("cards.detail", card_id=h.id)} for h in hits])


def _experts_only():
    if not permissions.is_verifier(current_user):
        abort(403, "The gap report is for experts and admins.")


@bp.get("/search/gaps")
def gap_report():
    _experts_only()
    days = request.args.get("days", 30, type=int)
    days = days if days in (7, 30, 90, 365) else 30
    rows = gaps.report(days)
    form = RequestForm()
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    form.team.choices = options([(0, "— choose a team —")] + [(t.id, t.name) for t in teams])
    return render_template("search/gaps.html", rows=rows, days=days, form=form,
                           requests=gaps.open_requests())


@bp.post("/search/gaps/request")
def request_card():
    _experts_only()
    form = RequestForm()
    form.team.choices = options([(0, "")] + [(t.id, t.name) for t in db.session.scalars(select(Team))])
    if form.validate_on_submit():
        team = db.session.get(Team, form.team.data) if form.team.data else None
        ok, req = save(form, lambda: gaps.request_card(form.normalized.data, team, current_user))
        if ok:
            flash(f"Card requested from {req.team.name}; its experts were told.", "success")
        else:
            flash_form_errors(form, "No request made")
    else:
        flash_form_errors(form, "No request made")
    return redirect(url_for("search.gap_report"))


def _admins_only():
    if not permissions.is_admin(current_user):
        abort(403, "Only admins manage search.")


@bp.get("/admin/search")
def search_status():
    """The index and the semantic layer of this host: how far embedding has got after a rebuild."""
    _admins_only()
    semantic = vectors.status()
    total = semantic["vectors"] + semantic["waiting"]
    return render_template("search/status.html", index=search_index.status(), semantic=semantic,
                           progress=int(100 * semantic["vectors"] / total) if total else 100)


@bp.route("/admin/synonyms", methods=["GET", "POST"])
def synonym_sets():
    _admins_only()
    form, import_form = SynonymForm(prefix="add"), SynonymImportForm(prefix="import")
    if "add-terms" in request.form and form.validate_on_submit():
        if save(form, lambda: synonyms.add_set(form.terms.data, current_user))[0]:
            flash("Synonyms added; searches use them from now on.", "success")
            return redirect(url_for("search.synonym_sets"))
    if "import-text" in request.form and import_form.validate_on_submit():
        ok, count = save(import_form, lambda: synonyms.import_sets(import_form.text.data, current_user))
        if ok:
            flash(f"{count} synonym sets imported (replacing the previous ones).", "success")
            return redirect(url_for("search.synonym_sets"))
    rows = db.session.scalars(select(SynonymSet).order_by(SynonymSet.id)).all()
    status = 400 if request.method == "POST" else 200
    return render_template("search/synonyms.html", rows=rows, form=form, import_form=import_form), status


@bp.post("/admin/synonyms/<int:set_id>")
def synonym_edit(set_id):
    _admins_only()
    row = db.session.get(SynonymSet, set_id) or abort(404, "No such synonym set.")
    form = SynonymForm()
    if request.form.get("delete"):
        if FlaskForm().validate_on_submit():  # the token only
            synonyms.delete_set(row, current_user)
            db.session.commit()
            flash("Synonym set deleted.", "success")
        return redirect(url_for("search.synonym_sets"))
    if form.validate_on_submit() and save(form, lambda: synonyms.update_set(row, form.terms.data, current_user))[0]:
        flash("Synonyms saved.", "success")
    else:
        flash_form_errors(form, "Synonyms not saved")
    return redirect(url_for("search.synonym_sets"))

"""Onboarding pages: a hire's paths and reader; a lead's path editor, assignments, pushes and report.

Views are thin: each write is one call into paths / reading / questions / pushes, committed here, with a
refused input flashed back and nothing changed (kb.forms.save rolls back)."""
from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from kb.accounts import permissions
from kb.accounts.auth import is_safe_next
from kb.cards.diff import diff_revisions
from kb.channels import serving
from kb.dates import utcnow
from kb.extensions import db
from kb.ids import db_int
from kb.models import Card, CheckQuestion, Path, PathAssignment, PathItem, PathSection, Push, Revision, Team
from kb.onboarding import paths, progress, pushes, questions, reading, report
from kb.validation import Invalid
from kb.verification.dashboard import trend_svg

bp = Blueprint("onboarding", __name__, url_prefix="/onboarding")


def _get(model, row_id, what):
    """The row of a route's or a form's id; a missing or malformed id (form fields may be absent or not a
    number: db_int raises then) is a 404 like an unknown one, never a 500."""
    try:
        number = db_int(row_id)
    except (TypeError, ValueError):
        number = None
    row = db.session.get(model, number) if number is not None else None
    if row is None:
        abort(404, f"There is no such {what}.")
    return row


def _lead_of(path):
    if not permissions.leads(current_user, path.team):
        abort(403, "Only the leads of this path's team (and admins) can change it.")
    return path


def _leads_only():
    if not permissions.is_lead(current_user):
        abort(403, "Only team leads and admins can open this page.")


def _write(action, done=None):
    """Run a write; commit it, or flash why it was refused (nothing changed). True when it was saved."""
    try:
        action()
    except Invalid as exc:
        db.session.rollback()
        flash("; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in exc.errors.items()), "error")
        return False
    db.session.commit()
    if done:
        flash(done, "success")
    return True


def _wants_json():
    return request.accept_mimetypes.best == "application/json" or request.is_json


# --- the hire's side ----------------------------------------------------------------------------------

@bp.get("/")
def mine():
    now = utcnow()
    rows = []
    for path, started, due in progress.assignments_of(current_user):
        cards = progress.load(path, now)
        rows.append((path, progress.progress_of(cards, {current_user.id: (started, due)}, now)[current_user.id]))
    return render_template("onboarding/mine.html", rows=rows, now=now, pending_pushes=pushes.open_for(current_user, 50))


def _served_revision(card):
    return serving.serve(card, serving.AGENTS).revision


def _diff_since(card_id, seen, served):
    """The changes between the revision a person read and the one served now (title and answer)."""
    if seen is None or served is None or seen == served.number:
        return []
    old = db.session.scalar(select(Revision).filter_by(card_id=card_id, number=seen))
    if old is None:
        return []
    return [d for d in diff_revisions(old, served) if d.changed and d.name in ("title", "answer")]


@bp.get("/paths/<int:path_id>/cards/<int:card_id>")
def read(path_id, card_id):
    path = _get(Path, path_id, "path")
    cards, mine = progress.for_user(current_user, path)
    index = next((n for n, i in enumerate(mine.items) if i.item.card_id == card_id), None)
    if index is None:
        abort(404, "This card is not in this path.")
    here = mine.items[index]
    served = cards.served[card_id].revision if here.available else None
    readable = [i for i in mine.items if i.available]
    position = readable.index(here) if here in readable else None
    previous = readable[position - 1] if position else None
    following = readable[position + 1] if position is not None and position + 1 < len(readable) else None
    changes = _diff_since(card_id, here.reading.read, served) if here.state == progress.UPDATED else []
    return render_template("onboarding/read.html", path=path, mine=mine, here=here, served=served,
                           previous=previous, following=following, changes=changes,
                           section=here.item.section, number=(position or 0) + 1, count=len(readable))


def _back_to_form():
    """Where the form came from, if it is a page of this site (never another host: no open redirect)."""
    back = request.form.get("back")
    return back if is_safe_next(back) else url_for("onboarding.mine")


def _after_reading(card, next_url):
    finished = progress.note_activity(current_user, card.id)
    db.session.commit()
    for path in finished:
        flash(f"You finished “{path.name}”. Well done!", "success")
    within = is_safe_next(next_url) and next_url.startswith("/onboarding/")
    return redirect(next_url if within else url_for("onboarding.mine"))


def _revision_field():
    try:
        return int(request.form.get("revision", ""))
    except ValueError:
        return None


@bp.post("/cards/<int:card_id>/read")
def mark_read(card_id):
    card = _get(Card, card_id, "card")
    if not _write(lambda: reading.mark_read(current_user, card, _revision_field())):
        return redirect(_back_to_form())
    return _after_reading(card, request.form.get("next"))


@bp.post("/cards/<int:card_id>/acknowledge")
def acknowledge(card_id):
    card = _get(Card, card_id, "card")
    if not _write(lambda: reading.acknowledge(current_user, card, _revision_field()), "Thank you: acknowledged."):
        return redirect(_back_to_form())
    return _after_reading(card, request.form.get("next"))


@bp.post("/questions/<int:question_id>/answer")
def answer(question_id):
    question = _get(CheckQuestion, question_id, "question")
    try:
        row = questions.answer(current_user, question, request.form.get("choice"))
        progress.note_activity(current_user, question.card_id)
    except Invalid as exc:
        db.session.rollback()
        if _wants_json():
            return jsonify(error={"code": "invalid", "message": exc.errors.get("choice", "invalid answer")}), 400
        flash("Choose one of the answers.", "error")
        return redirect(_back_to_form())
    db.session.commit()
    result = {"correct": row.correct, "attempts": row.attempts,
              "explanation": question.explanation, "right": question.choices[question.correct] if row.correct else None}
    if _wants_json():
        return jsonify(result)
    flash(("Right. " if row.correct else "Not quite: read the card again and retry. ") + (
        question.explanation if row.correct else ""), "success" if row.correct else "error")
    return redirect(_back_to_form())


@bp.get("/pushes/<int:push_id>")
def pushed(push_id):
    item = _get(Push, push_id, "item")
    receipt = pushes.receipt(item.id, current_user)
    if receipt is None and not permissions.is_lead(current_user):
        abort(404, "This item was not sent to you.")
    served = _served_revision(item.card)
    row = reading.reads_of(current_user.id, [item.card_id]).get(item.card_id)
    changes = _diff_since(item.card_id, row.revision_number if row else None, served)
    done, total = pushes.tally(item)
    return render_template("onboarding/pushed.html", item=item, receipt=receipt, served=served, changes=changes,
                           done=done, total=total, now=utcnow(),
                           waiting=pushes.waiting(item) if permissions.is_lead(current_user) else [])


# --- the lead's side ----------------------------------------------------------------------------------

def _led_teams():
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    return [t for t in teams if permissions.leads(current_user, t)]


@bp.get("/paths")
def path_list():
    _leads_only()
    rows = db.session.scalars(select(Path).order_by(Path.name)).all()
    return render_template("onboarding/paths.html", paths=rows, teams=_led_teams(),
                           pushes=pushes.recent(), tally=pushes.tally)


@bp.post("/paths")
def create_path():
    _leads_only()
    team = _get(Team, request.form.get("team"), "team")
    if not permissions.leads(current_user, team):
        abort(403, "You can create paths for the teams you lead.")
    made = {}

    def write():
        sections = [s for s in (request.form.get("sections") or "").splitlines() if s.strip()] or ["Day 1"]
        made["path"] = paths.create_path(name=request.form.get("name"), team=team, actor=current_user,
                                         description=request.form.get("description"), sections=sections)
    if _write(write, "Path created: add its cards."):
        return redirect(url_for("onboarding.edit_path", path_id=made["path"].id))
    return redirect(url_for("onboarding.path_list"))


@bp.get("/paths/<int:path_id>")
def edit_path(path_id):
    path = _lead_of(_get(Path, path_id, "path"))
    cards = progress.load(path)
    found = []
    if request.args.get("find"):
        found = paths.find_cards(request.args["find"], exclude_ids=cards.card_ids)
    teams = db.session.scalars(select(Team).order_by(Team.name)).all()
    return render_template("onboarding/edit.html", path=path, cards=cards, warnings=dict(
        (item.id, why) for item, why in cards.warnings()), found=found, find=request.args.get("find", ""),
        teams=[t for t in teams if permissions.leads(current_user, t)], all_teams=teams)


def _back(path):
    return redirect(url_for("onboarding.edit_path", path_id=path.id) + (request.form.get("anchor") or ""))


@bp.post("/paths/<int:path_id>/update")
def update_path(path_id):
    path = _lead_of(_get(Path, path_id, "path"))
    _write(lambda: paths.update_path(path, name=request.form.get("name"), description=request.form.get(
        "description"), actor=current_user), "Saved.")
    return _back(path)


@bp.post("/paths/<int:path_id>/sections")
def add_section(path_id):
    path = _lead_of(_get(Path, path_id, "path"))
    _write(lambda: paths.add_section(path, request.form.get("title"), current_user), "Section added.")
    return _back(path)


def _section(path, section_id):
    section = _get(PathSection, section_id, "section")
    if section.path_id != path.id:
        abort(404, "This section is not in this path.")
    return section


def _item(path, item_id):
    item = _get(PathItem, item_id, "card of the path")
    if item.path_id != path.id:
        abort(404, "This card is not in this path.")
    return item


@bp.post("/paths/<int:path_id>/sections/<int:section_id>")
def change_section(path_id, section_id):
    path = _lead_of(_get(Path, path_id, "path"))
    section = _section(path, section_id)
    action = request.form.get("action")
    if action == "rename":
        _write(lambda: paths.rename_section(section, request.form.get("title"), current_user), "Renamed.")
    elif action == "delete":
        _write(lambda: paths.remove_section(section, current_user), "Section removed.")
    elif action in ("up", "down"):
        _write(lambda: paths.move(path, "section", section.id, -1 if action == "up" else 1, current_user))
    else:
        abort(400, "Unknown action.")
    return _back(path)


@bp.post("/paths/<int:path_id>/items")
def add_item(path_id):
    path = _lead_of(_get(Path, path_id, "path"))
    section = _section(path, request.form.get("section"))
    card = _get(Card, request.form.get("card"), "card")
    _write(lambda: paths.add_card(path, section, card, current_user,
                                  must_acknowledge=request.form.get("must_acknowledge") == "1"),
           f"Added “{card.title}” to {section.title}.")
    return _back(path)


@bp.post("/paths/<int:path_id>/items/<int:item_id>")
def change_item(path_id, item_id):
    path = _lead_of(_get(Path, path_id, "path"))
    item = _item(path, item_id)
    action = request.form.get("action")
    if action in ("up", "down"):
        _write(lambda: paths.move(path, "item", item.id, -1 if action == "up" else 1, current_user))
    elif action == "acknowledge":
        _write(lambda: paths.set_must_acknowledge(item, not item.must_acknowledge, current_user))
    elif action == "remove":
        _write(lambda: paths.remove_item(item, current_user), "Removed from the path (the card itself is unchanged).")
    else:
        abort(400, "Unknown action.")
    return _back(path)


@bp.post("/paths/<int:path_id>/layout")
def layout(path_id):
    """The drag-and-drop (and keyboard) editor's new order, as JSON: {"sections": [[id, [item ids]], …]}."""
    path = _lead_of(_get(Path, path_id, "path"))
    data = request.get_json(silent=True) or {}
    try:
        paths.apply_layout(path, data.get("sections") or [], current_user)
    except (Invalid, AttributeError, TypeError) as exc:
        db.session.rollback()
        message = "; ".join(exc.errors.values()) if isinstance(exc, Invalid) else "not a layout"
        return jsonify(error={"code": "invalid", "message": message}), 400
    db.session.commit()
    return jsonify(ok=True)


@bp.post("/paths/<int:path_id>/assign")
def assign(path_id):
    path = _lead_of(_get(Path, path_id, "path"))
    team = user = None
    if request.form.get("team"):
        team = _get(Team, request.form.get("team"), "team")
        if not permissions.leads(current_user, team):
            abort(403, "You can assign paths to the teams you lead.")
    elif request.form.get("email"):
        from kb.accounts.operations import find_user

        user = find_user(request.form.get("email"))
        if user is None:
            flash("Nobody has this e-mail address.", "error")
            return _back(path)
        if not permissions.is_admin(current_user) and not any(permissions.leads(current_user, t) for t in user.teams):
            abort(403, "You can assign paths to people in the teams you lead.")
    _write(lambda: paths.assign(path, actor=current_user, team=team, user=user,
                                due_days=request.form.get("due_days")), "Assigned.")
    return _back(path)


@bp.post("/paths/<int:path_id>/assignments/<int:assignment_id>/delete")
def unassign(path_id, assignment_id):
    path = _lead_of(_get(Path, path_id, "path"))
    assignment = _get(PathAssignment, assignment_id, "assignment")
    if assignment.path_id != path.id:
        abort(404, "No such assignment.")
    _write(lambda: paths.unassign(assignment, current_user), "Assignment removed (progress is kept).")
    return _back(path)


def _report_args(path):
    choice = request.args.get("cohort", "")
    team = None
    if choice and choice != "individual":
        team = _get(Team, choice, "team")
    elif not choice:
        first = next((a for a in path.assignments if a.team_id is not None), None)
        team = first.team if first else None
    sort = request.args.get("sort", "name")
    status = request.args.get("status", "all")
    return dict(team=team, sort=sort if sort in report.SORTS else "name", descending=request.args.get("dir") == "desc",
                status=status if status in report.FILTERS else "all", text=request.args.get("q", "")[:100])


@bp.get("/paths/<int:path_id>/report")
def path_report(path_id):
    _leads_only()
    path = _get(Path, path_id, "path")
    args = _report_args(path)
    built = report.build(path, **args)
    chart = trend_svg(built.chart, title="Share of the cohort that finished the path, by day",
                      empty="Nobody has this path yet.")
    cohorts = [a.team for a in path.assignments if a.team_id is not None]
    return render_template("onboarding/report.html", path=path, r=built, args=args, chart=chart, cohorts=cohorts,
                           titles=built.cards.titles, sorts=report.SORTS, filters=report.FILTERS)


@bp.get("/paths/<int:path_id>/report.csv")
def path_report_csv(path_id):
    _leads_only()
    path = _get(Path, path_id, "path")
    built = report.build(path, **_report_args(path))
    name = "".join(ch if ch.isalnum() else "-" for ch in path.name.lower())[:60]
    return Response(report.to_csv(built), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}-report.csv"'})


@bp.route("/pushes/new", methods=["GET", "POST"])
def new_push():
    _leads_only()
    teams = _led_teams()
    card = _get(Card, request.values.get("card"), "card") if request.values.get("card") else None
    if request.method == "POST" and card is not None:
        chosen = [t for t in teams if str(t.id) in request.form.getlist("teams")]
        made = {}

        def write():
            made["push"] = pushes.push(card, chosen, due_hours=request.form.get("due_hours"), actor=current_user,
                                       message=request.form.get("message"))
        if _write(write):
            done, total = pushes.tally(made["push"])
            flash(f"Sent to {total} people; {done} had already acknowledged this wording.", "success")
            return redirect(url_for("onboarding.pushed", push_id=made["push"].id))
    found = paths.find_cards(request.args.get("find", "")) if request.args.get("find") else []
    return render_template("onboarding/new_push.html", card=card, teams=teams, found=found,
                           served=_served_revision(card) if card else None)


@bp.route("/cards/<int:card_id>/questions", methods=["GET", "POST"])
def card_questions(card_id):
    card = _get(Card, card_id, "card")
    if not (permissions.can_edit(current_user, card) or permissions.is_lead(current_user)):
        abort(403, "The card's editors and team leads write its check questions.")
    if request.method == "POST":
        if request.form.get("delete"):
            question = _get(CheckQuestion, request.form.get("delete"), "question")
            if question.card_id != card.id:
                abort(404, "No such question on this card.")
            _write(lambda: questions.remove(question, current_user), "Question removed.")
        else:
            _write(lambda: questions.add(card, prompt=request.form.get("prompt"),
                                         choices=request.form.getlist("choice"), correct=request.form.get("correct"),
                                         explanation=request.form.get("explanation"), actor=current_user),
                   "Question added.")
        return redirect(url_for("onboarding.card_questions", card_id=card.id))
    return render_template("onboarding/questions.html", card=card,
                           questions=questions.of_cards([card.id]).get(card.id, []))


@bp.post("/verifications/<int:verification_id>/classify")
def classify(verification_id):
    from kb.models import Verification

    verification = _get(Verification, verification_id, "verification")
    card = verification.card
    if not (permissions.can_verify(current_user, card) or permissions.is_lead(current_user)):
        abort(403, "The card's verifiers and team leads decide this.")
    _write(lambda: reading.classify(verification, request.form.get("change_kind"), current_user), "Saved.")
    return redirect(url_for("cards.history", card_id=card.id))


def open_pushes():
    """For the banner on every page (a Jinja global)."""
    return pushes.open_for(current_user)


def init_app(app):
    app.register_blueprint(bp)
    app.jinja_env.globals.update(open_pushes=open_pushes, is_lead=lambda: permissions.is_lead(current_user),
                                 has_onboarding=lambda: _has_onboarding(current_user))


def _has_onboarding(user):
    if not getattr(user, "is_authenticated", False):
        return False
    team_ids = [m.team_id for m in user.memberships]
    return db.session.scalar(select(PathAssignment.id).where(
        (PathAssignment.user_id == user.id) | PathAssignment.team_id.in_(team_ids or [-1])).limit(1)) is not None

"""Card pages: home, collections, a card, the editor, verification, history and diffs."""
import json

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from kb import markup
from kb.accounts import permissions
from kb.cards import operations
from kb.cards.diff import diff_revisions
from kb.cards.forms import CardForm, VerifyForm, options
from kb.channels import serving
from kb.dates import utcnow
from kb.deferred import later
from kb.extensions import db
from kb.forms import save
from kb.ids import db_int
from kb.models import VERIFIER_ROLES, Card, CardRequest, Collection, Team, User
from kb.onboarding import reading
from kb.search import gaps, usage
from kb.verification import flags
from kb.verification.facts import user_active_at
from kb.verification.forms import FlagForm
from kb.verification.notify import verifiers_of
from kb.verification.status import prefetch

bp = Blueprint("cards", __name__)
# Operation field names that the card form shows under another field.
CARD_FIELDS = {"interval_days": "custom_days"}
# What a list of cards shows (status, tags, owner, collection), loaded in a few queries instead of per card.
LIST_LOADING = (selectinload(Card.state), selectinload(Card.tags), selectinload(Card.owner),
                selectinload(Card.collection))


def get_card(card_id, check=None):
    """The card, or 404; with `check` (a permissions predicate) a 403 when the user may not act."""
    card = db.session.get(Card, card_id)
    if card is None:
        abort(404, f"There is no card {card_id}.")
    if check is not None and not check(current_user, card):
        abort(403, "You are not allowed to do this to this card.")
    return card


def get_collection(slug):
    collection = db.session.scalar(select(Collection).filter_by(slug=slug))
    if collection is None:
        abort(404, f"There is no collection {slug!r}.")
    return collection


@bp.get("/")
def home():
    counts = dict(
        db.session.execute(
            select(Card.collection_id, func.count()).where(~Card.is_archived).group_by(Card.collection_id)
        ).all()
    )
    collections = db.session.scalars(select(Collection).order_by(Collection.position, Collection.name)).all()
    live = select(Card).where(~Card.is_archived).options(*LIST_LOADING)
    recently_updated = db.session.scalars(live.order_by(Card.updated_at.desc()).limit(8)).all()
    recently_verified = db.session.scalars(
        live.where(Card.verified_at.is_not(None)).order_by(Card.verified_at.desc()).limit(8)
    ).all()
    prefetch(recently_updated + recently_verified)
    return render_template(
        "cards/home.html", collections=collections, counts=counts,
        recently_updated=recently_updated, recently_verified=recently_verified,
    )


@bp.get("/collections/<slug>")
def collection(slug):
    coll = get_collection(slug)
    show_archived = request.args.get("archived") == "1"
    query = select(Card).filter_by(collection_id=coll.id).order_by(Card.title).options(*LIST_LOADING)
    if not show_archived:
        query = query.where(~Card.is_archived)
    cards = prefetch(db.session.scalars(query).all())
    archived_count = db.session.scalar(
        select(func.count()).select_from(Card).filter_by(collection_id=coll.id, is_archived=True)
    )
    return render_template("cards/collection.html", collection=coll, cards=cards,
                           show_archived=show_archived, archived_count=archived_count)


@bp.get("/cards/<int:card_id>")
def detail(card_id, verify_form=None):
    """A card as agents read it: the served answer (what they copy), a pending edit beside it, status."""
    card = get_card(card_id)
    agents = serving.serve(card, serving.AGENTS)
    changes = None
    if agents.revision is not None and agents.pending is not None:
        changes = [d for d in diff_revisions(agents.revision, agents.pending) if d.changed]
    if verify_form is None:
        later(usage.record, card.id, current_user.id, "view", search_ref=request.args.get("sid", "")[:32] or None,
              now=utcnow())
    customers, chatbot = (serving.serve(card, serving.FAQ), serving.serve(card, serving.CHATBOT)) \
        if card.is_public else (None, None)
    return render_template(
        "cards/card.html", card=card, agents=agents, st=agents.state, verify_form=verify_form or VerifyForm(),
        changes_since_verified=changes, open_flags=flags.open_flags(card), flag_form=FlagForm(),
        customers=customers, chatbot=chatbot, verifiers=verifiers_of(card.verifier_team),
        current_placeholders=serving.placeholders_of(card),
        wording_changes=reading.wording_changes(card, card.revision_number), readers=reading.readers_count(card),
    ), 400 if verify_form is not None else 200


@bp.get("/cards/by-key/<key>")
def by_key(key):
    """Stable links between cards that survive export and import into another database."""
    card = db.session.scalar(select(Card).filter_by(link_key=key))
    if card is None:
        abort(404, f"There is no card with key {key!r}.")
    return redirect(url_for("cards.detail", card_id=card.id))


def _fill_choices(form, card=None):
    writable = [c for c in db.session.scalars(select(Collection).order_by(Collection.name))
                if permissions.can_write_in(current_user, c) or (card is not None and c.id == card.collection_id)]
    form.collection.choices = options((c.id, c.name) for c in writable)
    owners = db.session.scalars(
        select(User).where(user_active_at(utcnow()), User.role.in_(VERIFIER_ROLES)).order_by(User.name)
    ).all()
    if card is not None and card.owner not in owners:
        owners.append(card.owner)
    form.owner.choices = options((u.id, f"{u.name} ({u.email})") for u in owners)
    form.verifier_team.choices = options((t.id, t.name) for t in db.session.scalars(select(Team).order_by(Team.name)))


def _chosen(form):
    """The objects picked in the form's selects; 400 if a posted id does not exist."""
    coll = db.session.get(Collection, form.collection.data)
    owner = db.session.get(User, form.owner.data)
    team = db.session.get(Team, form.verifier_team.data)
    if coll is None or owner is None or team is None:
        abort(400, "The form refers to a collection, owner or team that does not exist.")
    if not permissions.can_write_in(current_user, coll):
        abort(403, f"You cannot write cards in {coll.name}.")
    return coll, owner, team


def preset_collection(form, collection, verifier_team=None):
    """Fill a new card's interval, audience and verifying team from its collection (or the request's team)."""
    form.collection.data = collection.id
    form.verifier_team.data = (verifier_team or collection.team).id
    form.set_interval(collection.default_interval_days)
    form.is_public.data = collection.is_public
    form.defaults_from.data = str(collection.id)


def follow_collection(form, card_request=None):
    """What the author left at the defaults of the collection the form was filled with follows the
    collection finally chosen (the editor's script does the same as they switch; this covers no script)."""
    shown_id = form.defaults_from.data or ""
    shown = db.session.get(Collection, int(shown_id)) if shown_id.isascii() and shown_id.isdigit() \
        and len(shown_id) < 19 else None
    chosen = db.session.get(Collection, form.collection.data or 0)
    if shown is None or chosen is None or shown.id == chosen.id:
        return
    if form.interval_days() == shown.default_interval_days:
        form.set_interval(chosen.default_interval_days)
    if form.is_public.data == shown.is_public:
        form.is_public.data = chosen.is_public
    if card_request is None and form.verifier_team.data == shown.team_id:
        form.verifier_team.data = chosen.team_id


def collection_defaults(form):
    """Each selectable collection's defaults, for the editor's script."""
    ids = [int(choice.value) for choice in form.collection.choices]
    return json.dumps({str(c.id): {"interval": c.default_interval_days, "public": c.is_public, "team": c.team_id}
                       for c in db.session.scalars(select(Collection).where(Collection.id.in_(ids)))})


@bp.route("/cards/new", methods=["GET", "POST"])
def new():
    form = CardForm()
    _fill_choices(form)
    if not form.collection.choices:
        abort(403, "You cannot create cards: no collection is owned by a team of yours.")
    card_request = db.session.get(CardRequest, request.values.get("request", type=db_int) or 0)
    if card_request is not None and card_request.fulfilled_at is not None:
        card_request = None
    if request.method == "GET":
        writable = [int(choice.value) for choice in form.collection.choices]
        preset = db.session.scalar(select(Collection).filter_by(slug=request.args.get("collection", "")))
        if preset is None or preset.id not in writable:
            # A request's card goes to a collection of the team asked, when the author may write there.
            owned = [c for c in db.session.scalars(select(Collection).where(Collection.id.in_(writable))
                                                   .order_by(Collection.position, Collection.name))]
            preset = next((c for c in owned if card_request and c.team_id == card_request.team_id), owned[0])
        preset_collection(form, preset, card_request.team if card_request else None)
        form.owner.data = current_user.id
        if card_request is not None:
            form.title.data = card_request.query
    if form.validate_on_submit():
        follow_collection(form, card_request)
        coll, owner, team = _chosen(form)

        def create():
            card = operations.create_card(
                collection=coll, owner=owner, verifier_team=team, author=current_user,
                title=form.title.data, answer=form.answer.data, internal_notes=form.internal_notes.data,
                tags=form.tags.data or "", interval_days=form.interval_days(), is_public=form.is_public.data,
                summary=form.summary.data or "Created")
            gaps.fulfil(card_request, card)  # the agent who asked hears that the card exists
            return card

        saved, card = save(form, create, CARD_FIELDS)
        if saved:
            flash("Card created. It is a draft until someone verifies it: until then nobody tells customers "
                  "its words.", "success")
            if not permissions.can_verify(current_user, card):
                who = ", ".join(u.name for u in verifiers_of(card.verifier_team)) or "nobody yet (ask an admin)"
                flash(f"{card.verifier_team.name} verifies it: {who}. They see it in their queue.", "info")
            return redirect(url_for("cards.detail", card_id=card.id))
    return render_template("cards/edit.html", form=form, card=None, card_request=card_request,
                           defaults=collection_defaults(form)), 400 if form.errors else 200


def _conflict(form, card, base_revision):
    """Tell an editor that someone saved the card since they opened it, and show what that person changed."""
    form.form_errors.append(
        f"Someone saved revision {card.revision_number} while you were editing revision "
        f"{base_revision}. Your text is below; their change is shown above it: compare, and save again."
    )
    if card.revision_number == base_revision:
        form.form_errors[-1] = ("Someone changed this card's settings while you were editing it, so nothing was "
                                "saved. Your text is below: check the settings, and save again.")
        return []
    base = operations.get_revision(card, base_revision)
    latest = operations.get_revision(card, card.revision_number)
    if base is None or latest is None or base is latest:
        return []
    return [d for d in diff_revisions(base, latest) if d.changed]


@bp.route("/cards/<int:card_id>/edit", methods=["GET", "POST"])
def edit(card_id):
    card = get_card(card_id, permissions.can_edit)
    form = CardForm(obj=card if request.method == "GET" else None)
    _fill_choices(form, card)
    base_revision = request.form.get("base_revision", type=db_int) or card.revision_number
    theirs, status = None, 200
    if request.method == "GET":
        form.tags.data = ", ".join(card.tag_names)
        form.collection.data, form.owner.data = card.collection_id, card.owner_id
        form.verifier_team.data = card.verifier_team_id
        form.set_interval(card.interval_days)
    elif form.validate_on_submit():
        if base_revision != card.revision_number:
            theirs, status = _conflict(form, card, base_revision), 400
            base_revision = card.revision_number
        else:
            coll, owner, team = _chosen(form)
            verify_too = form.verify_after.data and permissions.can_verify(current_user, card)

            def write():
                revision = operations.edit_card(
                    card, author=current_user, summary=form.summary.data,
                    title=form.title.data, answer=form.answer.data, internal_notes=form.internal_notes.data,
                    tags=form.tags.data or "", collection=coll, owner=owner, verifier_team=team,
                    interval_days=form.interval_days(), is_public=form.is_public.data, verifying=verify_too,
                )
                if verify_too:  # "edit and verify" in one step
                    operations.verify_card(card, current_user, note=form.summary.data or "Edited and verified",
                                           change_kind=form.change_kind.data)
                return revision

            try:
                saved, revision = save(form, write, CARD_FIELDS)
            except StaleDataError:  # lost the race: another save committed after this request read the card
                db.session.rollback()
                saved, card = False, get_card(card_id, permissions.can_edit)
                theirs, status = _conflict(form, card, base_revision), 409
                base_revision = card.revision_number
            if saved:
                if revision is None:
                    flash("Saved. The content did not change, so no new revision was made.", "info")
                else:
                    flash(f"Saved as revision {revision.number}.", "success")
                if verify_too:
                    flash(f"Verified revision {card.revision_number}.", "success")
                return redirect(url_for("cards.detail", card_id=card.id))
    if request.method == "POST" and status == 200:
        status = 400
    return render_template("cards/edit.html", form=form, card=card, base_revision=base_revision,
                           their_changes=theirs), status


@bp.post("/cards/preview")
def preview():
    """Live preview for the editor: the same sanitised rendering as the card page, within the same budget."""
    data = request.get_json(silent=True) or {}
    text = data.get("text", "")
    if not isinstance(text, str):
        abort(400, "Send {\"text\": \"...\"}.")
    try:
        return jsonify(html=str(markup.render(text)))
    except markup.TooComplex as exc:  # 200: the editor's script shows `html` as the preview, so the author reads why
        return jsonify(error=str(exc), html=str(markup.refusal(exc)))


@bp.post("/cards/<int:card_id>/verify")
def verify(card_id):
    card = get_card(card_id, permissions.can_verify)
    form = VerifyForm()
    seen = form.revision.data or ""
    seen = int(seen) if seen.isascii() and seen.isdigit() and len(seen) < 10 else None
    if seen is not None and seen != card.revision_number:
        return _verify_conflict(card_id, form, seen)
    if form.validate_on_submit() and reading.wording_changes(card, card.revision_number) \
            and not form.change_kind.data and reading.readers_count(card):
        form.change_kind.errors.append("say whether this change is material or minor for the people who read it")
        return detail(card_id, verify_form=form)
    try:
        verified = form.validate_on_submit() and save(form, lambda: operations.verify_card(
            card, current_user, note=form.note.data, source_url=form.source_url.data,
            change_kind=form.change_kind.data))[0]
    except StaleDataError:  # an edit committed while this verification was being written
        db.session.rollback()
        return _verify_conflict(card_id, form, seen or card.revision_number)
    if verified:
        flash(f"Verified revision {card.revision_number}. Thank you.", "success")
        return redirect(url_for("cards.detail", card_id=card.id))
    return detail(card_id, verify_form=form)


def _verify_conflict(card_id, form, seen):
    """Nobody verifies words they have not read: the card page again, with what changed, and a 409."""
    card = get_card(card_id, permissions.can_verify)
    form.form_errors.append(
        f"Someone saved revision {card.revision_number} while you were reading revision {seen}, so nothing was "
        "verified. Read the change below, then verify again." if card.revision_number != seen else
        "Someone changed this card while you were verifying it, so nothing was verified. Check it, then verify again.")
    page, _ = detail(card_id, verify_form=form)
    return page, 409


@bp.post("/cards/<int:card_id>/archive")
def archive(card_id):
    card = get_card(card_id, permissions.can_edit)
    archived = request.form.get("archived") != "0"
    if not _one_click(lambda: operations.set_archived(card, current_user, archived))[0]:
        return redirect(url_for("cards.detail", card_id=card_id))
    flash("Card archived: hidden from lists and never served." if archived else "Card restored from the archive.",
          "success")
    return redirect(url_for("cards.detail", card_id=card.id))


def _one_click(write):
    """Run and commit a one-click change: (True, its result); if another save of the card won the race,
    say so, change nothing and return (False, None)."""
    try:
        result = write()
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        flash("Someone saved this card at the same moment, so nothing was changed: look at it, and try again.",
              "error")
        return False, None
    return True, result


@bp.get("/cards/<int:card_id>/history")
def history(card_id):
    card = get_card(card_id)
    revisions = list(reversed(card.revisions))
    verified_numbers = {v.revision_number for v in card.verifications}
    return render_template("cards/history.html", card=card, revisions=revisions,
                           verified_numbers=verified_numbers)


@bp.get("/cards/<int:card_id>/revisions/<int:number>")
def revision(card_id, number):
    card = get_card(card_id)
    rev = operations.get_revision(card, number)
    if rev is None:
        abort(404, f"Card {card_id} has no revision {number}.")
    return render_template("cards/revision.html", card=card, revision=rev)


@bp.get("/cards/<int:card_id>/diff")
def diff(card_id):
    card = get_card(card_id)
    latest = card.revision_number
    old_n = request.args.get("from", type=db_int) or max(latest - 1, 1)
    new_n = request.args.get("to", type=db_int) or latest
    old, new_ = operations.get_revision(card, old_n), operations.get_revision(card, new_n)
    if old is None or new_ is None:
        abort(404, f"Card {card_id} has revisions 1 to {latest}.")
    return render_template("cards/diff.html", card=card, old=old, new=new_, fields=diff_revisions(old, new_),
                           numbers=range(latest, 0, -1))


@bp.post("/cards/<int:card_id>/revisions/<int:number>/restore")
def restore(card_id, number):
    card = get_card(card_id, permissions.can_edit)
    try:
        done, revision_ = _one_click(lambda: operations.restore_revision(card, number, current_user))
    except LookupError:
        abort(404, f"Card {card_id} has no revision {number}.")
    if not done:
        return redirect(url_for("cards.detail", card_id=card_id))
    if revision_ is None:
        flash(f"Revision {number} has the same content as the current one; nothing to restore.", "info")
    else:
        flash(f"Restored revision {number} as revision {revision_.number}. It needs verification.", "success")
    return redirect(url_for("cards.detail", card_id=card.id))

"""Pages of the verification workflow: the expert's queue, flags, notifications, the trust dashboard."""
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select, update

from kb import jobs
from kb.accounts import permissions
from kb.cards import operations
from kb.cards.forms import options
from kb.cards.views import get_card
from kb.dates import local, utcnow
from kb.deferred import later
from kb.extensions import db
from kb.forms import flash_form_errors, save
from kb.ids import db_int
from kb.models import VERIFIER_ROLES, Card, Collection, Flag, Notification, Team, User
from kb.search import conflicts
from kb.validation import Invalid
from kb.verification import dashboard, flags, policy
from kb.verification.facts import user_active_at
from kb.verification.forms import BulkForm, DismissForm, FlagForm
from kb.verification.status import current_instant, status_of

bp = Blueprint("verification", __name__)


def experts_only():
    if not permissions.is_verifier(current_user):
        abort(403, "The verification pages are for experts and admins.")


def deliver_quietly():
    """Send the e-mail of notifications just committed, after the response (an SMTP server never makes the
    page wait, nor breaks it), through the mail job's lease (never beside another process sending)."""
    later(jobs.run_now, "mail")


@bp.post("/cards/<int:card_id>/flags")
def flag(card_id):
    card = get_card(card_id)
    form = FlagForm()
    if form.validate_on_submit() and save(form, lambda: flags.flag_card(card, current_user, form.kind.data,
                                                                        form.comment.data))[0]:
        deliver_quietly()
        flash("Thank you. The card is marked as needing verification and its verifiers were told.", "success")
    elif form.errors or form.form_errors:
        flash_form_errors(form, "The flag was not saved")
    return redirect(url_for("cards.detail", card_id=card.id))


@bp.post("/flags/<int:flag_id>/dismiss")
def dismiss(flag_id):
    flag_ = db.session.get(Flag, flag_id) or abort(404, "No such flag.")
    if not permissions.can_verify(current_user, flag_.card):
        abort(403, "Only the card's verifiers can dismiss its flags.")
    form = DismissForm()
    if form.validate_on_submit() and save(form, lambda: flags.dismiss_flag(flag_, current_user, form.reason.data))[0]:
        deliver_quietly()
        flash("Flag dismissed; the agent who raised it was told why.", "success")
    else:
        flash_form_errors(form, "The flag was not dismissed")
    return redirect(url_for("cards.detail", card_id=flag_.card_id))


def _my_team_ids():
    if permissions.is_admin(current_user) and request.args.get("mine") != "1":
        return [t.id for t in db.session.scalars(select(Team))]
    return [m.team_id for m in current_user.memberships]


@bp.route("/verification/queue", methods=["GET", "POST"])
def queue():
    """My verifications, the customer's needs first (see `dashboard.queue`); verify or reassign several at once."""
    experts_only()
    now = current_instant()
    collection_id = request.args.get("collection", type=db_int)
    reason = request.args.get("reason") if request.args.get("reason") in policy.REASONS else None
    team_ids = _my_team_ids()
    rows = dashboard.queue(team_ids, now, collection_id, reason)
    form = BulkForm()
    form.cards.choices = options((row.card.id, row.card.title) for row in rows)
    people = db.session.scalars(select(User).where(user_active_at(now), User.role.in_(VERIFIER_ROLES))
                                .order_by(User.name)).all()
    form.owner.choices = options([(0, "— keep —")] + [(u.id, u.name) for u in people])
    form.verifier_team.choices = options([(0, "— keep —")] + [(t.id, t.name) for t in
                                                              db.session.scalars(select(Team).order_by(Team.name))])
    if form.validate_on_submit():
        chosen = db.session.scalars(select(Card).where(Card.id.in_(form.cards.data))).all()
        done = save(form, lambda: _bulk(form, chosen))[0]
        if done:
            deliver_quietly()
            verb = "Verified" if form.action.data == "verify" else "Reassigned"
            flash(f"{verb} {len(chosen)} card{'s' if len(chosen) != 1 else ''}.", "success")
            orphans = [c for c in chosen if policy.ORPHANED in status_of(c).reason_codes]
            if orphans:
                flash(f"{len(orphans)} of them still need an active owner or verifying team: reassign "
                      f"{'it' if len(orphans) == 1 else 'them'} to clear the queue.", "info")
            return redirect(request.full_path.rstrip("?"))
    collections = db.session.scalars(select(Collection).order_by(Collection.name)).all()
    return render_template("verification/queue.html", rows=rows, form=form, now=now, collections=collections,
                           collection_id=collection_id, reason=reason, reasons=policy.REASON_LABELS,
                           withheld=dashboard.withheld_from_faq(team_ids)), \
        400 if form.errors or form.form_errors else 200


def _bulk(form, cards):
    """All or nothing: every selected card must allow the action, or none is changed."""
    if form.action.data == "verify":
        refused = [c.title for c in cards if not permissions.can_verify(current_user, c)]
        if refused:
            raise Invalid({"cards": f"you cannot verify “{refused[0]}” (not your team's)"})
        # One instant for the batch: cards checked together do not flag each other as "a linked card changed".
        at = utcnow()
        for card in cards:
            operations.verify_card(card, current_user, note=form.note.data, source_url=form.source_url.data, at=at)
        return
    owner = db.session.get(User, form.owner.data) if form.owner.data else None
    team = db.session.get(Team, form.verifier_team.data) if form.verifier_team.data else None
    if owner is None and team is None:
        raise Invalid({"owner": "choose a new owner, a new verifying team, or both"})
    refused = [c.title for c in cards if not permissions.can_edit(current_user, c)]
    if refused:
        raise Invalid({"cards": f"you cannot reassign “{refused[0]}” (its collection belongs to another team)"})
    for card in cards:
        changes = {k: v for k, v in (("owner", owner), ("verifier_team", team)) if v is not None}
        operations.edit_card(card, author=current_user, **changes)


@bp.get("/verification/dashboard")
def trust_dashboard():
    experts_only()
    figures = dashboard.current_figures(utcnow())
    points = dashboard.trend(local(utcnow()).date(), figures["score"])
    return render_template("verification/dashboard.html", figures=figures, chart=dashboard.trend_svg(points),
                           points=points, stale=dashboard.stale_by_team_and_owner(figures["stale"]),
                           labels=policy.REASON_LABELS,
                           conflicts=conflicts.possible_conflicts())


@bp.get("/notifications")
def notifications():
    rows = db.session.scalars(select(Notification).filter_by(user_id=current_user.id)
                              .order_by(Notification.id.desc()).limit(200)).all()
    return render_template("verification/notifications.html", notifications=rows)


@bp.post("/notifications/read")
def mark_read():
    """Mark one notification (id in the form) or all of them read."""
    query = update(Notification).where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
    note_id = request.form.get("id", type=db_int)
    if note_id:
        query = query.where(Notification.id == note_id)
    db.session.execute(query.values(read_at=utcnow()))
    db.session.commit()
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/cards/") else url_for("verification.notifications"))

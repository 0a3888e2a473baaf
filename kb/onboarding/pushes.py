"""Pushed must-acknowledge items: a mid-season change every member of some teams must confirm within
hours. Each recipient has a receipt; it shows on top of every page until they acknowledge."""
from datetime import timedelta

from sqlalchemy import func, select

from kb import audit
from kb.dates import utcnow
from kb.extensions import db
from kb.models import CardRead, Membership, Push, PushReceipt, User
from kb.validation import Invalid
from kb.verification.facts import user_active_at

HOURS_MAX = 24 * 14
MESSAGE_MAX = 500


def push(card, teams, *, due_hours, actor, message="", now=None):
    """Send the card's served wording to every active member of `teams`. People who already acknowledged
    that revision (or a later one) are recorded as done. Returns the Push."""
    errors = {}
    if card.verified_revision_number is None or card.is_archived:
        errors["card"] = "has no verified wording to push: verify it first"
    if not teams:
        errors["teams"] = "choose at least one team"
    try:
        due_hours = float(due_hours)
    except (TypeError, ValueError):
        due_hours = 0
    if not 0 < due_hours <= HOURS_MAX:
        errors["due_hours"] = f"must be between 1 hour and {HOURS_MAX} hours"
    message = " ".join((message or "").split())
    if len(message) > MESSAGE_MAX:
        errors["message"] = f"is longer than {MESSAGE_MAX} characters"
    if errors:
        raise Invalid(errors)
    now = now or utcnow()
    revision = card.verified_revision_number
    item = Push(card_id=card.id, revision_number=revision, message=message, due_at=now + timedelta(hours=due_hours),
                created_by_id=actor and actor.id, created_at=now,
                team_names=", ".join(sorted(t.name for t in teams))[:500])
    db.session.add(item)
    db.session.flush()
    people = set(db.session.scalars(select(Membership.user_id).join(User).where(
        Membership.team_id.in_([t.id for t in teams]), user_active_at(now))))
    acked = dict(db.session.execute(select(CardRead.user_id, CardRead.acknowledged_at).where(
        CardRead.card_id == card.id, CardRead.acknowledged_revision >= revision)).all())
    rows = [{"push_id": item.id, "user_id": uid, "acknowledged_at": acked.get(uid),
             "acknowledged_revision": revision if uid in acked else None} for uid in sorted(people)]
    if rows:
        db.session.execute(PushReceipt.__table__.insert(), rows)
    audit.record(actor, "push.create", f"card:{card.id}", push=item.id, revision=revision, teams=item.team_names,
                 people=len(rows), due_at=item.due_at)
    return item


def open_for(user, limit=5):
    """The pushes this person has still to acknowledge, soonest due first (the banner on every page)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return db.session.scalars(select(Push).join(PushReceipt).where(
        PushReceipt.user_id == user.id, PushReceipt.acknowledged_at.is_(None))
        .order_by(Push.due_at).limit(limit)).all()


def receipt(push_id, user):
    return db.session.get(PushReceipt, (push_id, user.id))


def tally(item):
    """(acknowledged, recipients) of a push."""
    total, done = db.session.execute(select(func.count(), func.count(PushReceipt.acknowledged_at)).where(
        PushReceipt.push_id == item.id)).one()
    return done, total


def waiting(item):
    """The recipients who have not acknowledged, by name (the lead's list)."""
    return db.session.scalars(select(User).join(PushReceipt, PushReceipt.user_id == User.id).where(
        PushReceipt.push_id == item.id, PushReceipt.acknowledged_at.is_(None)).order_by(User.name)).all()


def recent(limit=50):
    return db.session.scalars(select(Push).order_by(Push.created_at.desc()).limit(limit)).all()

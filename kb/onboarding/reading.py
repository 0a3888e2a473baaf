"""Reading that knows revisions: a read or an acknowledgement records the served revision, and only a
**material** change to the served wording since then sends the card back ("updated", with the diff since
the revision that person read). A minor change (a typo) disturbs nobody.

A verification that changes the served wording is classified when it is recorded (`verify_card(...,
change_kind=)`); the verifier or a lead may re-classify it later (`classify`).
"""
from dataclasses import dataclass

from sqlalchemy import select

from kb import audit
from kb.dates import utcnow
from kb.extensions import db
from kb.models import CardRead, Push, PushReceipt, Verification
from kb.validation import Invalid

MATERIAL, MINOR = "material", "minor"
CHANGE_KINDS = (MATERIAL, MINOR)


def material_revisions(card_ids):
    """{card id: sorted revision numbers whose verification was a material change}, in one query."""
    out = {}
    if not card_ids:
        return out
    rows = db.session.execute(select(Verification.card_id, Verification.revision_number).where(
        Verification.card_id.in_(set(card_ids)), Verification.change_kind == MATERIAL))
    for card_id, number in rows:
        out.setdefault(card_id, set()).add(number)
    return {card_id: sorted(numbers) for card_id, numbers in out.items()}


def is_behind(seen, served, materials):
    """Whether a material change reached the served wording (revision `served`) since revision `seen`."""
    return bool(materials) and seen is not None and served is not None and any(seen < m <= served for m in materials)


@dataclass(slots=True)
class Reading:
    """Where one person stands with one card's served wording."""

    read: int | None  # the served revision they last read
    acknowledged: int | None  # ... and last acknowledged
    updated: bool  # a material change since they read (or acknowledged) it
    read_at: object = None
    acknowledged_at: object = None


def acknowledged_of(row, served_number, materials):
    """The revision this person's "I understood" still stands for, or None: confirming a wording that a
    material change replaced since counts for nothing (they are asked again)."""
    acknowledged = row.acknowledged_revision
    if acknowledged is not None and is_behind(acknowledged, served_number, materials):
        return None
    return acknowledged


def reading_of(row, served_number, materials):
    """`Reading` from a CardRead row (or None) and the served revision's number."""
    if row is None:
        return Reading(None, None, False)
    return Reading(row.revision_number, acknowledged_of(row, served_number, materials),
                   is_behind(row.revision_number, served_number, materials), row.read_at, row.acknowledged_at)


def reads_of(user_id, card_ids):
    """{card id: CardRead} for one person."""
    if not card_ids:
        return {}
    rows = db.session.scalars(select(CardRead).where(CardRead.user_id == user_id, CardRead.card_id.in_(card_ids)))
    return {row.card_id: row for row in rows}


def _check_served(card, revision):
    """Only a revision that was served (verified at some point, not newer than now) can have been read."""
    if card.verified_revision_number is None:
        raise Invalid({"card": "has no verified answer yet: there is nothing to read"})
    if revision is None or not 1 <= revision <= card.verified_revision_number:
        raise Invalid({"revision": "is not a revision this card served"})
    served = db.session.scalar(select(Verification.id).where(
        Verification.card_id == card.id, Verification.revision_number == revision).limit(1))
    if served is None:
        raise Invalid({"revision": "was never verified, so nobody was shown it"})


def mark_read(user, card, revision, now=None):
    """Record that `user` read served revision `revision` of `card` (what the page showed them)."""
    _check_served(card, revision)
    now = now or utcnow()
    row = db.session.get(CardRead, (user.id, card.id))
    if row is None:
        row = CardRead(user_id=user.id, card_id=card.id, revision_number=revision, read_at=now)
        db.session.add(row)
    elif revision >= row.revision_number:
        row.revision_number, row.read_at = revision, now
    db.session.flush()
    return row


def acknowledge(user, card, revision, now=None):
    """"I understood": reads it too, and answers every push of this card up to that revision."""
    row = mark_read(user, card, revision, now)
    now = now or utcnow()
    if row.acknowledged_revision is None or revision >= row.acknowledged_revision:
        row.acknowledged_revision, row.acknowledged_at = revision, now
    open_receipts = db.session.scalars(select(PushReceipt).join(Push).where(
        PushReceipt.user_id == user.id, PushReceipt.acknowledged_at.is_(None), Push.card_id == card.id,
        Push.revision_number <= revision))
    for receipt in open_receipts:
        receipt.acknowledged_at, receipt.acknowledged_revision = now, revision
    db.session.flush()
    return row


def wording_changes(card, verification_revision):
    """Whether verifying `verification_revision` changes the wording `card` serves (None: first served)."""
    return card.verified_revision_number is not None and card.verified_revision_number != verification_revision


def readers_count(card):
    """How many people read an earlier served wording of the card: who a material change would reach."""
    from sqlalchemy import func

    return db.session.scalar(select(func.count()).select_from(CardRead).where(
        CardRead.card_id == card.id, CardRead.revision_number < card.revision_number)) or 0


def clean_change_kind(value, default=MATERIAL):
    if value in (None, ""):
        return default
    if value not in CHANGE_KINDS:
        raise Invalid({"change_kind": "must be material or minor"})
    return value


def classify(verification, kind, actor):
    """Say again whether a served-wording change was material or minor (the verifier or a lead)."""
    kind = clean_change_kind(kind, default=None)
    if verification.change_kind is None:
        raise Invalid({"change_kind": "this verification did not change the wording readers were shown"})
    if verification.change_kind != kind:
        audit.record(actor, "card.classify_change", f"card:{verification.card_id}",
                     revision=verification.revision_number, before=verification.change_kind, after=kind)
        verification.change_kind = kind
        db.session.flush()
    return verification

"""Agents flag cards that look wrong; verifiers resolve flags by verifying or dismiss them with a reason."""
from sqlalchemy import select

from kb import audit
from kb.dates import utcnow
from kb.extensions import db
from kb.models import FLAG_KINDS, Flag
from kb.validation import Invalid
from kb.verification.notify import notify, verifiers_of


def flag_card(card, user, kind, comment="", via=None):
    """Open a flag: the card needs verification at once and its verifiers are told. `via` names the tool
    that raised it for `user` (an API token), kept in front of the comment."""
    comment = (comment or "").strip()
    errors = {}
    if kind not in FLAG_KINDS:
        errors["kind"] = f"must be one of {', '.join(FLAG_KINDS)}"
    if len(comment) > 2000:
        errors["comment"] = "is longer than 2000 characters"
    if card.is_archived:
        errors["card"] = "is archived"
    if errors:
        raise Invalid(errors)
    if via:
        comment = f"[via {via}] {comment}".strip()
    flag = Flag(card=card, user=user, kind=kind, comment=comment, created_at=utcnow())
    db.session.add(flag)
    db.session.flush()
    for verifier in verifiers_of(card.verifier_team, exclude=user):
        notify(verifier, key=f"flag:{flag.id}", kind="flagged", card=card,
               subject=f"Flagged as {kind}: {card.title}",
               body=f"{user.name} flagged “{card.title}” as {kind}." + (f"\n\n“{comment}”" if comment else ""))
    audit.record(user, "card.flag", f"card:{card.id}", flag=flag.id, kind=kind)
    return flag


def open_flags(card):
    return db.session.scalars(select(Flag).filter_by(card_id=card.id, state="open").order_by(Flag.id)).all()


def _close(flag, user, state, note):
    flag.state, flag.closed_by, flag.closed_at, flag.close_note = state, user, utcnow(), note
    verb = "resolved by verifying the card" if state == "resolved" else "dismissed"
    notify(flag.user, key=f"flag-closed:{flag.id}", kind=f"flag_{state}", card=flag.card,
           subject=f"Your flag on “{flag.card.title}” was {verb.split(' ')[0]}",
           body=f"{user.name} {verb}." + (f"\n\n“{note}”" if note else ""))


def dismiss_flag(flag, user, reason):
    """Close a flag without changing the card; the reason is required and the flagger is told."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid({"reason": "is required: tell the agent why the card is right"})
    if flag.state != "open":
        raise Invalid({"flag": "is already closed"})
    _close(flag, user, "dismissed", reason[:2000])
    audit.record(user, "flag.dismiss", f"card:{flag.card_id}", flag=flag.id, reason=reason)


def resolve_open_flags(card, user, note=""):
    """Verifying a card answers every open flag on it."""
    # No autoflush: a bulk import verifies thousands of cards and must not flush once per card
    # (flags are flushed when raised, so none is pending here).
    with db.session.no_autoflush:
        flags = open_flags(card)
    for flag in flags:
        _close(flag, user, "resolved", note)

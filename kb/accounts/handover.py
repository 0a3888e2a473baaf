"""When an account ends, its cards go to its team, so that nothing stays owned by someone who cannot
verify it. A seasonal account ends by itself (its last day passes) or is deactivated; either way, the next
"hand-over" job moves each of its live cards to:

1. the first active lead (by name) of the card's verifying team who can own cards (expert or admin), else
2. such a lead of one of the old owner's teams (teams by name), else
3. the first active admin.

The move goes through kb.cards.operations.edit_card (change feed, index and status follow), is audited,
and each new owner hears once, with the list. A card nobody can take stays where it is: it already shows
"owner gone". Nothing else changes: revisions, verifications, reads and answers are history and stay.
"""
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import audit
from kb.cards import operations
from kb.dates import utcnow
from kb.extensions import db
from kb.models import VERIFIER_ROLES, Card, Membership, User
from kb.verification.facts import user_active_at
from kb.verification.notify import notify

LISTED = 20  # card titles in the notification (the rest are counted)


@dataclass
class Report:
    moved: int = 0
    left: int = 0  # nobody could take them
    notified: int = 0

    def __str__(self):
        return f"{self.moved} card(s) handed over, {self.notified} new owner(s) told" + (
            f", {self.left} left without a successor" if self.left else "")


def _can_own(user, now, old):
    return user.id != old.id and user.role in VERIFIER_ROLES and user.is_active_at(now)


def _leads(team, now, old):
    return sorted((m.user for m in team.memberships if m.is_lead and _can_own(m.user, now, old)),
                  key=lambda u: (u.name.casefold(), u.id))


def successor(card, now, admins):
    """Who takes `card` from its ended owner, or None (see the module's rules)."""
    old = card.owner
    for team in [card.verifier_team] + sorted(old.teams, key=lambda t: t.name.casefold()):
        leads = _leads(team, now, old)
        if leads:
            return leads[0]
    return next((a for a in admins if a.id != old.id), None)


def hand_over(now=None):
    """Move every live card of an ended account to its successor. Returns a Report; the caller commits."""
    now = now or utcnow()
    cards = db.session.scalars(
        select(Card).join(User, User.id == Card.owner_id)
        .where(Card.is_archived.is_(False), ~user_active_at(now)).order_by(Card.id)
        .options(selectinload(Card.owner).selectinload(User.memberships).selectinload(Membership.team),
                 selectinload(Card.verifier_team))).all()
    report = Report()
    if not cards:
        return report
    admins = db.session.scalars(select(User).where(User.role == "admin", user_active_at(now))
                                .order_by(User.name, User.id)).all()
    received = {}
    for card in cards:
        new = successor(card, now, admins)
        if new is None:
            report.left += 1
            continue
        old = card.owner
        operations.edit_card(card, author=None, owner=new, quiet=True, now=now)
        audit.record(None, "card.hand_over", f"card:{card.id}", owner=[old.email, new.email],
                     reason="deactivated" if not old.active else "expired")
        received.setdefault(new.id, (new, []))[1].append((card, old))
        report.moved += 1
    for new, handed in received.values():
        titles = "\n".join(f"- “{card.title}” (from {old.name})" for card, old in handed[:LISTED])
        more = f"\n…and {len(handed) - LISTED} more." if len(handed) > LISTED else ""
        single = handed[0][0] if len(handed) == 1 else None
        if notify(new, key=f"handover:{now.isoformat()}:{handed[0][0].id}", kind="handed_over", card=single,
                  url="" if single else "/verification/queue",
                  subject=f"You now own {len(handed)} card(s) from people who left",
                  body=f"Their accounts ended, so these cards are yours to keep verified:\n{titles}{more}"):
            report.notified += 1
    db.session.flush()
    return report

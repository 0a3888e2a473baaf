"""The one rule for what a channel may show (DESIGN.md, "Card status"). Pages, the API, the FAQ and
exports all ask `serve`; nothing else decides.

Every channel tells customers the same words: a card's **verified** revision.

- agents: the verified revision of any card (internal ones too), which is what "Copy answer" copies, and
  beside it the `pending` current wording when an edit awaits verification, to read but not to send. A
  draft (never verified) has no served wording: only `pending`, the draft itself.
- chatbot and faq: public cards only, in their verified revision. A card that needs verification keeps
  serving that revision until its verification has been lapsed for the grace period
  (`CHANNEL_GRACE_DAYS`, 14 by default), then is withheld; a card with an open flag is withheld at once
  from the channels in `CHANNEL_WITHHOLD_FLAGGED` (the chatbot by default). Drafts and archived cards are
  never served. The FAQ withholds a card whose verified wording still holds a `{placeholder}` (no
  customer ever reads one); the chatbot gets it with the placeholders listed for the bot to fill.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb import markup
from kb.extensions import db
from kb.models import Card, Revision
from kb.verification import policy
from kb.verification.status import current_instant, statuses

AGENTS, CHATBOT, FAQ = "agents", "chatbot", "faq"
CHANNELS = (AGENTS, CHATBOT, FAQ)
PUBLIC_CHANNELS = (CHATBOT, FAQ)
# The statuses a customer channel may serve a card in (the rest of the rule is `serve_many`). Customer
# searches filter the index by these before `serve_many` has the last word on each hit.
SERVABLE_STATUSES = (policy.VERIFIED, policy.DUE_SOON, policy.NEEDS_VERIFICATION)
# Why the FAQ withholds a card whose verified wording holds `{placeholders}` (the fields follow it).
HOLDS_PLACEHOLDERS = "its verified wording holds placeholders for agents"


@dataclass
class Served:
    """A card as one channel may show it: `revision` is the wording to tell customers (None when
    withheld, or for a draft); agents also get `pending`, the current wording awaiting verification."""

    card: object
    channel: str
    revision: object | None
    state: object  # the card's policy Status (code, reasons, due date)
    withheld: str | None = None  # why nothing is served, for people (admin pages, tests, logs)
    pending: object | None = None  # agents only: the current revision, when it is not the verified one

    @property
    def ok(self):
        return self.revision is not None

    @property
    def readable(self):
        """Agents may read it: a served wording, or at least a draft."""
        return self.revision is not None or self.pending is not None

    @property
    def is_draft(self):
        return self.revision is None and self.pending is not None

    @property
    def withheld_for_placeholders(self):
        """Withheld from the FAQ only because its verified wording holds placeholders: the owner's to fix."""
        return self.withheld is not None and self.withheld.startswith(HOLDS_PLACEHOLDERS)

    @property
    def status(self):
        return self.state.code


def _revisions(pairs):
    """{(card id, number): Revision} for the wanted (card id, number) pairs, in one query."""
    pairs = [p for p in pairs if p[1] is not None]
    if not pairs:
        return {}
    card_ids = {c for c, _ in pairs}
    rows = db.session.scalars(select(Revision).where(Revision.card_id.in_(card_ids))
                              .options(selectinload(Revision.author)))
    wanted = set(pairs)
    return {(r.card_id, r.number): r for r in rows if (r.card_id, r.number) in wanted}


def placeholders_of(wording):
    """The `{placeholder}` fields a revision (or a card's current wording) shows customers, in its title
    or its answer."""
    return markup.placeholders(wording.title + "\n" + wording.answer)


def _withheld(card, status, channel, now, grace, withhold_flagged):
    """Why a customer channel may not serve this card's verified revision, or None."""
    if not card.is_public:
        return "internal card"
    if card.is_archived:
        return "archived"
    if card.verified_revision_number is None:
        return "never verified"
    if policy.FLAGGED in status.reason_codes and channel in withhold_flagged:
        return "flagged by an agent"
    if status.code == policy.NEEDS_VERIFICATION and now >= status.due_at + grace:
        return f"verification lapsed more than {grace.days} days ago"
    return None


def serve_many(cards, channel, now=None):
    """`Served` for each card, in order, with a fixed number of queries."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    status_by_id = statuses(cards, now)  # None: the request's instant, as the page's other parts use
    now = now or current_instant()
    config = current_app.config
    grace = timedelta(days=config["CHANNEL_GRACE_DAYS"])
    withhold_flagged = set(config["CHANNEL_WITHHOLD_FLAGGED"])
    wanted = [(c.id, c.verified_revision_number) for c in cards]
    if channel == AGENTS:
        wanted += [(c.id, c.revision_number) for c in cards if c.revision_number != c.verified_revision_number]
    revisions = _revisions(wanted)
    out = []
    for card in cards:
        status = status_by_id[card.id]
        verified = revisions.get((card.id, card.verified_revision_number))
        if channel == AGENTS:
            pending = None
            if card.revision_number != card.verified_revision_number:
                pending = revisions.get((card.id, card.revision_number))
            out.append(Served(card, channel, verified, status, None if verified else "never verified", pending))
            continue
        why = _withheld(card, status, channel, now, grace, withhold_flagged)
        if why is None and verified is None:
            why = "verified revision missing"
        fields = placeholders_of(verified) if why is None and channel == FAQ else []
        if fields:
            why = f"{HOLDS_PLACEHOLDERS} ({', '.join('{' + name + '}' for name in fields)})"
        out.append(Served(card, channel, None if why else verified, status, why))
    return out


def serve(card, channel, now=None):
    """What `channel` may show of `card` (see the module docstring)."""
    return serve_many([card], channel, now)[0]


def slug(title):
    """The readable part of a card's public URL, from the title served (the id identifies the card)."""
    from kb.cards.operations import slugify

    return slugify(title, fallback="card", max_chars=60)


def load(ids):
    """Cards by id, in the order given, with what serving and the API's card shape read."""
    cards = db.session.scalars(select(Card).where(Card.id.in_(ids)).options(
        selectinload(Card.state), selectinload(Card.collection), selectinload(Card.owner),
        selectinload(Card.verified_by), selectinload(Card.verifier_team))).all()
    by_id = {c.id: c for c in cards}
    return [by_id[i] for i in ids if i in by_id]

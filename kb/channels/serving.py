"""The one rule for what a channel may show (DESIGN.md, "Card status"). Pages, the API, the FAQ and
exports all ask `serve`; nothing else decides.

- agents: the current revision, with status and reasons, archived cards included (marked so);
- chatbot and faq: public cards only, and only their verified revision. A card that needs
  verification keeps serving that revision until its verification has been lapsed for the grace
  period (`CHANNEL_GRACE_DAYS`, 14 by default), then is withheld; a card with an open flag is withheld
  at once from the channels in `CHANNEL_WITHHOLD_FLAGGED` (the chatbot by default). Drafts and
  archived cards are never served.
"""
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, Revision
from kb.verification import policy
from kb.web import status_of

AGENTS, CHATBOT, FAQ = "agents", "chatbot", "faq"
CHANNELS = (AGENTS, CHATBOT, FAQ)
PUBLIC_CHANNELS = (CHATBOT, FAQ)
# The statuses a customer channel may serve a card in (the rest of the rule is `serve_many`). Customer
# searches filter the index by these before `serve_many` has the last word on each hit.
SERVABLE_STATUSES = (policy.VERIFIED, policy.DUE_SOON, policy.NEEDS_VERIFICATION)


@dataclass
class Served:
    """A card as one channel may show it: `revision` is the wording to show (None when withheld)."""

    card: object
    channel: str
    revision: object | None
    state: object  # the card's policy Status (code, reasons, due date)
    withheld: str | None = None  # why nothing is served, for people (admin pages, tests, logs)

    @property
    def ok(self):
        return self.revision is not None

    @property
    def status(self):
        return self.state.code


def _revisions(pairs):
    """{(card id, number): Revision} for the wanted (card id, number) pairs, in one query."""
    pairs = [p for p in pairs if p[1] is not None]
    if not pairs:
        return {}
    card_ids = {c for c, _ in pairs}
    rows = db.session.scalars(select(Revision).where(Revision.card_id.in_(card_ids)))
    wanted = set(pairs)
    return {(r.card_id, r.number): r for r in rows if (r.card_id, r.number) in wanted}


def serve_many(cards, channel, now=None):
    """`Served` for each card, in order, with a fixed number of queries."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}")
    now = now or utcnow()
    config = current_app.config
    grace = timedelta(days=config["CHANNEL_GRACE_DAYS"])
    withhold_flagged = set(config["CHANNEL_WITHHOLD_FLAGGED"])
    if channel == AGENTS:
        revisions = _revisions([(c.id, c.revision_number) for c in cards])
    else:
        revisions = _revisions([(c.id, c.verified_revision_number) for c in cards])
    out = []
    for card in cards:
        status = status_of(card, now)
        if channel == AGENTS:
            out.append(Served(card, channel, revisions.get((card.id, card.revision_number)), status))
            continue
        why = None
        if not card.is_public:
            why = "internal card"
        elif card.is_archived:
            why = "archived"
        elif card.verified_revision_number is None:
            why = "never verified"
        elif policy.FLAGGED in status.reason_codes and channel in withhold_flagged:
            why = "flagged by an agent"
        elif status.code == policy.NEEDS_VERIFICATION and now >= status.due_at + grace:
            why = f"verification lapsed more than {grace.days} days ago"
        revision = None if why else revisions.get((card.id, card.verified_revision_number))
        if revision is None and why is None:
            why = "verified revision missing"
        out.append(Served(card, channel, revision, status, why))
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

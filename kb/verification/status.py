"""The status of cards, decided once: the policy applied to the real facts (open flag count, linked
cards that changed, owners and verifying teams that can no longer act), for one card or many.

Every page, list, badge, search result, channel, queue, digest, dashboard, API response and
`kb check-stale` reads status here, so no two of them can disagree. Within a request a card's status is
computed once (pages list the same card in several places); a commit forgets it.
"""
from flask import current_app, g, has_app_context, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from kb.dates import utcnow, zone
from kb.verification import policy
from kb.verification.facts import all_facts

_CACHE = "kb_statuses"


def _settings():
    return (current_app.config["WARNING_DAYS"] if has_app_context() else 7), zone()


def evaluate_all(now, card_ids=None):
    """((id, title, collection id, owner id, team id), Status) for every card, or for the given ids, from
    a fixed number of queries (the checker's bulk path and the pages' path are this one)."""
    warning, tz = _settings()
    for card, facts in all_facts(now, card_ids):
        yield card, policy.evaluate(facts, now, warning, tz)


def statuses(cards, now=None):
    """{card id: Status} for cards (objects or ids) at `now` (default: this request's instant)."""
    ids = {getattr(c, "id", c) for c in cards} - {None}
    cache = _request_cache() if now is None else None
    wanted = ids - set(cache) if cache is not None else ids
    found = {}
    if wanted:
        found = {card[0]: st for card, st in evaluate_all(now or current_instant(), wanted)}
        if cache is not None:
            cache.update(found)
    if cache is not None:
        return {i: cache[i] for i in ids if i in cache}
    return found


def status_of(card, now=None):
    """One card's status (see `statuses`); a card not written yet is a draft."""
    found = statuses([card], now)
    if card.id in found:
        return found[card.id]
    return policy.evaluate(policy.facts_of_card(card), now or utcnow(), *_settings())


def prefetch(cards):
    """Decide the status of a page's cards in one go, before its template asks for them one by one."""
    statuses(cards)
    return cards


def _request_cache():
    if not has_request_context():
        return None
    return g.setdefault(_CACHE, {})


def current_instant():
    """One instant per request, so that every part of a page speaks of the same moment."""
    if not has_request_context():
        return utcnow()
    if "kb_now" not in g:
        g.kb_now = utcnow()
    return g.kb_now


@event.listens_for(Session, "after_commit")
def _forget(session):
    """A commit may have changed any card's facts: the page that follows reads them again."""
    if has_request_context():
        g.pop(_CACHE, None)

"""Knowledge gaps: every search is logged; searches that found nothing or led nowhere are grouped into a
report, and one click turns a gap into a card request for a team."""
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import case, func, select

from kb.dates import utcnow
from kb.extensions import db
from kb.models import CardRequest, SearchEvent, Team
from kb.search import analysis
from kb.validation import Invalid
from kb.verification.notify import card_url, notify, verifiers_of

# Keystrokes of one search: a new query that extends or trims the last one within this window
# replaces it in the log instead of adding a row ("refu", "refun", "refund" are one search).
TYPING_WINDOW = timedelta(seconds=20)


def normalize(text):
    """Queries that mean the same group together: folded, stemmed, stop words out, in order."""
    stems = analysis.words(text or "", current_app.config["SEARCH_LANGUAGE"])
    return " ".join(dict.fromkeys(stems))[:300]


def new_ref():
    """The id a search is known by before its log row exists (the row is written after the response)."""
    return secrets.token_urlsafe(12)


def record_search(user_id, text, results, latency_ms, ref=None, now=None):
    """Log a search as `ref` (the page passes it on, so an open or copy is credited). Keystrokes of one
    search are one row. The caller commits (pages run this after their response)."""
    now = now or utcnow()
    text = " ".join((text or "").split())[:300]
    normalized = normalize(text)
    if not normalized:
        return None
    last = None
    if user_id is not None:
        last = db.session.scalar(select(SearchEvent).where(SearchEvent.user_id == user_id)
                                 .order_by(SearchEvent.id.desc()).limit(1))
    if (last is not None and now - last.created_at <= TYPING_WINDOW and last.opened_card_id is None
            and last.copied_card_id is None and (text.startswith(last.query) or last.query.startswith(text))):
        event = last
        event.query, event.normalized, event.results, event.latency_ms = text, normalized, results, latency_ms
        event.created_at, event.ref = now, ref
    else:
        event = SearchEvent(user_id=user_id, query=text, normalized=normalized, results=results,
                            latency_ms=latency_ms, created_at=now, ref=ref)
        db.session.add(event)
    return ref


def report(days=30, limit=200, now=None):
    """Gaps of the last `days`: per normalised query, searches with no results or no click."""
    since = (now or utcnow()) - timedelta(days=days)
    unanswered = (SearchEvent.opened_card_id.is_(None) & SearchEvent.copied_card_id.is_(None))
    rows = db.session.execute(
        select(SearchEvent.normalized, func.count().label("searches"),
               func.sum(case((SearchEvent.results == 0, 1), else_=0)).label("no_results"),
               func.count(func.distinct(SearchEvent.user_id)).label("agents"),
               func.max(SearchEvent.created_at).label("last_seen"),
               func.max(SearchEvent.query).label("example"))
        .where(SearchEvent.created_at >= since, unanswered)
        .group_by(SearchEvent.normalized)
        .order_by(func.count().desc(), func.max(SearchEvent.created_at).desc())
        .limit(limit)
    ).all()
    requests = {r.normalized: r for r in db.session.scalars(
        select(CardRequest).where(CardRequest.normalized.in_([row.normalized for row in rows]))
        .order_by(CardRequest.id))}
    return [{"normalized": row.normalized, "example": row.example, "searches": row.searches,
             "no_results": row.no_results, "agents": row.agents, "last_seen": row.last_seen,
             "request": requests.get(row.normalized)} for row in rows]


def request_card(normalized, team, user, now=None):
    """Turn a gap into a card request for `team`; its verifiers hear of it. Returns the request."""
    normalized = (normalized or "").strip()
    if not normalized:
        raise Invalid({"query": "choose a search from the report"})
    if team is None:
        raise Invalid({"team": "choose the team that should write the card"})
    existing = db.session.scalar(select(CardRequest).where(CardRequest.normalized == normalized,
                                                           CardRequest.fulfilled_at.is_(None)))
    if existing is not None:
        raise Invalid({"query": f"already requested from {existing.team.name}"})
    stats = db.session.execute(select(func.count(), func.max(SearchEvent.query))
                               .where(SearchEvent.normalized == normalized)).one()
    example = stats[1] or normalized
    request = CardRequest(query=example, normalized=normalized, team=team, requested_by_id=user.id,
                          searches=stats[0], created_at=now or utcnow())
    db.session.add(request)
    db.session.flush()
    for member in verifiers_of(team):
        notify(member, key=f"card-request:{request.id}", kind="card_request",
               subject=f"Card requested: agents searched “{example}” and found no answer",
               body=f"{stats[0]} searches found no good answer. Write a card for it.",
               url=f"/cards/new?request={request.id}")
    return request


def open_requests(team_ids=None):
    query = select(CardRequest).where(CardRequest.fulfilled_at.is_(None)).order_by(CardRequest.id.desc())
    if team_ids is not None:
        query = query.where(CardRequest.team_id.in_(team_ids))
    return db.session.scalars(query).all()


def fulfil(request, card, now=None):
    """A card now answers the request: the requester (and the team) are told. Caller commits."""
    if request is None or request.fulfilled_at is not None:
        return
    request.card, request.fulfilled_at = card, now or utcnow()
    if request.requested_by is not None:
        notify(request.requested_by, key=f"card-request-done:{request.id}", kind="card_request_done",
               card=card, subject=f"The card you requested exists: {card.title}",
               body=f"You asked for a card for “{request.query}”. {card.title}: {card_url(card.id)}")


def teams():
    return db.session.scalars(select(Team).order_by(Team.name)).all()

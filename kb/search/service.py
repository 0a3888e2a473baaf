"""One search for every caller: request arguments → checked parameters → results → JSON-ready dicts.

The results page, the as-you-type box and `/api/v1/search` all go through `run`, so they rank,
filter and log the same way.
"""
from dataclasses import dataclass

from flask import url_for
from markupsafe import escape
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from kb.dates import utcnow
from kb.deferred import later
from kb.extensions import db
from kb.ids import MAX_ID
from kb.models import Card, Collection, Revision, User
from kb.search import gaps, query, synonyms
from kb.search import index as search_index
from kb.validation import Invalid
from kb.verification import policy
from kb.verification.status import prefetch, status_of

MAX_FILTER_VALUES = 20


@dataclass
class Params:
    q: str = ""
    filters: query.Filters = None
    limit: int = 10
    offset: int = 0
    include_archived: bool = False


def _number(value):
    """Plain ASCII digits only: "²" and "٣" pass str.isdigit() but are not ids or limits."""
    return value.isascii() and value.isdigit() and len(value) <= 18


NO_ROW = 0  # what an id no column can hold becomes in a filter: it matches nothing, as an unknown id does
# (passed on, PostgreSQL would refuse the query: its integer columns stop at 2^31 - 1)


def _id(value):
    number = int(value)
    return number if number <= MAX_ID else NO_ROW


def _ids(values, name):
    out = []
    for value in values[:MAX_FILTER_VALUES]:
        if not value:
            continue
        if not _number(value):
            raise Invalid({name: f"{value[:40]!r} is not an id"})
        out.append(_id(value))
    return tuple(out)


def collections_param(values):
    """Collections by id or slug (the API takes either)."""
    ids, slugs = [], []
    for value in values[:MAX_FILTER_VALUES]:
        if _number(value):
            ids.append(_id(value))
        elif value:
            slugs.append(value[:100])
    if slugs:
        found = dict(db.session.execute(select(Collection.slug, Collection.id).where(Collection.slug.in_(slugs))).all())
        missing = [s for s in slugs if s not in found]
        if missing:
            raise Invalid({"collection": f"there is no collection {missing[0]!r}"})
        ids += found.values()
    return tuple(ids)


def params_from(args, max_limit=query.MAX_LIMIT):
    """Read and check search arguments (query string of the page or the API); Invalid names the field."""
    limit = args.get("limit", "10")
    if not _number(limit) or not 1 <= int(limit) <= max_limit:
        raise Invalid({"limit": f"use a whole number from 1 to {max_limit}"})
    statuses = tuple(v for v in args.getlist("status") if v)
    unknown = [s for s in statuses if s not in policy.STATUSES]
    if unknown:
        raise Invalid({"status": f"{unknown[0][:40]!r} is not one of {', '.join(policy.STATUSES)}"})
    cursor = args.get("cursor") or ""
    offset = query.decode_cursor(cursor)
    if cursor and not offset:
        raise Invalid({"cursor": "use the next_cursor of a previous response"})
    filters = query.Filters(collection=collections_param(args.getlist("collection")),
                            tag=tuple(t.strip().lower()[:40] for t in args.getlist("tag") if t.strip()),
                            status=statuses, owner=_ids(args.getlist("owner"), "owner"))
    return Params(q=args.get("q", ""), filters=filters, limit=int(limit), offset=offset,
                  include_archived=args.get("archived") in ("1", "true", "yes"))


def run(params, user=None, facets=False, explain=False, prefix_last=False, log=True):
    """Search, and log it for the gap report after the response. Returns (results, search id or None):
    the id credits an open or a copy that follows to this search."""
    results, ms = query.timed(query.search, params.q, params.filters, params.limit, params.offset,
                              params.include_archived, facets, explain, prefix_last, synonyms.table())
    search_id = None
    if log and params.offset == 0 and gaps.normalize(params.q):
        search_id = gaps.new_ref()
        later(gaps.record_search, getattr(user, "id", None), params.q, results.total, ms, search_id, utcnow())
    return results, search_id


FALLBACK_WORDS = 5


def rebuilding(params, titles=True):
    """What an agent's search shows while a corrupt index is rebuilt (`search_index.Rebuilding`), never an
    error page: the notice, and (`titles`) the live cards whose title holds every word typed, straight from
    the database (no ranking, spelling or filters: enough to find a card by its question meanwhile)."""
    hits = title_matches(params) if titles else []
    return query.Results(hits, len(hits), notice=search_index.REBUILDING_NOTICE)


def title_holds(column, text):
    """SQL conditions: `column` holds every word of `text` (any case; LIKE wildcards typed are plain
    characters), or None when `text` has no word. The search-less fallback of every channel."""
    words = [w for w in "".join(ch if ch.isprintable() else " " for ch in text or "").split()
             if any(ch.isalnum() for ch in w)][:FALLBACK_WORDS]
    return [func.lower(column).contains(w.lower(), autoescape=True) for w in words] or None


def title_matches(params):
    """Hits for the cards whose current title holds every word of the search (agents read current titles)."""
    holds = title_holds(Card.title, params.q)
    if holds is None:
        return []
    stmt = select(Card).where(*holds).options(selectinload(Card.tags)).order_by(Card.title, Card.id)
    stmt = stmt.limit(params.limit)
    if not params.include_archived:
        stmt = stmt.where(Card.is_archived.is_(False))
    cards = db.session.scalars(stmt).all()
    served = dict(db.session.execute(
        select(Revision.card_id, Revision)
        .join(Card, (Card.id == Revision.card_id) & (Card.verified_revision_number == Revision.number))
        .where(Card.id.in_([c.id for c in cards]))).all())
    return [_fallback_hit(card, served.get(card.id)) for card in cards]


def _fallback_hit(card, revision):
    snippet = str(escape(search_index.plain(card.answer)[:query.SNIPPET_CHARS]))
    served = str(escape(search_index.plain(revision.answer)[:query.SNIPPET_CHARS])) if revision else None
    return query.Hit(id=card.id, title=card.title, snippet=snippet,
                     status=policy.VERIFIED if revision else policy.DRAFT, reasons=[],
                     collection_id=card.collection_id, tags=[t.name for t in card.tags],
                     verified_at=card.verified_at.isoformat() if card.verified_at else None, score=0.0,
                     served_title=revision.title if revision else None, served_snippet=served,
                     served_revision=revision.number if revision else None)


def cards_for(hits):
    ids = [h.id for h in hits]
    # One query: hit_json reads the collection and nothing else related (as-you-type runs this per keystroke).
    cards = db.session.scalars(select(Card).where(Card.id.in_(ids)).options(joinedload(Card.collection))).all()
    prefetch(cards)
    return {c.id: c for c in cards}


def hit_json(hit, card, search_id=None, explain=False):
    """One result as the API documents it: `title` and `snippet` are the served (verified) wording, what
    an agent tells the customer; `pending` is an unverified edit (or, for a draft, the draft itself) to
    read. Status and reasons are the card's live ones."""
    if card is not None:
        st = status_of(card)
        status, reasons = st.code, [{"code": r.code, "message": r.message} for r in st.reasons]
        collection = {"id": card.collection_id, "name": card.collection.name, "slug": card.collection.slug}
        verified_at = card.verified_at.isoformat().replace("+00:00", "Z") if card.verified_at else None
        pending = None
        if card.revision_number != card.verified_revision_number:
            pending = {"revision": card.revision_number, "title": card.title, "snippet": hit.snippet}
    else:  # removed since the index saw it: the feed will drop it
        status, reasons, collection, verified_at, pending = hit.status, [], {"id": hit.collection_id}, \
            hit.verified_at, None
    url = url_for("cards.detail", card_id=hit.id, sid=search_id) if search_id else url_for("cards.detail",
                                                                                             card_id=hit.id)
    served = hit.served_title is not None
    out = {"id": hit.id, "title": hit.served_title if served else hit.title,
           "snippet": hit.served_snippet if served else hit.snippet, "status": status, "reasons": reasons,
           "collection": collection, "tags": hit.tags, "verified_at": verified_at, "url": url, "pending": pending,
           "draft": not served}
    if explain and hit.explain is not None:
        out["explain"] = hit.explain
    return out


def results_json(results, search_id=None, explain=False):
    cards = cards_for(results.hits)
    body = {
        "results": [hit_json(h, cards.get(h.id), search_id, explain) for h in results.hits if h.id in cards],
        "total": results.total,
        "did_you_mean": results.did_you_mean,
        "next_cursor": results.next_cursor,
        "notice": results.notice,
        "search_id": search_id,
    }
    if results.facets is not None:
        body["facets"] = facet_json(results.facets)
    return body


def facet_json(facets):
    """Facet counts with names a person reads (collections and owners by name)."""
    collection_ids = [int(k) for k, _ in facets.get("collection", []) if _number(str(k))]
    owner_ids = [int(k) for k, _ in facets.get("owner", []) if _number(str(k))]
    names = dict(db.session.execute(
        select(Collection.id, Collection.name).where(Collection.id.in_(collection_ids))).all())
    owners = dict(db.session.execute(select(User.id, User.name).where(User.id.in_(owner_ids))).all())
    label = {"collection": lambda k: names.get(int(k), k), "owner": lambda k: owners.get(int(k), k),
             "status": lambda k: policy.LABELS.get(k, k), "tag": lambda k: k}
    return {name: [{"value": str(k), "label": str(label[name](k)), "count": n} for k, n in values if k]
            for name, values in facets.items()}

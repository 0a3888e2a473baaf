"""JSON API v1 for the chatbot, widgets and agent tools. Thin: who may see what is `serving`, search is
`kb.search.service`, flags are `kb.verification.flags`; this module reads parameters and shapes JSON.

Authentication: a bearer token (scopes `public:read`, `internal:read`, `flags:write`) or, for the
agents' own pages, their signed-in session (which counts as `internal:read` and `flags:write`).
"""
import base64
import hashlib
import json

from flask import Blueprint, current_app, g, jsonify, request, session, url_for
from flask_login import current_user
from sqlalchemy import select, text

from kb import markup
from kb.accounts import permissions
from kb.channels import faq, finding, serving, tokens
from kb.dates import UTC, parse_iso
from kb.deferred import later
from kb.extensions import csrf, db, limiter
from kb.ids import MAX_ID
from kb.models import Card, Collection
from kb.search import embedding, gaps, service, synonyms
from kb.search import index as search_index
from kb.validation import Invalid
from kb.verification import flags, policy

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens carry no cookie; session callers are checked in `_session_csrf`
MAX_PAGE = 100


class ApiError(Exception):
    """An error response: HTTP status, a stable code and a message a person can act on."""

    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra


def error_response(status, code, message, **extra):
    response = jsonify(error={"code": code, "message": message, **extra})
    response.status_code = status
    return response


@bp.errorhandler(ApiError)
def _api_error(error):
    return error_response(error.status, error.code, error.message, **error.extra)


@bp.errorhandler(search_index.Rebuilding)
def _rebuilding(error):
    """Search and answers while a corrupt index is rebuilt: a client retries, it does not hand over for good."""
    response = error_response(503, "search_rebuilding", str(error))
    response.headers["Retry-After"] = str(search_index.RETRY_AFTER_SECONDS)
    return response


@bp.errorhandler(Invalid)
def _invalid(error):
    field, message = next(iter(error.errors.items()))
    return error_response(400, "invalid_parameter", message, field=field)


# -- Who is calling ---------------------------------------------------------------------------------

def bearer():
    """The token of this request, set by `authenticate` (None for a session or no credentials)."""
    return g.get("api_token")


def authenticate():
    """Before every API request: read a bearer token if one is sent. Returns an error response or None.
    The health check and the document need none, so a stale token there is not an error."""
    header = request.headers.get("Authorization", "")
    if not header or request.endpoint in ("api.health", "api.openapi_document"):
        return None
    scheme, _, secret = header.partition(" ")
    token = tokens.authenticate(secret.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        return error_response(401, "unauthorized", "The token is missing, wrong or revoked.")
    g.api_token = token
    return None


def scopes():
    token = bearer()
    if token is not None:
        return set(token.scope_list)
    if current_user.is_authenticated:
        return {tokens.INTERNAL_READ, tokens.PUBLIC_READ, tokens.FLAGS_WRITE}
    return set()


def require(*allowed):
    """The first of `allowed` scopes the caller has; 401 without credentials, 403 without the scope."""
    have = scopes()
    if not have:
        raise ApiError(401, "unauthorized", "Send a bearer token (Authorization: Bearer kb_…).")
    for scope in allowed:
        if scope in have:
            return scope
    raise ApiError(403, "forbidden", f"This token lacks the scope: {' or '.join(allowed)}.")


def channel_for(scope):
    return serving.AGENTS if scope == tokens.INTERNAL_READ else serving.CHATBOT


def rate_key():
    """Who is counted: the presented token (Flask-Limiter checks before `authenticate` runs, so the
    header is read here), else the signed-in user, else the address."""
    header = request.headers.get("Authorization", "")
    if header:
        return "token:" + hashlib.sha256(header.encode()).hexdigest()[:24]
    signed_in = session.get("_user_id")  # Flask-Login's id (the session token): no database read here,
    if signed_in:                        # so health answers, rate-limited, while the database is down
        return "session:" + hashlib.sha256(signed_in.encode()).hexdigest()[:24]
    return f"ip:{request.remote_addr}"


def rate_limit():
    return current_app.config["API_RATE_LIMIT"]


# -- Shapes -----------------------------------------------------------------------------------------

def _iso(value):
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def card_url(served, external=True):
    """The agents' page of the card, or its FAQ page for a customer channel."""
    if served.channel == serving.AGENTS or not served.card.is_public:
        return url_for("cards.detail", card_id=served.card.id, _external=external)
    return faq.card_url(served, external)


def export_lines(channel):
    """JSON Lines of every card `channel` is served, in the API's card shape (`kb export --channel`)."""
    ids = list(db.session.scalars(select(Card.id).order_by(Card.id)))
    with current_app.test_request_context():  # URLs as paths: a command has no host name
        for start in range(0, len(ids), 500):
            batch = [s for s in serving.serve_many(serving.load(ids[start:start + 500]), channel) if s.readable]
            for served, html in zip(batch, answers_html(batch), strict=True):
                yield json.dumps(card_json(served, external=False, html=html), ensure_ascii=False) + "\n"


def answers_html(served_cards):
    """Each served answer as customers read it (links between cards become FAQ links, or plain words when
    the target is not public), looked up for all the cards at once; None for a draft, which has none."""
    told = [s for s in served_cards if s.revision is not None]
    html = dict(zip(map(id, told), faq.public_html(told), strict=True)) if told else {}
    return [html.get(id(s)) for s in served_cards]


def pending_json(revision):
    """An edit awaiting verification (or a draft), for agents to read: never the answer to send."""
    html = revision.html()
    return {"revision": revision.number, "title": revision.title, "answer_markdown": revision.answer,
            "answer_html": str(html), "answer_text": markup.text_of_html(html), "tags": revision.tags,
            "placeholders": markup.placeholders(revision.answer), "author": revision.author.name,
            "created_at": _iso(revision.created_at), "summary": revision.summary}


def card_json(served, score=None, external=True, html=None):
    """A served card as every endpoint shows it: `title` and `answer_*` are the served (verified) wording,
    which every channel tells customers. Agents also get status, reasons, notes, and `pending`: an edit
    awaiting verification, or a draft (whose `answer_*` are null: it has no served wording). Pass `html`
    (from `answers_html`) when shaping many cards."""
    card, revision, status = served.card, served.revision, served.state
    html = answers_html([served])[0] if html is None else html
    shown = revision or served.pending
    out = {
        "id": card.id,
        "title": shown.title,
        "answer_markdown": revision.answer if revision else None,
        "answer_html": str(html) if revision else None,
        "answer_text": markup.text_of_html(html) if revision else None,
        "placeholders": markup.placeholders(revision.answer) if revision else [],
        "collection": {"id": card.collection_id, "slug": card.collection.slug, "name": card.collection.name},
        "tags": shown.tags,
        "verified_at": _iso(card.verified_at),
        "verified_by": card.verified_by.name if card.verified_by else None,
        "verifying_team": card.verifier_team.name,
        "next_due": _iso(status.due_at),
        "revision": revision.number if revision else None,
        "url": card_url(served, external),
    }
    if served.channel == serving.AGENTS:
        out.update({
            "status": status.code,
            "reasons": [{"code": r.code, "message": r.message} for r in status.reasons],
            "internal_notes": card.internal_notes,
            "owner": card.owner.name,
            "verified_revision": card.verified_revision_number,
            "current_revision": card.revision_number,
            "pending": pending_json(served.pending) if served.pending is not None else None,
            "public": card.is_public,
            "archived": card.is_archived,
            "updated_at": _iso(card.updated_at),
        })
    if score is not None:
        out["score"] = round(score, 4)
    return out


# -- Endpoints --------------------------------------------------------------------------------------

@bp.get("/health")
def health():
    """No authentication: can the database take writes, is the index reachable, and how far behind is it.

    Reachable is not enough: sign-in, card pages and search all write (view counts, search log), so a
    read-only database is down for users. The probe is a write that touches no row, rolled back:
    `DELETE FROM alembic_version WHERE 1=0` needs the write lock on SQLite (refused on a read-only file,
    `mode=ro` or `query_only`) and is refused by PostgreSQL in a read-only transaction or on a standby.
    """
    body, status = {"status": "ok"}, 200
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as error:  # noqa: BLE001  (reported, not raised: this is the health check)
        db.session.rollback()
        body.update(status="error", database=f"unreachable: {type(error).__name__}")
        return jsonify(body), 503
    try:
        db.session.execute(text("DELETE FROM alembic_version WHERE 1=0"))
        body["database"] = "ok"
    except Exception as error:  # noqa: BLE001
        read_only = "read-only" in str(error).replace("readonly", "read-only")
        body.update(status="error", database="read-only" if read_only else f"not writable: {type(error).__name__}")
        return jsonify(body), 503
    finally:
        db.session.rollback()
    try:
        st = search_index.status()
        body["index"] = {"status": st["state"], "documents": st["documents"], "lag": st["lag"]}
        if st["state"] != "ok" or st["lag"] > current_app.config["API_HEALTH_MAX_LAG"]:
            body["status"] = "degraded"
    except Exception as error:  # noqa: BLE001
        body.update(status="error", index={"status": f"unreachable: {type(error).__name__}", "lag": None})
        status = 503
    semantic = embedding.status()
    body["semantic"] = {"model": semantic["model"], "status": semantic["state"], "reason": semantic["reason"]}
    if semantic["state"] == "refused" and body["status"] == "ok":
        body["status"] = "degraded"  # configured but unusable: search works, lexically only
    return jsonify(body), status


@bp.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3 description of this API (no authentication: it is documentation)."""
    from kb.channels import openapi

    return jsonify(openapi.document())


@bp.get("/answer")
def answer():
    """The single best served answer for a customer's question, or 404 `no_verified_answer` with up to
    three suggestions, so that a bot hands over to a person instead of guessing."""
    require(tokens.PUBLIC_READ, tokens.INTERNAL_READ)
    q = (request.args.get("q") or "").strip()
    if not q:
        raise ApiError(400, "invalid_parameter", "Ask a question: q is required.", field="q")
    found = finding.answer(q, synonyms.table())
    if found.served is not None:
        return jsonify(card_json(found.served, score=found.score))
    suggestions = [{"id": s.card.id, "title": s.revision.title, "url": card_url(s)} for s in found.candidates[:3]]
    # A question the bot handed over is a knowledge gap: it joins the agents' unanswered searches in
    # the gap report, where an expert can turn it into a card or a synonym.
    later(gaps.record_search, None, q, 0, 0.0, gaps.new_ref())
    raise ApiError(404, "no_verified_answer", f"No verified answer matches this question well enough ({found.why}); "
                   "hand over to a person.", suggestions=suggestions)


@bp.get("/search")
def search():
    """The search of the agents' pages; a `public:read` token sees served public cards only, in their
    verified wording."""
    scope = require(tokens.INTERNAL_READ, tokens.PUBLIC_READ)
    params = service.params_from(request.args)
    user = current_user if current_user.is_authenticated and bearer() is None else None
    if scope == tokens.INTERNAL_READ:
        is_session = user is not None
        explain = is_session and request.args.get("explain") == "1" and permissions.is_verifier(user)
        try:
            results, search_id = service.run(params, user, facets=request.args.get("facets") == "1",
                                             explain=explain, prefix_last=request.args.get("prefix") == "1",
                                             log=is_session)
        except search_index.Rebuilding:
            if not is_session:
                raise
            # The as-you-type box shows a notice only over no results; the results page lists title matches.
            results, search_id = service.rebuilding(params, titles=False), None
        return jsonify(service.results_json(results, search_id, explain=explain))
    found = finding.public_search(params.q, serving.CHATBOT, params.filters, params.limit, params.offset,
                                  prefix_last=request.args.get("prefix") == "1", synonyms=synonyms.table())
    out = [{"id": s.card.id, "title": s.revision.title, "snippet": hit.snippet, "status": s.status, "reasons": [],
            "collection": {"id": s.card.collection_id, "slug": s.card.collection.slug, "name": s.card.collection.name},
            "tags": s.revision.tags, "verified_at": _iso(s.card.verified_at), "url": card_url(s)}
           for hit, s in found.items]
    return jsonify({"results": out, "total": found.total, "did_you_mean": found.did_you_mean,
                    "next_cursor": found.next_cursor, "notice": found.notice, "search_id": None})


def _card_or_404(card_id, channel):
    cards = serving.load([card_id])
    served = serving.serve(cards[0], channel) if cards else None
    if served is None or not served.readable:
        raise ApiError(404, "not_found", f"There is no card {card_id} for this token.")
    return served


@bp.get("/cards/<int:card_id>")
def card(card_id):
    channel = channel_for(require(tokens.INTERNAL_READ, tokens.PUBLIC_READ))
    return jsonify(card_json(_card_or_404(card_id, channel)))


def encode_cursor(last_id):
    return base64.urlsafe_b64encode(f"c{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw.startswith("c") and raw[1:].isascii() and raw[1:].isdigit() and len(raw) < 20:
            return min(int(raw[1:]), MAX_ID)  # past every id a column holds: nothing after it (no 500 on PG)
    except (ValueError, UnicodeDecodeError):
        pass
    raise Invalid({"cursor": "use the next_cursor of a previous response"})


def _since(value):
    try:
        return parse_iso(value)
    except ValueError as error:
        raise Invalid({"updated_since": str(error)}) from None


@bp.get("/cards")
def cards():
    """Every card the caller may see, in id order; `next_cursor` continues where a page stopped."""
    channel = channel_for(require(tokens.INTERNAL_READ, tokens.PUBLIC_READ))
    args = request.args
    limit = args.get("limit", "50")
    if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_PAGE):
        raise Invalid({"limit": f"use a whole number from 1 to {MAX_PAGE}"})
    limit = int(limit)
    statuses = [s for s in args.getlist("status") if s]
    unknown = [s for s in statuses if s not in policy.STATUSES]
    if unknown:
        raise Invalid({"status": f"{unknown[0][:40]!r} is not one of {', '.join(policy.STATUSES)}"})
    stmt = select(Card.id).order_by(Card.id)
    collections = service.collections_param(args.getlist("collection"))
    if collections:
        stmt = stmt.where(Card.collection_id.in_(collections))
    if args.get("updated_since"):
        since = _since(args["updated_since"])
        stmt = stmt.where(Card.updated_at >= since if channel == serving.AGENTS else Card.verified_at >= since)
    if channel != serving.AGENTS:
        stmt = stmt.where(Card.is_public, ~Card.is_archived, Card.verified_revision_number.is_not(None))
    after = decode_cursor(args["cursor"]) if args.get("cursor") else 0
    page, more = [], False
    while True:  # withheld cards are skipped, so read on until the page is full
        ids = list(db.session.scalars(stmt.where(Card.id > after).limit(limit * 2)))
        for served in serving.serve_many(serving.load(ids), channel):
            after = served.card.id
            if served.readable and (not statuses or served.status in statuses):
                if len(page) == limit:
                    more = True
                    break
                page.append(served)
        if more or len(ids) < limit * 2:
            break
    last = page[-1].card.id if page else after
    return jsonify({"cards": [card_json(s, html=h) for s, h in zip(page, answers_html(page), strict=True)],
                    "next_cursor": encode_cursor(last) if more else None})


@bp.get("/collections")
def collections():
    channel = channel_for(require(tokens.INTERNAL_READ, tokens.PUBLIC_READ))
    stmt = select(Collection).order_by(Collection.position, Collection.name)
    if channel != serving.AGENTS:
        stmt = stmt.where(Collection.is_public)
    return jsonify({"collections": [
        {"id": c.id, "slug": c.slug, "name": c.name, "description": c.description, "public": c.is_public,
         "url": url_for("faq.collection", slug=c.slug, _external=True) if c.is_public else
         url_for("cards.collection", slug=c.slug, _external=True)}
        for c in db.session.scalars(stmt)]})


@bp.post("/cards/<int:card_id>/flags")
def flag(card_id):
    """An agent tool or the bot reports a card that looks wrong: `{"kind": "outdated" | "incorrect" |
    "unclear", "comment": "…"}`. The card needs verification at once; its verifiers are told."""
    require(tokens.FLAGS_WRITE)
    token = bearer()
    if token is None:
        csrf.protect()  # a signed-in browser: the same CSRF check as every form
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", 'Send JSON: {"kind": "outdated", "comment": "…"}.')
    unknown = sorted(set(body) - {"kind", "comment"})
    if unknown:  # strict, as the OpenAPI document says: a misspelt "coment" is not silently dropped
        raise Invalid({unknown[0][:100]: 'is not a field of a flag (send "kind" and "comment")'})
    card = db.session.get(Card, card_id)
    if card is None or (token is not None and tokens.INTERNAL_READ not in token.scope_list
                        and not serving.serve(card, serving.CHATBOT).ok):
        raise ApiError(404, "not_found", f"There is no card {card_id} for this token.")
    reporter = current_user if token is None else token.created_by
    if reporter is None:
        raise ApiError(403, "forbidden", "The admin who created this token is gone; create a new token.")
    comment = body.get("comment")
    comment = "" if comment is None else comment
    if not isinstance(body.get("kind"), str):
        raise Invalid({"kind": "must be a string"})
    if not isinstance(comment, str):
        raise Invalid({"comment": "must be a string"})
    via = f"API token “{token.name}”" if token is not None else None
    created = flags.flag_card(card, reporter, body["kind"], comment, via=via)
    db.session.commit()
    return jsonify({"id": created.id, "card_id": card.id, "kind": created.kind, "state": created.state,
                    "created_at": _iso(created.created_at)}), 201


def init_app(app):
    limiter.limit(rate_limit, key_func=rate_key)(bp)
    app.register_blueprint(bp)

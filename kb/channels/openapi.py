"""The OpenAPI 3 document of /api/v1 (served at /api/v1/openapi.json).

Plain dicts, OpenAPI 3.0 (`nullable: true`). Keep it in step with kb.channels.api: tests/test_api_schema.py
runs Schemathesis against the running app with this document and fails on any difference.
"""
from flask import has_request_context, request

from kb.ids import MAX_ID
from kb.models import FLAG_KINDS
from kb.search import query
from kb.verification import policy


def _ref(name, kind="schemas"):
    return {"$ref": f"#/components/{kind}/{name}"}


def _json(schema, description):
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _nullable(schema):
    return {**schema, "nullable": True}


STRING = {"type": "string"}
# Text kb accepts: no control character but tab, newline and carriage return (every request is checked
# before any query: kb.hygiene; lone surrogates too, which a URL or UTF-8 body cannot carry anyway).
NO_CONTROLS = "[^\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]"
TEXT = {"type": "string", "pattern": f"^{NO_CONTROLS}*$"}
INTEGER = {"type": "integer"}
DATE_TIME = {"type": "string", "format": "date-time"}
URL = {"type": "string", "format": "uri-reference"}


def _object(properties, optional=()):
    """An object whose every property is required except `optional`; more properties may come later."""
    return {"type": "object", "properties": properties,
            "required": [name for name in properties if name not in optional]}


# -- Parameters -------------------------------------------------------------------------------------

def _query(name, schema, description, required=False, repeat=False, empty=False):
    """A query parameter; `empty`: an empty value (`name=`) counts as leaving it out."""
    param = {"name": name, "in": "query", "required": required, "description": description}
    if schema.get("type") == "string" and not ({"enum", "pattern", "format"} & set(schema)):
        schema = {**schema, "pattern": TEXT["pattern"]}
    if empty:
        param["allowEmptyValue"] = True
    if repeat:
        param.update(schema={"type": "array", "items": schema}, style="form", explode=True)
    else:
        param["schema"] = schema
    return param


COLLECTION_PARAM = _query(
    "collection", {"type": "string", "format": "collection-id-or-slug"},
    "Only cards of this collection: an id, or a slug that exists (an unknown slug is a 400). Repeatable "
    "(any of them); the first 20 values are used, empty ones ignored.", repeat=True)
STATUS_PARAM = _query(
    "status", {"type": "string", "enum": [*policy.STATUSES, ""]},
    "Only cards with this status. Repeatable (any of them); an empty value is ignored.", repeat=True)


def _cursor(kind):
    return _query("cursor", {"type": "string", "format": f"{kind}-cursor"},
                  "The `next_cursor` of the previous page, unchanged (anything else is a 400).", empty=True)


def _switch(name, description):
    return _query(name, STRING, description + " Send `1` to turn on; any other value leaves it off.")


# -- Schemas ----------------------------------------------------------------------------------------

COLLECTION_REF = _object({"id": INTEGER, "slug": STRING, "name": STRING})
REASON = _object({"code": {"type": "string", "enum": list(policy.REASONS)}, "message": STRING})
STATUS = {"type": "string", "enum": list(policy.STATUSES)}

SCHEMAS = {
    "Error": _object({
        "error": _object({
            "code": {"type": "string", "description": "Stable: `invalid_parameter`, `invalid_body`, "
                                                       "`unauthorized`, `forbidden`, `not_found`, "
                                                       "`no_verified_answer`, `method_not_allowed`, "
                                                       "`request_entity_too_large`, `too_many_requests`, "
                                                       "`internal_error`."},
            "message": {"type": "string", "description": "What went wrong, for a person."},
            "field": {"type": "string", "description": "The parameter or body field at fault (400 only)."},
            "suggestions": {"type": "array", "description": "`no_verified_answer` only: up to three cards "
                                                            "that came close.",
                            "items": _object({"id": INTEGER, "title": STRING, "url": URL})},
        }, optional=("field", "suggestions")),
    }),
    "Reason": REASON,
    "Pending": {**_object({
        "revision": INTEGER,
        "title": STRING,
        "answer_markdown": STRING,
        "answer_html": STRING,
        "answer_text": STRING,
        "tags": {"type": "array", "items": STRING},
        "placeholders": {"type": "array", "items": STRING},
        "author": STRING,
        "created_at": DATE_TIME,
        "summary": STRING,
    }), "description": "Agents only: the current wording while it awaits verification (an edit, or a draft "
                       "never verified). To read, never to send: customers are told the served wording."},
    "Card": {**_object({
        "id": INTEGER,
        "title": {**STRING, "description": "The served (verified) question; a draft's own title."},
        "answer_markdown": _nullable({**STRING, "description": "The served answer as written (Markdown): the "
                                                              "verified revision. Null for a draft."}),
        "answer_html": _nullable({**STRING, "description": "The served answer as safe HTML; links to other "
                                                          "cards point at their FAQ pages. Null for a draft."}),
        "answer_text": _nullable({**STRING, "description": "The served answer as plain text for chat: what "
                                                          "every channel tells customers. Null for a draft."}),
        "placeholders": {"type": "array", "items": STRING,
                         "description": "`{name}` fields in the answer (e.g. `customer_name`, `order_number`), in "
                                        "order of appearance: a bot fills them from its conversation."},
        "collection": COLLECTION_REF,
        "tags": {"type": "array", "items": STRING},
        "verified_at": _nullable({**DATE_TIME, "description": "Last verification; null if never verified."}),
        "verified_by": _nullable({**STRING, "description": "Who verified it last."}),
        "verifying_team": STRING,
        "next_due": _nullable({**DATE_TIME, "description": "When the verification lapses."}),
        "revision": _nullable({**INTEGER, "description": "The revision of `answer_*`: the verified one, for "
                                                         "every caller. Null for a draft."}),
        "url": {**URL, "description": "The card's page (the public FAQ page for `public:read`)."},
        "score": {"type": "number", "description": "Relevance (`/answer` only)."},
        # Agents only (`internal:read`):
        "status": {**STATUS, "description": "Agents only."},
        "reasons": {"type": "array", "items": _ref("Reason"), "description": "Agents only: why it is not "
                                                                               "verified."},
        "internal_notes": {**STRING, "description": "Agents only."},
        "owner": {**STRING, "description": "Agents only: the owner's name."},
        "verified_revision": _nullable({**INTEGER, "description": "Agents only: the revision last verified."}),
        "current_revision": {**INTEGER, "description": "Agents only: the latest revision."},
        "pending": _nullable({**_ref("Pending"), "description": "Agents only: the edit awaiting verification."}),
        "public": {"type": "boolean", "description": "Agents only."},
        "archived": {"type": "boolean", "description": "Agents only."},
        "updated_at": {**DATE_TIME, "description": "Agents only."},
    }, optional=("score", "status", "reasons", "internal_notes", "owner", "verified_revision", "current_revision",
                 "pending", "public", "archived", "updated_at")),
        "description": "A card as served to the caller. `title` and `answer_*` are always the served (verified) "
                       "wording, which every channel tells customers; `internal:read` also gets the fields "
                       "marked agents only, including the `pending` edit."},
    "SearchResult": _object({
        "id": INTEGER,
        "title": STRING,
        "snippet": {"type": "string", "description": "HTML: part of the answer around the words found, "
                                                   "escaped, with those words in `<mark>`."},
        "status": STATUS,
        "reasons": {"type": "array", "items": _ref("Reason"), "description": "Always empty for `public:read`."},
        "collection": COLLECTION_REF,
        "tags": {"type": "array", "items": STRING},
        "verified_at": _nullable(DATE_TIME),
        "url": URL,
        "pending": _nullable({**_object({"revision": INTEGER, "title": STRING, "snippet": STRING}),
                              "description": "`internal:read` only: an edit awaiting verification (or a draft); "
                                             "`title` and `snippet` above are the served wording."}),
        "draft": {"type": "boolean", "description": "`internal:read` only: never verified, so no served "
                                                    "wording (copy it only as a draft)."},
        "explain": {"type": "object", "description": "How the score came about (`explain=1`, signed-in "
                                                     "verifiers only).", "additionalProperties": True},
    }, optional=("explain", "pending", "draft")),
    "Facet": _object({"value": STRING, "label": STRING, "count": INTEGER}),
    "SearchResponse": _object({
        "results": {"type": "array", "items": _ref("SearchResult")},
        "total": {**INTEGER, "description": "Matching cards (about, for `public:read`)."},
        "did_you_mean": _nullable({**STRING, "description": "The query with its typos corrected."}),
        "next_cursor": _nullable({**STRING, "description": "Pass as `cursor` for the next page; null on the "
                                                           "last."}),
        "notice": _nullable({**STRING, "description": "Something to tell the person who searched."}),
        "search_id": _nullable({**STRING, "description": "Set for signed-in agents only; null for tokens. "
                                                          "Pass it on (`sid`) so an open or a copy is credited."}),
        "facets": {**_object({name: {"type": "array", "items": _ref("Facet")}
                              for name in ("collection", "status", "tag", "owner")}),
                   "description": "Counts per value (`facets=1`, `internal:read` only)."},
    }, optional=("facets",)),
    "CardsPage": _object({
        "cards": {"type": "array", "items": _ref("Card")},
        "next_cursor": _nullable({**STRING, "description": "Pass as `cursor` for the next page; null on the "
                                                           "last."}),
    }),
    "Collection": _object({
        "id": INTEGER, "slug": STRING, "name": STRING, "description": STRING, "public": {"type": "boolean"},
        "url": URL,
    }),
    "Flag": _object({
        "id": INTEGER,
        "card_id": INTEGER,
        "kind": {"type": "string", "enum": list(FLAG_KINDS)},
        "state": {"type": "string", "enum": ["open", "resolved", "dismissed"]},
        "created_at": DATE_TIME,
    }),
    "NewFlag": _object({
        "kind": {"type": "string", "enum": list(FLAG_KINDS)},
        "comment": {**TEXT, "nullable": True, "maxLength": 2000, "description": "What looks wrong."},
    }, optional=("comment",)) | {"additionalProperties": False},
    "Health": _object({
        "status": {"type": "string", "enum": ["ok", "degraded", "error"],
                   "description": "`degraded`: the search index is behind (searches may miss recent edits), "
                                  "or the configured embedding model was refused (search is lexical)."},
        "database": {"type": "string", "description": "`ok`, or `unreachable: …`."},
        "index": _object({
            "status": {"type": "string", "description": "`ok`, or `unreachable: …`."},
            "documents": {**INTEGER, "description": "Cards in the search index."},
            "lag": _nullable({**INTEGER, "description": "Changes not yet in the index."}),
        }, optional=("documents",)),
        "semantic": _object({
            "model": _nullable({"type": "string", "description": "The sentence embedding model configured."}),
            "status": {"type": "string", "enum": ["ready", "off", "refused"]},
            "reason": _nullable({"type": "string", "description": "Why search is lexical, when it is."}),
        }),
    }, optional=("index", "semantic")),
}

# -- Responses --------------------------------------------------------------------------------------

RESPONSES = {
    "BadRequest": _json(_ref("Error"), "A parameter is wrong: `invalid_parameter` names it in `field`."),
    "Unauthorized": _json(_ref("Error"), "No bearer token, or a wrong or revoked one (`unauthorized`)."),
    "Forbidden": _json(_ref("Error"), "The token lacks the scope this needs (`forbidden`)."),
    "NotFound": _json(_ref("Error"), "No such card for this token (`not_found`)."),
    "TooManyRequests": {**_json(_ref("Error"), "Too many requests from this caller (`too_many_requests`); "
                                               "wait Retry-After seconds."),
                        "headers": {"Retry-After": {"required": True, "description": "Seconds to wait.",
                                                    "schema": INTEGER}}},
    "ServerError": _json(_ref("Error"), "Something went wrong on our side (`internal_error`); retry later."),
}
ERRORS = {"401": _ref("Unauthorized", "responses"), "429": _ref("TooManyRequests", "responses"),
          "500": _ref("ServerError", "responses")}
READ_ERRORS = {**ERRORS, "403": _ref("Forbidden", "responses")}
OPEN_ERRORS = ERRORS  # no token needed; one that is sent is ignored
BEARER = [{"bearerAuth": []}]


def _get(operation_id, summary, description, ok, parameters=(), errors=None, security=BEARER):
    return {"get": {"operationId": operation_id, "summary": summary, "description": description,
                    "security": security, "parameters": list(parameters),
                    "responses": {"200": ok, **(errors if errors is not None else READ_ERRORS)}}}


CARD_ID = {"name": "card_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0,
                                                                        "maximum": MAX_ID}}
SEARCH_PARAMS = [
    {**_query("q", STRING, "The question or words to look for (the first 300 characters are used)."),
     "example": "refund"},
    COLLECTION_PARAM,
    _query("tag", STRING, "Only cards with this tag. Repeatable (all of them).", repeat=True),
    STATUS_PARAM,
    _query("owner", {"type": "string", "pattern": "^[0-9]{0,18}$"},
           "Only cards of this owner (a user id). Repeatable (any of them); the first 20 values are used, empty "
           "ones ignored.", repeat=True),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": query.MAX_LIMIT, "default": 10},
           "Results per page."),
    _cursor("search"),
    _query("archived", STRING, "`1`, `true` or `yes`: include archived cards (`internal:read` only)."),
    _switch("facets", "Add counts per collection, status, tag and owner (`internal:read` only)."),
    _switch("prefix", "Treat the last word as the start of a word (search as you type)."),
    _switch("explain", "Explain each score (signed-in verifiers only; ignored for tokens)."),
]
CARDS_PARAMS = [
    COLLECTION_PARAM,
    STATUS_PARAM,
    _query("updated_since", DATE_TIME, "Only cards changed (`internal:read`) or verified (`public:read`) at or "
                                       "after this ISO 8601 date or date and time (UTC if no offset).",
           empty=True),
    _query("limit", {"type": "integer", "minimum": 1, "maximum": 100, "default": 50}, "Cards per page."),
    _cursor("cards"),
]


def paths():
    api = "/api/v1"
    return {
        f"{api}/health": _get(
            "health", "Is the service up", "Database and search index health. No token needed.",
            {**_json(_ref("Health"), "`ok` or `degraded`.")},
            errors={**OPEN_ERRORS,
                    "503": _json(_ref("Health"), "The database or the search index cannot be reached.")},
            security=[]),
        f"{api}/openapi.json": _get(
            "openapi", "This document", "The OpenAPI description of this API. No token needed.",
            {"description": "OpenAPI 3 document.", "content": {"application/json": {"schema": {"type": "object"}}}},
            errors=OPEN_ERRORS,
            security=[]),
        f"{api}/answer": _get(
            "answer", "The best verified answer to a customer's question",
            "Only verified public cards, in their verified wording and public shape, whatever the token's scope. "
            "When nothing "
            "matches well enough, 404 `no_verified_answer` with up to three `suggestions`: hand over to a person "
            "instead of guessing. Needs `public:read` or `internal:read`.",
            _json(_ref("Card"), "The best answer (with `score`)."),
            [{**_query("q", {"type": "string", "minLength": 1,
                             "pattern": f"^{NO_CONTROLS}*[^\\s\\x00-\\x1f\\x7f]{NO_CONTROLS}*$"},
                       "The customer's question (some visible character).",
                       required=True), "example": "How do refunds work?"}],
            {**READ_ERRORS, "400": _ref("BadRequest", "responses"),
             "404": _json(_ref("Error"), "No verified answer (`no_verified_answer`, with `suggestions`).")}),
        f"{api}/search": _get(
            "search", "Search cards",
            "`internal:read`: every card, current wording, status and reasons. `public:read`: served public "
            "cards only, in their verified wording (statuses verified, due_soon, needs_verification).",
            _json(_ref("SearchResponse"), "A page of results, best first."), SEARCH_PARAMS,
            {**READ_ERRORS, "400": _ref("BadRequest", "responses")}),
        f"{api}/cards": _get(
            "listCards", "Every card the token may see, in id order",
            "For syncing a bot or a widget: page with `cursor`; withheld cards are left out. Needs "
            "`public:read` or `internal:read`.",
            _json(_ref("CardsPage"), "A page of cards."), CARDS_PARAMS,
            {**READ_ERRORS, "400": _ref("BadRequest", "responses")}),
        f"{api}/cards/{{card_id}}": _get(
            "getCard", "One card", "404 if the card does not exist or is not served to this token. Needs "
            "`public:read` or `internal:read`.",
            _json(_ref("Card"), "The card."), [CARD_ID],
            {**READ_ERRORS, "404": _ref("NotFound", "responses")}),
        f"{api}/collections": _get(
            "listCollections", "Collections", "`public:read` sees public collections only.",
            _json(_object({"collections": {"type": "array", "items": _ref("Collection")}}), "All collections, "
                                                                                            "in display order.")),
        f"{api}/cards/{{card_id}}/flags": {"post": {
            "operationId": "flagCard", "summary": "Report a card that looks wrong",
            "description": "The card needs verification at once and its verifiers are told; the chatbot stops "
                           "serving it until then. Needs `flags:write`; a `public:read`-only token may flag "
                           "served public cards only.",
            "security": BEARER,
            "parameters": [CARD_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("NewFlag")}}},
            "responses": {
                "201": _json(_ref("Flag"), "The flag, open."),
                "400": _json(_ref("Error"), "Not a JSON object (`invalid_body`), or `invalid_parameter` with "
                                            "`field`: `kind`, `comment`, or `card` (archived)."),
                "401": _ref("Unauthorized", "responses"),
                "403": _json(_ref("Error"), "The token lacks `flags:write`, or the admin who created it is "
                                            "gone (`forbidden`)."),
                "404": _ref("NotFound", "responses"),
                "413": _json(_ref("Error"), "The body is larger than the server's limit (2 MB by default)."),
                "429": _ref("TooManyRequests", "responses"),
                "500": _ref("ServerError", "responses"),
            }}},
    }


def document():
    root = request.script_root if has_request_context() else ""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "kb API", "version": "1",
            "description": "Verified answers for the chatbot, widgets and agent tools. Send "
                           "`Authorization: Bearer kb_…` (tokens are created by admins, with scopes "
                           "`public:read`, `internal:read`, `flags:write`). Errors are JSON "
                           '`{"error": {"code", "message"}}`; a method a path does not take is a 405 with '
                           "`Allow`. Requests are rate limited per token (429 with Retry-After). The agents' own "
                           "pages call it with their signed-in session instead (as `internal:read` and "
                           "`flags:write`).",
        },
        "servers": [{"url": root + "/"}],
        "paths": paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "An API token, `kb_…`."}},
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }

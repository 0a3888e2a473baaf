"""The public FAQ (no login): public collections and their served cards, in the verified wording only.

What a card shows is decided by `kb.channels.serving` alone (channel "faq"): this module never reads a
card's current title, answer, notes, owner or team, only the revision `serving` hands out. Pages carry
ETag and Last-Modified and answer conditional requests with 304, so a proxy or a browser can cache them
for `FAQ_CACHE_SECONDS` without a CDN.
"""
import json
import re
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from kb import markup
from kb.channels import finding, serving
from kb.extensions import db
from kb.ids import MAX_ID
from kb.models import Card, Collection, Revision
from kb.search import index as search_index
from kb.search import service, synonyms

bp = Blueprint("faq", __name__, url_prefix="/faq")

SEARCH_LIMIT = 20
EXCERPT_CHARS = 220
PREVIEW_QUESTIONS = 4  # questions listed under each collection on the FAQ home page
HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

# Links between cards in an answer point at the agents' pages (/cards/12, /cards/by-key/x). On the FAQ
# they become links to the FAQ page of the target when it is served there, and plain text otherwise
# (an internal card's key is not for customers). nh3 writes every attribute double-quoted.
ANCHOR = re.compile(r"<a\s([^>]*)>(.*?)</a>", re.DOTALL)
HREF = re.compile(r'\bhref="([^"]*)"')
CARD_HREF = re.compile(r"^(?:https?://[^/\s]+)?/cards/(?:(\d{1,19})|by-key/([A-Za-z0-9._:-]{1,100}))/?(?:[?#].*)?$")


@dataclass
class Entry:
    """One served card as the FAQ shows it."""

    card_id: int
    slug: str
    title: str
    html: Markup
    text: str
    url: str
    reviewed_at: datetime | None
    collection: Collection | None  # only when that collection is public itself
    words: str = ""  # the answer reduced to its words, for excerpts

    @property
    def excerpt(self):
        flat = self.words
        if len(flat) <= EXCERPT_CHARS:
            return flat
        return flat[:EXCERPT_CHARS].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


# -- Reading what may be shown ------------------------------------------------------------------------

def _candidates(stmt):
    """Cards `stmt` selects that could be served at all (public, live, verified once), loaded for serving."""
    stmt = stmt.where(Card.is_public, ~Card.is_archived, Card.verified_revision_number.is_not(None)).options(
        selectinload(Card.state), selectinload(Card.owner), selectinload(Card.collection))
    return list(db.session.scalars(stmt))


def _served(cards):
    """The cards the FAQ may show, in the order given, each with the revision to show."""
    return [s for s in serving.serve_many(cards, serving.FAQ) if s.ok]


def _slug(revision):
    """The slug of the served title (the card's current title may be an unverified edit: never in a URL)."""
    return serving.slug(revision.title)


def card_url(served, external=False):
    return url_for("faq.card", card_id=served.card.id, slug=_slug(served.revision), _external=external)


def public_url(served):
    """A card's FAQ address as customers reach it (EXTERNAL_URL): the same words in every channel, whether
    the chatbot's host, the FAQ's or the agent's browser asked for them."""
    return current_app.config["EXTERNAL_URL"].rstrip("/") + card_url(served)


def _public_collections():
    return list(db.session.scalars(
        select(Collection).where(Collection.is_public).order_by(Collection.position, Collection.name)))


def _link_targets(htmls):
    """{href: FAQ URL or None} for every link to a card in the rendered answers."""
    hrefs, ids, keys = {}, set(), set()
    for html in htmls:
        for attrs, _ in ANCHOR.findall(html):
            href = HREF.search(attrs)
            match = CARD_HREF.match(href.group(1)) if href else None
            if match:
                hrefs[href.group(1)] = match.groups()
                if match.group(1) and int(match.group(1)) <= MAX_ID:
                    ids.add(int(match.group(1)))
                elif match.group(2):
                    keys.add(match.group(2))
    if not hrefs:
        return {}
    served = _served(_candidates(select(Card).where(or_(Card.id.in_(ids), Card.link_key.in_(keys)))))
    by_id = {s.card.id: public_url(s) for s in served}
    by_key = {s.card.link_key: public_url(s) for s in served}
    return {href: by_id.get(int(card_id)) if card_id else by_key.get(key)
            for href, (card_id, key) in hrefs.items()}


def _rewrite_links(html, targets):
    def replace(match):
        href = HREF.search(match.group(1))
        if href is None or href.group(1) not in targets:
            return match.group(0)
        url = targets[href.group(1)]
        if url is None:
            return match.group(2)  # already sanitised HTML: keep the words, drop the link
        return f'<a href="{Markup.escape(url)}">{match.group(2)}</a>'

    return Markup(ANCHOR.sub(replace, str(html)))


def customer_answer(revision):
    """One revision's answer as customers read it, and the words of its links to cards the FAQ does not serve
    (they reach the customer as words alone): what an agent's Copy gives, and what it warns about."""
    html = str(revision.html())
    targets = _link_targets([html])
    internal = [Markup(label).striptags() for attrs, label in ANCHOR.findall(html)
                if (href := HREF.search(attrs)) is not None and href.group(1) in targets
                and targets[href.group(1)] is None]
    return _rewrite_links(html, targets), internal


def public_html(served_cards):
    """Each served answer rendered for customers: links between cards made public or removed."""
    rendered = [s.revision.html() for s in served_cards]
    targets = _link_targets([str(html) for html in rendered])
    return [_rewrite_links(html, targets) for html in rendered]


def entries(served_cards):
    """`Entry` for each served card, as the FAQ pages show it."""
    return [
        Entry(card_id=s.card.id, slug=_slug(s.revision), title=s.revision.title,
              html=html, text=markup.text_of_html(html), url=card_url(s),
              reviewed_at=s.card.verified_at,
              collection=s.card.collection if s.card.collection.is_public else None,
              words=markup.strip_markdown(s.revision.answer))
        for s, html in zip(served_cards, public_html(served_cards))
    ]


def newest(items):
    dates = [e.reviewed_at for e in items if e.reviewed_at is not None]
    return max(dates) if dates else None


def json_ld(items, page_url):
    """schema.org FAQPage for `items`, safe inside <script type="application/ld+json"> (no <, > or & left)."""
    data = {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "url": page_url,
        "mainEntity": [
            {"@type": "Question", "name": e.title,
             "url": url_for("faq.card", card_id=e.card_id, slug=e.slug, _external=True),
             "acceptedAnswer": {"@type": "Answer", "text": e.text}}
            for e in items
        ],
    }
    text = json.dumps(data, ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


# -- Responses ------------------------------------------------------------------------------------------

def _cache_headers(response):
    response.cache_control.public = True
    response.cache_control.max_age = int(current_app.config["FAQ_CACHE_SECONDS"])
    return response


def cacheable(body, last_modified=None, mimetype="text/html"):
    """A 200 with ETag (hash of the body) and Last-Modified, or a 304 when the client already has it."""
    response = _cache_headers(make_response(body))
    response.mimetype = mimetype
    response.add_etag()
    if last_modified is not None:
        response.last_modified = last_modified
    return response.make_conditional(request)


def permanent_redirect(location):
    """A 301 that browsers keep only as long as a page (a slug changes when a new title is verified)."""
    return _cache_headers(redirect(location, 301))


def theme_colors():
    """(brand colour, text colour on it): FAQ_BRAND_COLOR if it is a #rgb/#rrggbb colour, else the default."""
    color = str(current_app.config.get("FAQ_BRAND_COLOR") or "")
    if not HEX_COLOR.match(color):
        if color:
            current_app.logger.warning("FAQ_BRAND_COLOR %r is not a #rrggbb colour; using #1f6feb", color[:40])
        color = "#1f6feb"
    digits = color[1:] if len(color) == 7 else "".join(c * 2 for c in color[1:])
    r, g, b = (int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
    luminance = sum(w * (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
                    for w, c in zip((0.2126, 0.7152, 0.0722), (r, g, b)))
    return color, "#111827" if luminance > 0.4 else "#ffffff"


@bp.context_processor
def brand():
    return {"faq_brand": {"name": current_app.config["FAQ_BRAND_NAME"], "logo": current_app.config["FAQ_LOGO_URL"]}}


@bp.errorhandler(404)
def not_found(error):
    """Also for FAQ URLs no route matched (kb.web sends those here), outside the blueprint's context."""
    return render_template("faq/not_found.html", **brand()), 404


# -- Pages ------------------------------------------------------------------------------------------------

@bp.get("/theme.css")
def theme():
    """The brand colour as CSS custom properties (the CSP allows no inline styles)."""
    color, on_color = theme_colors()
    return cacheable(f":root {{ --faq-brand: {color}; --faq-on-brand: {on_color}; }}\n", mimetype="text/css")


@bp.get("/")
def index():
    """The FAQ home: public collections with a few of their questions, or search results for `?q=`."""
    text = request.args.get("q", "")
    if text.strip():
        return search(text)
    collections = _public_collections()
    served = _served(_candidates(
        select(Card).where(Card.collection_id.in_([c.id for c in collections])).order_by(Card.id)))
    by_collection = {}
    for s in served:  # titles and links only: no answer is rendered for the home page
        by_collection.setdefault(s.card.collection_id, []).append(
            SimpleNamespace(title=s.revision.title, url=card_url(s), reviewed_at=s.card.verified_at))
    sections = [(c, sorted(by_collection[c.id], key=lambda e: e.title.casefold()))
                for c in collections if c.id in by_collection]
    html = render_template("faq/index.html", sections=sections, preview=PREVIEW_QUESTIONS)
    return cacheable(html, newest(e for _, items in sections for e in items))


@bp.get("/<slug>")
def collection(slug):
    """A public collection: every served question with its answer."""
    coll = db.session.scalar(select(Collection).where(Collection.slug == slug[:200], Collection.is_public))
    if coll is None:
        abort(404)
    items = sorted(entries(_served(_candidates(select(Card).where(Card.collection_id == coll.id)))),
                   key=lambda e: e.title.casefold())
    page_url = url_for("faq.collection", slug=coll.slug, _external=True)
    html = render_template("faq/collection.html", collection=coll, entries=items, page_url=page_url,
                           json_ld=json_ld(items, page_url) if items else None)
    return cacheable(html, newest(items))


@bp.get("/cards/<int:card_id>")
@bp.get("/cards/<int:card_id>-<slug>")
def card(card_id, slug=None):
    """One served card at its one stable URL; any other slug (or none) redirects there."""
    found = _served(_candidates(select(Card).where(Card.id == card_id)))
    if not found:
        abort(404)
    served = found[0]
    if slug != _slug(served.revision):
        return permanent_redirect(card_url(served))
    entry = entries([served])[0]
    page_url = card_url(served, external=True)
    html = render_template("faq/card.html", entry=entry, page_url=page_url, json_ld=json_ld([entry], page_url))
    return cacheable(html, entry.reviewed_at)


# -- Search -------------------------------------------------------------------------------------------------

def search(text):
    """Search the served public cards, by the words the FAQ shows of them (`finding.public_search`)."""
    max_chars = current_app.config["SEARCH_MAX_QUERY_CHARS"]
    truncated = len(text) > max_chars
    text = text[:max_chars]
    try:
        results = finding.public_search(text, serving.FAQ, limit=SEARCH_LIMIT, synonyms=synonyms.table())
    except search_index.Rebuilding as error:
        return rebuilding(text, error)
    found = entries(results.served)
    notice = None
    if truncated:
        notice = f"Only the first {max_chars} characters of your search were used."
    elif not any(ch.isalnum() for ch in text):
        notice = "Type a word or two about your question."
    elif found and results.mode == "any":
        notice = "No answer matches all your words; these match some of them."
    html = render_template("faq/search.html", q=text, entries=found, did_you_mean=results.did_you_mean,
                           notice=notice)
    return cacheable(html, newest(found))


def rebuilding(text, error):
    """The search page while a corrupt index is rebuilt: the notice in the FAQ's own page, with the served
    questions holding every word typed (from the database), as a 503 that says when to come back (so that
    neither a cache nor a crawler keeps it)."""
    holds = service.title_holds(Revision.title, text)
    found = []
    if holds is not None:
        stmt = (select(Card).join(Revision, (Revision.card_id == Card.id)
                                  & (Revision.number == Card.verified_revision_number))
                .where(*holds).order_by(Revision.title, Card.id).limit(SEARCH_LIMIT))
        found = entries(_served(_candidates(stmt)))
    html = render_template("faq/search.html", q=text, entries=found, did_you_mean=None, notice=str(error),
                           rebuilding=True)
    response = make_response(html, 503)
    response.headers["Retry-After"] = str(search_index.RETRY_AFTER_SECONDS)
    response.cache_control.no_store = True
    return response

"""Markdown to safe HTML: every card body is rendered through here, on every channel."""
import re

import markdown
import nh3
from markupsafe import Markup

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "ol", "p",
    "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align"},
    "td": {"align"},
}
# No javascript:, data:, vbscript: ... Relative URLs (links to other cards) stay allowed.
URL_SCHEMES = {"http", "https", "mailto", "tel"}

# Links to other cards: /cards/123 or /cards/by-key/<external id>, optionally absolute.
CARD_LINK = re.compile(r"\]\(\s*(?:https?://[^/\s)]+)?/cards/(?:(\d+)|by-key/([A-Za-z0-9._:-]+))\s*[)#?]")


def render(text):
    """Render Markdown and strip anything that could run script: tags, handlers, bad URLs."""
    html = markdown.markdown(text or "", extensions=["extra", "sane_lists"], output_format="html")
    return Markup(
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes=ALLOWED_ATTRIBUTES,
            url_schemes=URL_SCHEMES,
            link_rel="noopener noreferrer",
        )
    )


def linked_cards(text):
    """The cards a Markdown text links to: (set of ids, set of external ids)."""
    ids, keys = set(), set()
    for card_id, key in CARD_LINK.findall(text or ""):
        if card_id:
            ids.add(int(card_id))
        else:
            keys.add(key)
    return ids, keys


def init_app(app):
    app.jinja_env.filters["markdown"] = render

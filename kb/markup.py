"""Markdown to safe HTML (and to chat-ready plain text): every card body goes through here, on every channel."""
import re
import threading
from html.parser import HTMLParser

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


# Python-Markdown's inline parser is quadratic in the brackets a paragraph leaves open: 1,000 unmatched `[`
# take 0.15 s, 4,000 take 1.9 s, 20,000 over a minute (bench/markdown_bench.py). Real answers open a few
# dozen links, so a cheap scan refuses far more than any answer needs before Markdown sees the text.
MAX_OPEN_BRACKETS = 200  # unmatched `[` or `(` in one paragraph: ~10 ms at this count
MAX_NESTING = 20  # brackets inside brackets
# The backstop for a pathology the scan does not know: stop waiting for a render after this long.
RENDER_BUDGET_SECONDS = 2.0
TOO_COMPLEX = "This {what} is too complex to display ({reason}); simplify its brackets/nesting"


class TooComplex(ValueError):
    """Rendering this text would cost more than the budget; `str()` is the message for the author."""

    def __init__(self, reason, what="answer"):
        super().__init__(TOO_COMPLEX.format(what=what, reason=reason))
        self.reason = reason


def check_complexity(text, what="answer"):
    """Refuse, in one linear pass, the bracket patterns that make Markdown's cost superlinear.

    :raise TooComplex: a paragraph leaves too many `[` or `(` open, or nests them too deep.
    """
    closers = {"]": "[", ")": "("}
    for block in re.split(r"\n[ \t]*\n", text or ""):
        open_ = {"[": 0, "(": 0}  # a closer closes the latest opener of its kind; the rest stay open
        for char in block:
            if char in open_:
                open_[char] += 1
            elif char in closers and open_[closers[char]]:
                open_[closers[char]] -= 1
            else:
                continue
            if open_["["] + open_["("] > MAX_NESTING and char in closers:
                raise TooComplex(f"brackets nested more than {MAX_NESTING} deep", what)
        for opener, count in open_.items():
            if count > MAX_OPEN_BRACKETS:
                raise TooComplex(f"{count} unclosed “{opener}” in one paragraph, at most {MAX_OPEN_BRACKETS}", what)


def _render(text):
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


def render(text, budget=None, what="answer"):
    """Render Markdown and strip anything that could run script: tags, handlers, bad URLs.

    :raise TooComplex: the scan refuses the text, or rendering takes longer than the budget. The render
    runs in a thread so that the caller stops waiting; Python cannot stop the thread, so the scan is what
    bounds the CPU, and the budget only bounds the wait (a subprocess per render would cost more than
    most renders and cannot fork safely from a threaded server).
    """
    check_complexity(text, what)
    result = {}

    def work():
        try:
            result["html"] = _render(text)
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller's thread)
            result["error"] = exc

    worker = threading.Thread(target=work, name="kb-markdown", daemon=True)
    worker.start()
    budget = RENDER_BUDGET_SECONDS if budget is None else budget
    worker.join(budget)
    if worker.is_alive():
        raise TooComplex(f"it took more than {budget:g} s to render", what)
    if "error" in result:
        raise result["error"]
    return result["html"]


def render_or_notice(text):
    """The Jinja `markdown` filter: a text too complex to render shows why, instead of tying up the page."""
    try:
        return render(text, what="text")
    except TooComplex as exc:
        return refusal(exc)


def refusal(exc):
    """What a page shows in place of a text too complex to render."""
    return Markup('<p class="render-refused">%s.</p>') % str(exc)


def linked_cards(text):
    """The cards a Markdown text links to: (set of ids, set of link keys)."""
    ids, keys = set(), set()
    for card_id, key in CARD_LINK.findall(text or ""):
        if card_id:
            ids.add(int(card_id))
        else:
            keys.add(key)
    return ids, keys


BLOCKS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "table", "dl", "hr"}
PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]{0,40})\}")


class _Flattener(HTMLParser):
    """Sanitised HTML → text a customer can read in a chat window: blank lines between paragraphs,
    "- " and "1. " list items, links as "text (url)", no markup left."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.lists, self.links, self.row = [], [], [], []

    def _newline(self, blank=False):
        text = "".join(self.out).rstrip(" ")
        self.out = [text]
        if text and not text.endswith("\n\n" if blank else "\n"):
            self.out.append("\n" if not blank or text.endswith("\n") else "\n\n")

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in BLOCKS:
            self._newline(blank=not self.lists)
        elif tag in ("ul", "ol"):
            self._newline(blank=not self.lists)
            self.lists.append([tag, 0])
        elif tag == "li" and self.lists:
            self._newline()
            kind = self.lists[-1]
            kind[1] += 1
            bullet = f"{kind[1]}. " if kind[0] == "ol" else "- "
            self.out.append("  " * (len(self.lists) - 1) + bullet)
        elif tag == "br":
            self.out.append("\n")
        elif tag == "a":
            self.links.append((attrs.get("href") or "", len("".join(self.out))))
        elif tag == "img" and attrs.get("alt"):
            self.out.append(attrs["alt"])
        elif tag in ("td", "th") and self.row:
            self.out.append("\t")
        if tag == "tr":
            self._newline()
            self.row = [True]

    def handle_endtag(self, tag):
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self._newline(blank=not self.lists)
        elif tag in BLOCKS:
            self._newline(blank=True)
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.out)[start:].strip()
            if href.startswith(("http://", "https://", "mailto:", "tel:")):
                target = href.split(":", 1)[1] if href.startswith(("mailto:", "tel:")) else href
                if label and label != target and label != href:
                    self.out.append(f" ({target})")
                elif not label:
                    self.out.append(target)
        elif tag == "tr":
            self.row = []

    def handle_data(self, data):
        if not self.out or "".join(self.out[-1:]).endswith(("\n", "- ", ". ")):
            data = data.lstrip()
        self.out.append(re.sub(r"\s+", " ", data))


def plain_text(text):
    """The customer-facing answer as chat-ready plain text (what "Copy answer" puts on the clipboard)."""
    return text_of_html(render(text))


def text_of_html(html):
    """Sanitised HTML as chat-ready plain text (for answers whose links were rewritten for customers)."""
    flattener = _Flattener()
    flattener.feed(str(html))
    flattener.close()
    lines = [line.rstrip() for line in "".join(flattener.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def placeholders(text):
    """Names of the `{placeholder}` fields an agent fills before sending, in order of appearance."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text or "")))


_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LINE_MARKS = re.compile(r"^[ \t]{0,3}(?:#{1,6}|>|[-*+]|\d{1,3}[.)])[ \t]+", re.M)
_INLINE = re.compile(r"\*{1,3}|`+|~~|(?<!\w)_{1,3}|_{1,3}(?!\w)|<[^>\n]{1,200}>")


def strip_markdown(text):
    """Markdown reduced to its words, cheaply (for search snippets; `plain_text` is the exact form)."""
    text = text or ""
    if "](" in text:
        text = _LINK.sub(r"\1", text)
    text = _INLINE.sub("", _LINE_MARKS.sub("", text))
    return " ".join(text.split())


def mark_placeholders(html):
    """Wrap `{placeholder}` fields of rendered (already safe) HTML in <mark>, in text only, never in tags."""
    parts = re.split(r"(<[^>]*>)", str(html))
    marked = [p if p.startswith("<") else PLACEHOLDER.sub(r'<mark class="placeholder">{\1}</mark>', p) for p in parts]
    return Markup("".join(marked))


def init_app(app):
    app.jinja_env.filters["markdown"] = render_or_notice
    app.jinja_env.filters["mark_placeholders"] = mark_placeholders
    app.jinja_env.filters["placeholders"] = placeholders

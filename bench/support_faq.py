"""A second real FAQ set nobody here wrote, as kb cards: the FAQs Debian ships with fetchmail, lsof and zlib →
kb import JSON Lines (bench/data/support-faq.jsonl).

Usage: .venv/bin/python bench/support_faq.py [--root /] [--out bench/data/support-faq.jsonl]
The sources are read where Debian installs (or `dpkg-deb -x` unpacks) them under ROOT:
  fetchmail   usr/share/doc/fetchmail/fetchmail-FAQ.html   (package fetchmail 6.4.37-1:
              `apt-get download fetchmail && dpkg-deb -x fetchmail_*.deb ROOT`)
  lsof        usr/share/doc/lsof/00FAQ.gz                   (package lsof 4.95.0-1)
  zlib        usr/share/doc/zlib1g-dev/FAQ.gz               (package zlib1g-dev 1:1.2.13.dfsg-1)
Several roots may be given (--root / --root /tmp/fetchmail-unpacked); each file is taken from the first
root that has it.

One card per question, in the FAQ's own order: `external_id` "<source>#<the FAQ's own question number>"
("fetchmail#D2", "lsof#3.3.1", "zlib#12"), the question as title, the answer as Markdown (HTML or plain text
converted mechanically: paragraphs, lists, preformatted blocks fenced, links kept; words untouched), a
collection per FAQ, the FAQ's section heading as tag, public, verified, owned by "Tools FAQ".
Left out, as the FAQs mark them: fetchmail questions its authors struck through (obsolete), and lsof
headings without an answer of their own (section titles, used as tags).

The conversion alters the originals' layout (not their words); bench/data/LICENSES-support-faq.txt says so
and carries every source's copyright and licence. `load(app)` imports the bundled corpus into a kb instance.
"""
import argparse
import gzip
import html
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faq_corpus  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "support-faq.jsonl"
OWNER = {"email": "tools-faq-owner@example.com", "name": "Tools FAQ owner"}
TEAM = "Tools FAQ"
VERIFIED_AT = "2026-01-05T09:00:00Z"
SOURCES = {  # name: (path under the root, collection)
    "fetchmail": ("usr/share/doc/fetchmail/fetchmail-FAQ.html", "Fetchmail FAQ"),
    "lsof": ("usr/share/doc/lsof/00FAQ.gz", "lsof FAQ"),
    "zlib": ("usr/share/doc/zlib1g-dev/FAQ.gz", "zlib FAQ"),
}


def read_source(name, roots):
    for root in roots:
        path = Path(root) / SOURCES[name][0]
        if path.exists():
            data = path.read_bytes()
            return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")
    raise SystemExit(f"{name}: {SOURCES[name][0]} under none of {roots}")


# -- HTML → Markdown (fetchmail) --------------------------------------------------------------------

class Markdown(HTMLParser):
    """A mechanical HTML-to-Markdown pass: block elements to paragraphs, lists, fences and quotes;
    inline code, emphasis and links kept; internal links ("#G3") as their text."""

    BLOCKS = {"p", "div", "table", "tr", "dl", "address", "h3", "h4", "blockquote", "ul", "ol", "pre"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.line, self.lists, self.pre, self.href, self.quote = [], [], [], False, [], 0

    def _flush(self):
        text = re.sub(r"\s+", " ", "".join(self.line)).strip()
        if text:
            prefix = "> " * self.quote
            self.out += [prefix + text, ""]
        self.line = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in self.BLOCKS or tag in ("li", "dt", "dd", "br", "hr"):
            if not self.pre:
                self._flush()
        if tag in ("ul", "ol"):
            self.lists.append([tag, 0])
        elif tag == "li":
            kind = self.lists[-1] if self.lists else ["ul", 0]
            kind[1] += 1
            indent = "   " * (len(self.lists) - 1)
            self.line.append(indent + (f"{kind[1]}. " if kind[0] == "ol" else "- "))
        elif tag in ("h3", "h4"):
            self.line.append("### ")
        elif tag == "dt":
            self.line.append("**")
        elif tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre = True
            self.out.append("```")
        elif tag in ("code", "tt", "kbd", "samp") and not self.pre:
            self.line.append("`")
        elif tag in ("strong", "b"):
            self.line.append("**")
        elif tag in ("em", "i", "cite"):
            self.line.append("*")
        elif tag == "a" and attrs.get("href"):
            external = not attrs["href"].startswith("#")
            self.href.append(attrs["href"] if external else None)
            if external:
                self.line.append("[")
        elif tag == "a":
            self.href.append(None)
        elif tag in ("td", "th"):
            self.line.append(" | ")

    def handle_endtag(self, tag):
        if tag == "pre":
            code = "".join(self.line).strip("\n").splitlines()
            self.out += [*code, "```", ""]
            self.line, self.pre = [], False
        elif tag in ("code", "tt", "kbd", "samp") and not self.pre:
            self.line.append("`")
        elif tag in ("strong", "b"):
            self.line.append("**")
        elif tag in ("em", "i", "cite"):
            self.line.append("*")
        elif tag == "dt":
            self.line.append("**")
            self._flush()
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href:
                self.line.append(f"]({href})")
        elif tag in ("ul", "ol") and self.lists:
            self._flush()
            self.lists.pop()
        elif tag == "blockquote":
            self._flush()
            self.quote -= 1
        elif tag in self.BLOCKS or tag in ("li", "dd"):
            self._flush()

    def handle_data(self, data):
        self.line.append(data)

    def text(self):
        self._flush()
        text = "\n".join(self.out)
        text = re.sub(r"\*\*\s*\*\*|(?<!`)``(?!`)", "", text)  # empty emphasis or code
        return re.sub(r"\n{3,}", "\n\n", text).strip()


def html_markdown(fragment):
    parser = Markdown()
    parser.feed(fragment)
    parser.close()
    return parser.text()


def plain(fragment):
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


HEADING = re.compile(r"<h([12])\b[^>]*>(.*?)</h\1>", re.S)


def fetchmail_cards(text):
    body = text[text.index('<h1 id="G">'):text.rindex("<hr/>")]
    parts = HEADING.split(body)  # [before, level, heading, chunk, level, heading, chunk, ...]
    category, out = None, []
    for level, heading, chunk in zip(parts[1::3], parts[2::3], parts[3::3]):
        if level == "1":
            category = plain(heading)
            continue
        number = re.search(r'(?:id|name)="([A-Z]\d+)"', heading).group(1)
        if "<strike>" in heading:
            continue
        title = re.sub(rf"^{number}\.\s*", "", plain(heading))
        out.append(card("fetchmail", number, title, html_markdown(chunk), category))
    return out


# -- Plain text → Markdown (lsof, zlib) -------------------------------------------------------------

ITEM = re.compile(r"^(\d+[.)]|[-*o])\s+(\S.*)$")


def text_markdown(lines):
    """Indented plain text as Markdown: lines at the body's own indent are paragraphs, numbered or
    bulleted items become list items (their continuation lines joined), anything indented deeper that is
    not a list continuation is kept verbatim in a fence."""
    lines = [line.expandtabs(8).rstrip() for line in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    base = min(indents, default=0)
    out, paragraph, i = [], [], 0

    def flush():
        if paragraph:
            out.extend([" ".join(paragraph), ""])
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if not stripped:
            flush()
            i += 1
            continue
        item = ITEM.match(stripped)
        if item and indent <= base + 4 and (not paragraph or indent > base):
            flush()
            marker = "-" if item.group(1) in "-*o" else item.group(1).rstrip(".)") + "."
            column = indent + len(stripped) - len(item.group(2))
            words, i = [item.group(2)], i + 1
            while i < len(lines) and lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) >= column - 1 \
                    and not ITEM.match(lines[i].strip()):
                words.append(lines[i].strip())
                i += 1
            out.extend([f"{marker} " + " ".join(words), ""])
            continue
        if indent > base and not paragraph:
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > base):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            cut = min(len(b) - len(b.lstrip()) for b in block if b.strip())
            out.extend(["```", *[b[cut:] for b in block], "```", ""])
            continue
        paragraph.append(stripped)
        i += 1
    flush()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


LSOF_HEADING = re.compile(r"^(\d+\.\d+(?:\.\d+)*)\s+(\S.*)$")


def numbered_entries(lines, heading):
    """[(number, title, body lines)] of a plain-text FAQ whose questions start with a numbered `heading`
    line; a question goes on over the following non-blank lines up to a blank one or the next heading."""
    entries, i = [], 0
    while i < len(lines):
        match = heading.match(lines[i])
        if not match:
            if entries:
                entries[-1][2].append(lines[i])
            i += 1
            continue
        title, i = [match.group(2).strip()], i + 1
        while i < len(lines) and lines[i].strip() and not heading.match(lines[i]):
            title.append(lines[i].strip())
            i += 1
        entries.append((match.group(1), " ".join(title), []))
    return entries


def lsof_cards(text):
    lines = text.splitlines()
    rules = [n for n, line in enumerate(lines) if re.match(r"^_{20,}\s*$", line)]
    lines = lines[rules[2] + 1:]  # after the banner, the preface and the table of contents
    out, seen, category = [], set(), None
    for number, title, body in numbered_entries(lines, LSOF_HEADING):
        answer = text_markdown(body)
        if number.endswith(".0"):
            category = title
        if not answer:  # a section heading: its questions follow
            continue
        key, n = number, 2
        while key in seen:
            key, n = f"{number}-{n}", n + 1
        seen.add(key)
        out.append(card("lsof", key, title, answer, category))
    return out


ZLIB_QUESTION = re.compile(r"^\s?(\d+)\.\s+(\S.*)$")


def zlib_cards(text):
    return [card("zlib", number, title, text_markdown(body), None)
            for number, title, body in numbered_entries(text.splitlines(), ZLIB_QUESTION)]


# -- Cards --------------------------------------------------------------------------------------------

def tag(category):
    """The section heading as a tag: lower case, cut at a word to kb's 40 characters."""
    text = category.lower()
    return text if len(text) <= 40 else text[:41].rsplit(" ", 1)[0]


def card(source, number, title, answer, category):
    return {"external_id": f"{source}#{number}", "title": title[:200],
            "tags": [tag(category)] if category else [], "answer": answer or title, "internal_notes": "",
            "collection": SOURCES[source][1], "public": True, "owner_email": OWNER["email"], "verifier_team": TEAM,
            "verify_interval_days": 365, "verified_at": VERIFIED_AT, "verified_by_email": OWNER["email"],
            "archived": False}


CONVERTERS = {"fetchmail": fetchmail_cards, "lsof": lsof_cards, "zlib": zlib_cards}


def convert(roots):
    return [row for name, converter in CONVERTERS.items() for row in converter(read_source(name, roots))]


def rows(path=CORPUS):
    return faq_corpus.rows(path)


def load(app, path=CORPUS):
    """Import the corpus into a migrated `app` (its owner and team first); {external id: card id}."""
    return faq_corpus.load(app, path, team=TEAM, owner=OWNER)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", action="append", help="where the packages are installed or unpacked (/)")
    parser.add_argument("--out", default=str(CORPUS))
    args = parser.parse_args(argv)
    converted = convert(args.root or ["/"])
    ids = [r["external_id"] for r in converted]
    if len(ids) != len(set(ids)):
        raise SystemExit("duplicate external ids")
    faq_corpus.write(converted, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A real FAQ nobody here wrote, as kb cards: CPython's Doc/faq/*.rst → kb import JSON Lines.

Usage: .venv/bin/python bench/faq_corpus.py SOURCE [--rev REV] [--out bench/data/python-faq.jsonl]
SOURCE is a folder holding the FAQ's .rst files (e.g. a checkout's Doc/faq) or a git directory
(then the files are read at REV, HEAD by default, from Doc/faq/).

One card per question: `external_id` "faq/<page>#<anchor>" (the anchor as docutils makes it), the
question as title, the section as Markdown (reST converted roughly: literal and doctest blocks fenced,
roles as code or plain words, links as Markdown links, lists kept), a collection per FAQ page, the page's
section headings as tags, public, verified. A question's non-question subsections ("Tkinter" under "What
platform-independent GUI toolkits exist?") stay in its answer as headings.

The converted corpus is bundled (bench/data/python-faq.jsonl, under bench/data/LICENSE-python-docs.txt)
so that benches run offline and the query sets (bench/data/python-faq-queries.json) keep pointing at the
same questions; this script rebuilds it. `load(app)` imports it into a kb instance for the benches.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
CORPUS = DATA / "python-faq.jsonl"
PAGES = ("general", "programming", "design", "library", "extending", "windows", "gui", "installed")
OWNER = {"email": "faq-owner@example.com", "name": "FAQ owner"}
TEAM = "Python FAQ"
VERIFIED_AT = "2026-01-05T09:00:00Z"
UNDERLINE = re.compile(r"^([=\-~^*+#\"'`])\1{2,}\s*$")


# -- Reading the source -----------------------------------------------------------------------------

def read_pages(source, rev="HEAD"):
    """{page: reST text} from a folder of .rst files or from a git directory at `rev`."""
    source = Path(source)
    if (source / "general.rst").exists():
        return {page: (source / f"{page}.rst").read_text(encoding="utf-8") for page in PAGES}
    return {page: subprocess.run(["git", "--git-dir", str(source), "show", f"{rev}:Doc/faq/{page}.rst"],
                                 check=True, capture_output=True, text=True).stdout for page in PAGES}


def sections(text):
    """[(level char, heading, body lines)] in order; the page title (over- and underlined) is level "title"."""
    lines = text.splitlines()
    out, body, i = [], [], 0
    current = ("", "", body)
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if UNDERLINE.match(line) and i + 2 < len(lines) and UNDERLINE.match(lines[i + 2]) and lines[i + 1].strip():
            out.append(current)
            body = []
            current = ("title", lines[i + 1].strip(), body)
            i += 3
            continue
        if line.strip() and not UNDERLINE.match(line) and UNDERLINE.match(nxt) and len(nxt.strip()) >= len(line.strip()) - 2:
            out.append(current)
            body = []
            current = (nxt.strip()[0], line.strip(), body)
            i += 2
            continue
        body.append(line)
        i += 1
    out.append(current)
    return [s for s in out if s[1]]


# -- reST → Markdown, roughly -----------------------------------------------------------------------

CODE_ROLES = {"func", "meth", "class", "mod", "data", "attr", "exc", "c:func", "c:data", "c:type", "c:macro",
              "c:member", "keyword", "envvar", "file", "program", "option", "const", "obj", "samp", "source"}


def _role(match):
    role, text = match.group(1), match.group(2)
    label = re.match(r"^(.*?)\s*<([^>]*)>$", text, re.S)
    if label:
        text = label.group(1)
    elif text.startswith("~"):
        text = text[1:].rsplit(".", 1)[-1]
    text = text.lstrip("!")
    if role == "pep":
        return f"PEP {text}"
    if role in ("func", "meth", "c:func") and not text.endswith(")"):
        text += "()"
    return f"`{text}`" if role in CODE_ROLES else text


def inline(text, code=True):
    """reST inline markup as Markdown (or as plain words with `code=False`, for titles)."""
    text = re.sub(r"``(.+?)``", lambda m: f"`{m.group(1)}`", text)
    text = re.sub(r":([a-z]+(?::[a-z]+)?):`([^`]+)`", _role, text)
    text = re.sub(r"`([^`<]+?)\s*<([^>]+)>`__?", lambda m: f"[{m.group(1)}]({m.group(2)})", text)
    text = re.sub(r"`([^`]+)`_\b", r"\1", text)
    text = text.replace("\\ ", "").replace("|version|", "3")
    if not code:
        text = text.replace("`", "")
    return text


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _block(lines, i, base):
    """The lines indented deeper than `base` from `i` on (blank lines inside kept), dedented."""
    block = []
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > base):
        block.append(lines[i])
        i += 1
    while block and not block[-1].strip():
        block.pop()
    cut = min((_indent(b) for b in block if b.strip()), default=0)
    return [b[cut:] for b in block], i


def _fence(code, language=""):
    return ["```" + language, *code, "```", ""]


SKIPPED = {"index", "only", "contents", "testsetup", "highlight", "toctree", "XXX", "_"}


def markdown(lines):
    """A section's body as Markdown."""
    out, i = [], 0
    paragraph = []

    def flush():
        if paragraph:
            out.append(inline(" ".join(p.strip() for p in paragraph)))
            out.append("")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        directive = re.match(r"^(\s*)\.\.\s+([\w:-]+)::\s*(.*)$", line)
        if directive:
            flush()
            name, argument = directive.group(2), directive.group(3)
            block, i = _block(lines, i + 1, _indent(line))
            block = [b for b in block if not re.match(r"^\s*:\w+:", b)]  # directive options
            if name in ("code-block", "doctest", "sourcecode", "code"):
                out += _fence(block, argument if name != "doctest" else "pycon")
            elif name in ("note", "seealso", "sidebar", "warning", "versionadded", "versionchanged"):
                label = {"seealso": "See also", "sidebar": argument or "Note"}.get(name, name.capitalize())
                out.append(f"**{label}:** " + inline(" ".join(b.strip() for b in block if b.strip())))
                out.append("")
            elif name == "only":
                out += markdown(block)
            continue
        if re.match(r"^\s*\.\.(\s|$)", line):  # a comment or a target: not for readers
            flush()
            _, i = _block(lines, i + 1, _indent(line))
            continue
        if not stripped:
            flush()
            i += 1
            continue
        if stripped.startswith(">>>") and not paragraph:
            block, i = [], i
            while i < len(lines) and lines[i].strip():
                block.append(lines[i].strip() if _indent(lines[i]) == _indent(line) else lines[i][_indent(line):])
                i += 1
            out += _fence(block, "pycon")
            continue
        bullet = re.match(r"^(\s*)([*\-+]|#\.|\d+\.)\s+(.*)$", line)
        if bullet and not paragraph:
            marker = "-" if bullet.group(2) in "*-+" else "1."
            item, i = [bullet.group(3)], i + 1
            while i < len(lines) and lines[i].strip() and _indent(lines[i]) > _indent(line) \
                    and not re.match(r"^\s*([*\-+]|#\.|\d+\.)\s+", lines[i]):
                item.append(lines[i].strip())
                i += 1
            out.append(f"{marker} " + inline(" ".join(item)))
            if i < len(lines) and not lines[i].strip():
                out.append("")
            continue
        paragraph.append(line)
        i += 1
        if stripped.endswith("::"):
            text = " ".join(p.strip() for p in paragraph)[:-2].rstrip()
            paragraph.clear()
            if text:
                out.append(inline(text + ":"))
                out.append("")
            while i < len(lines) and not lines[i].strip():
                i += 1
            if i < len(lines) and _indent(lines[i]) > _indent(line) - (0 if _indent(line) else 0):
                block, i = _block(lines, i, _indent(line))
                out += _fence(block, "pycon" if block and block[0].startswith(">>>") else "python")
    flush()
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# -- Cards --------------------------------------------------------------------------------------------

def anchor(heading):
    """The id docutils gives a section: lower case, runs of anything but letters and digits as one
    hyphen, no leading digits or hyphens."""
    text = re.sub(r"[^a-z0-9]+", "-", inline(heading, code=False).lower()).strip("-")
    return re.sub(r"^[0-9-]+", "", text) or "section"


def is_question(heading):
    return "?" in heading


def cards_of(page, text):
    """The page's questions as kb import rows."""
    parts = sections(text)
    collection = next((h for level, h, _ in parts if level == "title"), page)
    collection = collection.strip('"').replace('"', "")
    levels = [level for level, _, _ in parts if level != "title"]
    question_level = max(set(levels), key=levels.index) if levels else "-"  # the last-introduced level
    rows, open_question, category, seen = [], None, None, set()
    for level, heading, body in parts:
        if level == "title":
            continue
        question = is_question(heading) or (level == question_level and not (
            open_question and open_question["level"] != level))
        if question:
            key = anchor(heading)
            n = 2
            while key in seen:
                key, n = f"{anchor(heading)}-{n}", n + 1
            seen.add(key)
            open_question = {"level": level, "row": {
                "external_id": f"faq/{page}#{key}", "title": inline(heading, code=False)[:200],
                "body": list(body), "tags": [category.lower()[:40]] if category else []}}
            rows.append(open_question["row"])
        elif open_question and level != open_question["level"] and levels.index(level) > levels.index(
                open_question["level"]):
            open_question["row"]["body"] += ["", f"### {inline(heading, code=False)}", "", *body]
        else:
            open_question, category = None, heading
    out = []
    for row in rows:
        answer = markdown(row.pop("body"))
        out.append({**row, "answer": answer or row["title"], "internal_notes": "", "collection": collection,
                    "public": True, "owner_email": OWNER["email"], "verifier_team": TEAM,
                    "verify_interval_days": 365, "verified_at": VERIFIED_AT, "verified_by_email": OWNER["email"],
                    "archived": False})
    return out


def convert(pages):
    return [row for page in PAGES for row in cards_of(page, pages[page])]


# -- Loading into kb ----------------------------------------------------------------------------------

def rows(path=CORPUS):
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def load(app, path=CORPUS, team=TEAM, owner=OWNER):
    """Import the corpus into a migrated `app` (its owner and team created first); returns {external id
    in the corpus: card id}. Ids the import refuses are loaded under a key made of their safe characters."""
    from sqlalchemy import select

    from kb.accounts import operations as accounts
    from kb.cards import transfer
    from kb.extensions import db
    from kb.models import Card

    corpus = rows(path)
    with app.app_context():
        team = accounts.create_team(name=team)
        accounts.create_user(email=owner["email"], name=owner["name"], role="expert", password="x" * 16,
                             teams=[team])
        db.session.commit()
        safe = {row["external_id"]: row["external_id"] for row in corpus}
        try:
            transfer.import_lines([json.dumps(row) for row in corpus])
        except transfer.ImportFailed:  # a version that refuses external ids with "/" and "#"
            db.session.rollback()
            safe = {row["external_id"]: re.sub(r"[^A-Za-z0-9._:-]", ":", row["external_id"])[:100] for row in corpus}
            transfer.import_lines([json.dumps({**row, "external_id": safe[row["external_id"]]}) for row in corpus])
        db.session.commit()
        ids = dict(db.session.execute(select(Card.external_id, Card.id)).all())
    return {original: ids[key] for original, key in safe.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="a folder of the FAQ's .rst files, or a git directory")
    parser.add_argument("--rev", default="HEAD")
    parser.add_argument("--out", default=str(CORPUS))
    args = parser.parse_args(argv)
    write(convert(read_pages(args.source, args.rev)), args.out)
    return 0


def write(converted, out):
    """The corpus as JSON Lines, and a count per collection."""
    Path(out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in converted), encoding="utf-8")
    counts = {}
    for r in converted:
        counts[r["collection"]] = counts.get(r["collection"], 0) + 1
    print(f"{len(converted)} cards written to {out}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    sys.exit(main())

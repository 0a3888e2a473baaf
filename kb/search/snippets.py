"""Highlighted snippets for the hits shown, without re-running the analyzer over whole answers.

Whoosh's highlighter analyses every stored answer in full for each hit (the largest cost of a search
after the query itself); here only the words that start like a query term are looked up in a
per-process cache of stems, and the window with the most distinct query terms is cut out, escaped, and
marked.
"""
import re
from functools import lru_cache

from markupsafe import escape

from kb.search import analysis


@lru_cache(maxsize=4096)
def _starting_with(heads):
    """Words of ASCII text that start with one of `heads`, found by the regex engine, not word by word."""
    return re.compile(r"(?<!\w)(?:%s)\w*" % "|".join(map(re.escape, heads)), re.IGNORECASE)


def _signed(text, start):
    """Whether the digits at `start` are a signed number's (one term with its sign: "-22")."""
    return (start > 0 and text[start].isdigit() and text[start - 1] in "+-"
            and (start == 1 or not (text[start - 2].isalnum() or text[start - 2] in "_)]")))


def _candidates(text, heads):
    """(start, end, word) of the tokens that may be a query term: sharing its first letters."""
    if text.isascii() and all(analysis.is_word(h) for h in heads):  # the common case, several times faster
        pattern = _starting_with(tuple(sorted(heads, key=lambda h: (-len(h), h))))
        return ((m.start(), m.end(), m.group()) for m in pattern.finditer(text) if not _signed(text, m.start()))
    return ((m.start(), m.end(), m.group()) for m in analysis.tokens(text)  # operators, signs, accents
            if m.group().lower()[:3] in heads or analysis.fold(m.group().lower()[:3]) in heads)


def snippet(text, stems, language="en", chars=220):
    """HTML: a window of `text` around the densest run of matches, matches in <mark>, all else escaped."""
    if not text:
        return ""
    stems = set(stems)
    # A stem shares its first letters with the words it comes from: most words are skipped on those.
    heads = frozenset(s[:3] for s in stems)
    matches = []  # (start, end, term)
    for start, end, word in _candidates(text, heads):
        term = analysis.term(word.lower(), language)
        if term is not None and term in stems:
            matches.append((start, end, term))
    if not matches:
        return str(escape(_cut(text, 0, chars)))
    best, best_score = 0, -1
    for i, (start, _, _) in enumerate(matches[:40]):  # the window starting at each match: most distinct terms
        terms = set()
        for _, end, term in matches[i:]:
            if end > start + chars:
                break
            terms.add(term)
        if len(terms) > best_score:
            best, best_score = i, len(terms)
    start = max(0, matches[best][0] - 50)
    if start:
        space = text.rfind(" ", 0, start + 1)
        start = space + 1 if space >= 0 and start - space < 20 else start
    end = min(len(text), start + chars)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + chars // 2 else end
    out, at = [], start
    for s, e, _ in matches:
        if s < start or e > end:
            continue
        out.append(str(escape(text[at:s])))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        at = e
    out.append(str(escape(text[at:end])))
    return ("…" if start else "") + "".join(out) + ("…" if end < len(text) else "")


def _cut(text, start, chars):
    if len(text) <= chars:
        return text
    space = text.rfind(" ", start, start + chars)
    return text[start:space if space > chars // 2 else start + chars] + "…"

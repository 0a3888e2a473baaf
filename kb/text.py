"""Text hygiene: the characters kb refuses or strips, for every way in (pages, API, imports, CLI).

Two rules, each in one place:
- Control characters (C0 other than tab, line feed and carriage return; DEL; lone surrogates) are refused:
  PostgreSQL cannot store NUL in text, SQLite cannot encode a lone surrogate, and none of them is ever typed
  on purpose. `control_problem` says why a value is refused.
- Bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C) are stripped from one-line names
  (titles, team and user names, e-mail subjects): they make "txt.exe" read as "exe.txt" in a list or an
  inbox. `clean_line` strips them and collapses white space.

`value_problem` applies the first rule to parsed data (JSON bodies, import lines) with a bounded depth, and
`decode` reads a file's bytes as UTF-8 (a byte order mark welcome) with a line-numbered refusal.
"""
import re

ALLOWED_CONTROLS = "\t\n\r"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def control_problem(text):
    """Why `text` cannot be stored (it holds a control character or a lone surrogate), or None."""
    found = _CONTROL.search(text)
    if found is None:
        return None
    char = found.group()
    kind = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character"
    return f"contains U+{ord(char):04X} ({kind}) at character {found.start() + 1}"


def strip_bidi(text):
    """`text` without bidirectional control characters."""
    return _BIDI.sub("", text)


def clean_line(text):
    """A one-line name as stored: bidirectional controls removed, white space collapsed to single spaces."""
    return " ".join(strip_bidi(text or "").split())


MAX_DEPTH = 32  # kb's JSON (API bodies, import lines) is three levels deep; far past that attacks the parser


def value_problem(value, where="", depth=0):
    """(where, reason) for the first string in `value` (strings, lists, dicts) that `control_problem` refuses,
    or for nesting deeper than MAX_DEPTH; None when it is all clean. `where` names the field: "verified.title"."""
    if depth > MAX_DEPTH:
        return where, f"is nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        problem = control_problem(value)
        return (where, problem) if problem else None
    if isinstance(value, dict):
        items = [(where, key) for key in value] + [(f"{where}.{k}" if where else str(k), v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(where, item) for item in value]
    else:
        return None
    for place, item in items:
        found = value_problem(item, place, depth + 1)
        if found:
            return found
    return None


class NotText(ValueError):
    """A file is not UTF-8 text; `line` is where the first bad byte is."""

    def __init__(self, line, message):
        super().__init__(f"line {line}: {message}")
        self.line, self.message = line, message


def decode(data):
    """A file's bytes as text: UTF-8, with or without a byte order mark (Excel and Notepad write one)."""
    if b"\x00" in data:
        line = data[:data.index(b"\x00")].count(b"\n") + 1
        raise NotText(line, "the file is binary (it holds NUL bytes), not text: export it again as UTF-8 text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise NotText(line, "the file is not UTF-8 text: save it again as UTF-8 and retry") from None

"""Text hygiene: the characters kb refuses or strips, for every way in (pages, API, imports, CLI).

Two rules, each in one place:
- Control characters (C0 other than tab, line feed and carriage return; DEL; lone surrogates) are refused:
  PostgreSQL cannot store NUL in text, SQLite cannot encode a lone surrogate, and none of them is ever typed
  on purpose. `control_problem` says why a value is refused.
- Bidirectional controls (U+202A-U+202E, U+2066-U+2069, U+200E/F, U+061C) are stripped from one-line names
  (titles, team and user names, e-mail subjects): they make "txt.exe" read as "exe.txt" in a list or an
  inbox. `clean_line` strips them and collapses white space.
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
    return f"contains {kind} (U+{ord(char):04X}, position {found.start() + 1}); remove it and try again"


def strip_bidi(text):
    """`text` without bidirectional control characters."""
    return _BIDI.sub("", text)


def clean_line(text):
    """A one-line name as stored: bidirectional controls removed, white space collapsed to single spaces."""
    return " ".join(strip_bidi(text or "").split())

"""Readable differences between two revisions: per field, line by line, with changed words marked."""
import difflib
import re
from dataclasses import dataclass

FIELDS = (("title", "Question"), ("answer", "Customer-facing answer"),
          ("internal_notes", "Internal notes"), ("tags", "Tags"))


@dataclass
class Line:
    op: str  # "equal", "delete" or "insert"
    parts: list  # [(changed: bool, text)] so that templates can mark the changed words


@dataclass
class FieldDiff:
    name: str
    label: str
    changed: bool
    lines: list


def _words(text):
    return re.findall(r"\s+|\w+|[^\w\s]", text)


def _word_diff(old, new):
    """Mark the words that differ between two versions of a line."""
    a, b = _words(old), _words(new)
    old_parts, new_parts = [], []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            old_parts.append((False, "".join(a[i1:i2])))
            new_parts.append((False, "".join(b[j1:j2])))
        else:
            if i2 > i1:
                old_parts.append((True, "".join(a[i1:i2])))
            if j2 > j1:
                new_parts.append((True, "".join(b[j1:j2])))
    return old_parts, new_parts


def diff_text(old, new):
    """Lines of a unified comparison of two texts, with word-level marks on replaced lines."""
    a, b = old.splitlines(), new.splitlines()
    lines = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            lines += [Line("equal", [(False, t)]) for t in a[i1:i2]]
        elif op == "replace" and i2 - i1 == j2 - j1:
            for x, y in zip(a[i1:i2], b[j1:j2], strict=True):
                old_parts, new_parts = _word_diff(x, y)
                lines += [Line("delete", old_parts), Line("insert", new_parts)]
        else:
            lines += [Line("delete", [(True, t)]) for t in a[i1:i2]]
            lines += [Line("insert", [(True, t)]) for t in b[j1:j2]]
    return lines


def _field_text(revision, name):
    value = getattr(revision, name)
    return ", ".join(value) if name == "tags" else value


def diff_revisions(old, new):
    """Per-field differences between two revisions (any objects with the content fields)."""
    result = []
    for name, label in FIELDS:
        a, b = _field_text(old, name), _field_text(new, name)
        result.append(FieldDiff(name, label, a != b, diff_text(a, b)))
    return result

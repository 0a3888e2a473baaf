"""Synonym sets, managed by admins and applied at query time (editing them needs no reindex)."""
import re

from flask import current_app
from sqlalchemy import func, select

from kb import audit
from kb.dates import utcnow
from kb.extensions import db
from kb.models import SynonymSet
from kb.search import analysis, query
from kb.text import control_problem
from kb.validation import Invalid

MAX_TERMS = 20
MAX_TERM_CHARS = 80


def parse_terms(text):
    """"cancel, cancellation, void order" → ["cancel", "cancellation", "void order"], or Invalid."""
    terms = list(dict.fromkeys(" ".join(t.split()) for t in (text or "").split(",") if t.strip()))
    if len(terms) < 2:
        raise Invalid({"terms": "give at least two words or phrases, separated by commas"})
    if len(terms) > MAX_TERMS:
        raise Invalid({"terms": f"at most {MAX_TERMS} terms in one set"})
    long = [t for t in terms if len(t) > MAX_TERM_CHARS]
    if long:
        raise Invalid({"terms": f"{long[0][:30]!r}… is longer than {MAX_TERM_CHARS} characters"})
    empty = [t for t in terms if not analysis.words(t, current_app.config["SEARCH_LANGUAGE"])]
    if empty:
        raise Invalid({"terms": f"{empty[0]!r} has no searchable word (only stop words or punctuation)"})
    return terms


def parse_file(text):
    """One set per line; blank lines and `#` comments ignored. Every bad line is reported by number. A byte
    order mark (Excel, Notepad) is not part of the first term."""
    sets, errors = [], {}
    # Lines end at CR, LF or CRLF only: splitlines() would also cut at a vertical tab and hide it from the check.
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text.removeprefix("\ufeff")), 1):
        problem = control_problem(line)
        if problem:
            errors[f"line {number}"] = problem
            continue
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            sets.append(parse_terms(line))
        except Invalid as error:
            errors[f"line {number}"] = error.errors["terms"]
    if errors:
        raise Invalid(errors)
    return sets


def add_set(text, user):
    terms = parse_terms(text)
    row = SynonymSet(terms=", ".join(terms), updated_by_id=user.id if user else None, updated_at=utcnow())
    db.session.add(row)
    audit.record(user, "synonyms.add", "synonyms", terms=terms)
    return row


def update_set(row, text, user):
    terms = parse_terms(text)
    audit.record(user, "synonyms.edit", "synonyms", before=row.term_list, after=terms)
    row.terms, row.updated_at, row.updated_by_id = ", ".join(terms), utcnow(), user.id if user else None
    return row


def delete_set(row, user):
    audit.record(user, "synonyms.delete", "synonyms", terms=row.term_list)
    db.session.delete(row)


def import_sets(text, user, replace=True):
    """All or nothing: a file with a bad line changes nothing. Returns the number of sets stored."""
    sets = parse_file(text)
    if replace:
        db.session.execute(SynonymSet.__table__.delete())
    now = utcnow()
    db.session.add_all(SynonymSet(terms=", ".join(t), updated_at=now, updated_by_id=user.id if user else None)
                       for t in sets)
    audit.record(user, "synonyms.import", "synonyms", sets=len(sets), replace=replace)
    return len(sets)


_compiled = {}


def table():
    """The compiled synonym table, rebuilt only when the sets changed (checked with one small query)."""
    version = db.session.execute(
        select(func.count(SynonymSet.id), func.max(SynonymSet.id), func.max(SynonymSet.updated_at))).one()
    language = current_app.config["SEARCH_LANGUAGE"]
    key = (str(db.engine.url), language, tuple(version))
    if key not in _compiled:
        sets = [row.term_list for row in db.session.scalars(select(SynonymSet))]
        if len(_compiled) > 16:
            _compiled.clear()
        _compiled[key] = query.SynonymTable(query.compile_synonyms(sets, language), version=key)
    return _compiled[key]

"""Hypothesis over hostile input: search queries, card forms, import files and synonyms files.

Properties: never a 500 (nor a traceback from the CLI), and a rejected request or command (4xx, a non-zero
exit) leaves the row count of every table as it was.
"""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kb.extensions import db

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Text as attackers type it: control characters and NUL, lone surrogates (as far as they encode), bidi
# marks, Markdown brackets and very long runs.
NASTY = ["\x00", "\x01", "\x1b", "\x7f", "\u200b", "\u200e", "\u200f", "\u202e", "\u2066", "\ufeff", "\ud800",
         "\udfff", "[", "]", "(", ")", "![", "](", "<", ">", "&", "*", "_", "`", "#", "\\", "%", "'", '"', "\n", "\r"]
text = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(NASTY) | st.text(max_size=5), max_size=60).map("".join),
    st.sampled_from(["[", "](", "*", "\x00", "é" * 3, "a"]).map(lambda s: s * 3000),
)


def _fingerprint(app):
    with app.app_context():
        counts = {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}
        db.session.remove()
        return counts


def _steady(fingerprint):
    """Writes every request makes whatever it is asked (view counts, search log) are not the rejection's."""
    return {k: v for k, v in fingerprint.items() if k not in ("search_log", "card_visits", "card_usage")}


@pytest.fixture
def signed_in(world, auth):
    auth.login(world["expert"].email)
    return auth


def _encodable(value):
    """What a browser can send: lone surrogates cannot be UTF-8 encoded, so they are dropped."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


@SETTINGS
@given(q=text)
def test_search_queries_never_fail(app, signed_in, q):
    client, q = signed_in.client, _encodable(q)
    before = _steady(_fingerprint(app))
    for url in ("/search", "/api/v1/search", "/faq/"):
        response = client.get(url, query_string={"q": q})
        assert response.status_code < 500, (url, q)
        if 400 <= response.status_code < 500:
            assert _steady(_fingerprint(app)) == before, (url, q)


@SETTINGS
@given(title=text, answer=text, notes=text, tags=text)
def test_card_forms_never_fail_and_a_refusal_changes_nothing(app, world, signed_in, title, answer, notes, tags):
    base = {"collection": world["billing_coll"].id, "owner": world["expert"].id, "verifier_team": world["billing"].id,
            "interval": "90"}
    fields = {k: _encodable(v) for k, v in dict(title=title, answer=answer, internal_notes=notes, tags=tags).items()}
    card_id = world["billing_card"].id
    for url, extra in (("/cards/new", {}), (f"/cards/{card_id}/edit", {"base_revision": _revision(app, card_id)}),
                       ("/cards/preview", {})):
        before = _fingerprint(app)
        response = signed_in.post(url, data={**base, **fields, **extra})
        assert response.status_code < 500, (url, fields)
        if response.status_code >= 400 or url == "/cards/preview":
            assert _fingerprint(app) == before, (url, fields)


def _revision(app, card_id):
    from kb.models import Card

    with app.app_context():
        number = db.session.get(Card, card_id).revision_number
        db.session.remove()
        return str(number)


json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text,
                          lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                          max_leaves=20)
card_line = st.fixed_dictionaries({}, optional={
    "title": json_value | text, "answer": json_value | text, "internal_notes": json_value, "tags": json_value,
    "collection": json_value | st.just("Payments & billing"), "owner": json_value | st.just("bianca@example.com"),
    "external_id": json_value, "verifier_team": json_value, "revisions": json_value, "is_public": json_value,
    "interval_days": json_value, "verified_at": json_value})
line = st.one_of(card_line.map(json.dumps), json_value.map(json.dumps), text)


def _invoke(runner, args):
    result = runner.invoke(args=args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {result.exception!r}\n{result.output}")
    assert "Traceback" not in result.output
    return result


@SETTINGS
@given(lines=st.lists(line, max_size=6))
def test_import_files_never_crash_and_a_refused_one_imports_nothing(app, world, runner, tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("import") / "cards.jsonl"
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogatepass"))
    before = _fingerprint(app)
    result = _invoke(runner, ["import", str(path), "--owner", "bianca@example.com", "--team", "Billing experts"])
    if result.exit_code != 0:
        assert _fingerprint(app) == before, result.output


@SETTINGS
@given(body=st.lists(st.one_of(text, st.lists(text, max_size=5).map(", ".join)), max_size=8).map("\n".join),
       merge=st.booleans())
def test_synonyms_files_never_crash_and_a_refused_one_changes_nothing(app, runner, tmp_path_factory, body, merge):
    path = tmp_path_factory.mktemp("synonyms") / "synonyms.txt"
    path.write_bytes(body.encode("utf-8", "surrogatepass"))
    before = _fingerprint(app)
    result = _invoke(runner, ["synonyms", "import", str(path)] + (["--merge"] if merge else []))
    if result.exit_code != 0:
        assert _fingerprint(app) == before, result.output

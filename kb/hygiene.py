"""Hostile request input refused before any view or query runs: control characters (see `kb.text`) in the
path, the query string, form fields and JSON bodies, and JSON nested beyond any real request's depth.

One hook for every route, so no backend ever sees a NUL: PostgreSQL would fail on it with a 500 where SQLite
stores it silently. File uploads are left to their own parsers (cohort CSV, synonyms), which report by line.
"""
from flask import abort, request

from kb.text import control_problem

MAX_JSON_DEPTH = 32  # kb's API bodies are two levels deep; far past that is an attack on the parser


class Refused(Exception):
    def __init__(self, field, message):
        super().__init__(message)
        self.field, self.message = field, message


def _check(field, value, depth=0):
    if depth > MAX_JSON_DEPTH:
        raise Refused(field, f"is nested more than {MAX_JSON_DEPTH} levels deep")
    if isinstance(value, str):
        problem = control_problem(value)
        if problem:
            raise Refused(field, problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(field, key, depth + 1)
            _check(f"{field}.{key}" if field else str(key), item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(field, item, depth + 1)


def _check_request():
    _check("path", request.path)
    for source in (request.args, request.form):
        for key, values in source.lists():
            _check(key, key)
            for value in values:
                _check(key, value)
    if request.is_json:
        try:
            body = request.get_json(silent=True)
        except RecursionError:  # the JSON decoder's own recursion, before any depth of ours is seen
            raise Refused("body", f"is nested more than {MAX_JSON_DEPTH} levels deep") from None
        _check("", body)


def refuse_hostile_input():
    """`before_request`: a 400 naming the field, in the API's JSON error format under /api/."""
    try:
        _check_request()
    except Refused as refused:
        field = refused.field or "body"
        if request.path.startswith("/api/"):
            from kb.channels.api import error_response

            return error_response(400, "invalid_parameter", f"{field} {refused.message}", field=field)
        abort(400, description=f"What you sent cannot be saved: the field “{field}” {refused.message}.")
    return None


def init_app(app):
    # First of all hooks, so that no other hook (sign-in, CSRF, rate limits) reads a hostile value either.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_hostile_input)

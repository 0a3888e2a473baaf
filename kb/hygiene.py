"""Hostile request input refused before any view or query runs: control characters (see `kb.text`) in the
query string, form fields and JSON bodies, and JSON nested beyond any real request's depth, with a 400; in the
URL path, a 404 (nothing is named so).

One hook for every route, so no backend ever sees a NUL: PostgreSQL would fail on it with a 500 where SQLite
stores it silently. File uploads are left to their own parsers (cohort CSV, synonyms), which report by line.
"""
from flask import abort, request

from kb.text import MAX_DEPTH, value_problem


def problem_of_request():
    """(field, reason) for the first refused value of this request, or None."""
    found = None
    for source in (request.args, request.form):
        for key, values in source.lists():
            found = found or value_problem(key, key) or value_problem(values, key)
    if not found and request.is_json:
        try:
            found = value_problem(request.get_json(silent=True))
        except RecursionError:  # the JSON decoder's own recursion, before our depth bound is reached
            found = ("body", f"is nested more than {MAX_DEPTH} levels deep")
    return found


def refuse_hostile_input():
    """`before_request`: a 400 naming the field, in the API's JSON error format under /api/."""
    if value_problem(request.path):
        abort(404)  # no card, link or page has such a name, and PostgreSQL could not even look it up
    found = problem_of_request()
    if found is None:
        return None
    field, reason = found[0] or "body", found[1]
    if request.path.startswith("/api/"):
        from kb.channels.api import error_response

        return error_response(400, "invalid_parameter", f"{field} {reason}", field=field)
    abort(400, description=f"Nothing was changed: the field “{field}” {reason}, which kb cannot store. Remove it "
                           "(it often comes with text pasted from another program) and try again.")


def init_app(app):
    # First of all hooks, so that no other hook (sign-in, CSRF, rate limits) reads a hostile value either.
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_hostile_input)

"""Work a request leaves for after its response: view and copy counts, search-log rows, a token's last
use, applying the change feed to the index. None of it may make an agent wait (for the database's write
lock, or the index lock another process holds), and a failure there must not fail the page.

The WSGI server calls the response's `close` once it has sent the body; the work runs then, each task
in its own transaction, in a fresh application context. Outside a request (commands, jobs) it runs at
once, in the caller's transaction.
"""
import logging

from flask import current_app, g, has_request_context

from kb.extensions import db

log = logging.getLogger(__name__)
_TASKS = "kb_deferred"


def later(task, *args, **kwargs):
    """Run `task(*args, **kwargs)` after the response is sent (now, outside a request). Pass ids, not
    database objects: the request's session is gone by then."""
    if not has_request_context():
        task(*args, **kwargs)
        return
    g.setdefault(_TASKS, []).append((task, args, kwargs))


def _run_one(task, args, kwargs):
    try:
        task(*args, **kwargs)
        db.session.commit()
    except Exception:  # noqa: BLE001  (the page was served; the failure is logged, never raised)
        db.session.rollback()
        log.exception("deferred %s failed", getattr(task, "__name__", task))


def _attach(response):
    tasks = g.pop(_TASKS, None)
    if tasks:
        app = current_app._get_current_object()
        response.call_on_close(lambda: _run_all(app, tasks))
    return response


def _run_all(app, tasks):
    with app.app_context():
        try:
            for task, args, kwargs in tasks:
                _run_one(task, args, kwargs)
        finally:
            db.session.remove()


def init_app(app):
    app.after_request(_attach)

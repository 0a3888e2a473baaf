"""Logging, configured in one place from LOG_FORMAT and LOG_LEVEL, with a request id on every line.

Every request gets an id (the caller's `X-Request-ID` if it is sane, else a new one), echoed in the response
header, so a line in kb's log, gunicorn's access log and the proxy's log can be matched. Each request ends
with one line from `kb.request` carrying its method, path, status, duration and user.
"""
import json
import logging
import re
import sys
import time
import uuid
from datetime import datetime, timezone

from flask import g, has_request_context, request

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# A caller's id is kept only if it cannot break a log line or a header.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# The fields a request adds to each record; `extra=` on a call may set more.
_REQUEST_FIELDS = ("request_id", "method", "path", "remote_addr", "user_id", "status", "duration_ms")


class RequestFields(logging.Filter):
    """Stamps each record with what is known of the request at hand (nothing outside one)."""

    def filter(self, record):
        known = {}
        if has_request_context():
            login_user = g.get("_login_user")  # only if the view loaded it: reading it here would touch the session
            known = {"request_id": g.get("request_id"), "method": request.method, "path": request.path,
                     "remote_addr": request.remote_addr,
                     # the loaded value only: reading an expired attribute would query a failed session
                     "user_id": vars(login_user).get("id") if login_user is not None else None}
        for name in _REQUEST_FIELDS:
            if not hasattr(record, name):
                setattr(record, name, known.get(name))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line, for log collectors; keys with no value are left out."""

    def format(self, record):
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for name in _REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For people: the request id in brackets, `-` outside a request."""

    def format(self, record):
        if record.request_id is None:
            record.request_id = "-"
        return super().format(record)


def handler_for(fmt, stream=None):
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter(TEXT_FORMAT))
    handler.addFilter(RequestFields())
    handler._kb = True
    return handler


def configure(fmt, level, logger_names=("kb",)):
    """Replace kb's handler on these loggers (called again by each app a process creates, e.g. tests). They
    still propagate: the root logger has no handler unless someone (pytest, an embedding app) adds one."""
    from kb import ConfigError

    fmt = str(fmt).lower()
    if fmt not in FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}.")
    level_name = logging.getLevelName(level) if isinstance(level, int) else str(level).upper()
    if not isinstance(logging.getLevelName(level_name), int):
        raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {level!r}.")
    for name in logger_names:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, "_kb", False)]:
            logger.removeHandler(old)
        logger.addHandler(handler_for(fmt))
        logger.setLevel(level_name)


def _start_request():
    g.request_started = time.perf_counter()
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex


def _end_request(response):
    request_id = g.get("request_id")
    if request_id:
        response.headers["X-Request-ID"] = request_id
    started = g.get("request_started")
    duration = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
    logging.getLogger("kb.request").info("%s %s %s %sms", request.method, request.path, response.status_code, duration,
                                         extra={"status": response.status_code, "duration_ms": duration})
    return response


def init_app(app):
    configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    app.before_request(_start_request)
    app.after_request(_end_request)

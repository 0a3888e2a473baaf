"""Time handling: stored in UTC, shown in the deployment's time zone."""
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow():
    """The current instant, timezone-aware in UTC."""
    return datetime.now(UTC)


def as_utc(value):
    """Read a naive datetime as UTC, convert an aware one to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_iso(text):
    """Parse an ISO 8601 date or datetime (naive means UTC); raise ValueError with a reason."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("expected an ISO 8601 date-time such as 2026-11-02T09:30:00Z")
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except (ValueError, OverflowError):  # overflow: year 9999 at a negative offset is past datetime.max
        raise ValueError(f"{text!r} is not an ISO 8601 date-time (e.g. 2026-11-02T09:30:00Z)") from None


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python; naive UTC in the database, identical on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use kb.dates.utcnow() or an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def zone():
    """The deployment's time zone (UTC outside an application context)."""
    return ZoneInfo(current_app.config["TIMEZONE"]) if has_app_context() else UTC


def local(value):
    """A UTC datetime in the configured display time zone."""
    return value.astimezone(zone())


def local_day(value=None):
    """The calendar date of an instant (default now) where the team works: seasonal accounts end, and
    verifications lapse, on local days."""
    return local(value or utcnow()).date()


def format_datetime(value, fmt="%Y-%m-%d %H:%M"):
    """Jinja filter: a datetime in local time, or an em dash."""
    return "—" if value is None else local(value).strftime(fmt)


def format_date(value):
    """Jinja filter: the local date of a datetime (or a date), or an em dash."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = local(value)
    return value.strftime("%Y-%m-%d")

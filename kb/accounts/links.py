"""One-time set-password links: how an imported hire chooses a password without anyone else knowing it.

Only the SHA-256 of the secret is stored (it is 32 random bytes, so a slow hash adds nothing, as for API
tokens). A link works once, until it expires, for an account that may still work; using it kills the
account's other links, and issuing a new one kills the older ones, so that only the latest list a lead
holds is any good. Callers commit.
"""
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from kb import audit
from kb.accounts import operations
from kb.dates import utcnow
from kb.extensions import db
from kb.models import PasswordLink
from kb.validation import Invalid

SECRET_MAX = 100  # what the route accepts; token_urlsafe(32) is 43 characters


class LinkRefused(Exception):
    """The link cannot be used; the message says why, for the page."""


@dataclass(frozen=True)
class Issued:
    """A link as handed to its hire: the secret exists only here, never in the database."""

    user_id: int
    email: str  # copied, so that the links can be listed after the commit without a query per hire
    name: str
    secret: str
    expires_at: datetime

    @property
    def path(self):
        return f"/set-password/{self.secret}"


def _hash(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def _days(days):
    return current_app.config["PASSWORD_LINK_DAYS"] if days is None else days


def issue(user, days=None, now=None):
    """A new link for one account (the older unused ones die)."""
    return issue_many([user], days, now)[0]


def issue_many(users, days=None, now=None):
    """Links for many accounts at once (a cohort): one UPDATE kills their older links, no flush per user.

    The users must have ids (flushed)."""
    now = now or utcnow()
    expires_at = now + timedelta(days=_days(days))
    ids = [u.id for u in users]
    for start in range(0, len(ids), 500):
        db.session.execute(update(PasswordLink).where(
            PasswordLink.user_id.in_(ids[start:start + 500]), PasswordLink.used_at.is_(None),
            PasswordLink.expires_at > now).values(expires_at=now).execution_options(synchronize_session=False))
    issued = [Issued(u.id, u.email, u.name, secrets.token_urlsafe(32), expires_at) for u in users]
    db.session.add_all([PasswordLink(user_id=i.user_id, secret_hash=_hash(i.secret), created_at=now,
                                     expires_at=expires_at) for i in issued])
    return issued


def find(secret, now=None):
    """The link for a presented secret, if it can still be used; else LinkRefused with the reason."""
    now = now or utcnow()
    link = None
    if secret and len(secret) <= SECRET_MAX:
        link = db.session.scalar(select(PasswordLink).where(PasswordLink.secret_hash == _hash(secret)))
    if link is None:
        raise LinkRefused("This link is not valid: check that you copied all of it, or ask your team lead "
                          "for a new one.")
    if link.used_at is not None:
        raise LinkRefused("This link was already used to set a password. Sign in with that password, or ask "
                          "your team lead for a new link.")
    if link.expires_at <= now:
        raise LinkRefused("This link has expired (or a newer one was sent). Ask your team lead for a new one.")
    if not link.user.is_active_at(now):
        raise LinkRefused("This account is deactivated or has expired; ask your team lead.")
    return link


def redeem(secret, password, now=None):
    """Set the password of the link's account and use the link up; its other links die. Returns the user.

    Raises LinkRefused for an unusable link, Invalid for a password the rules refuse (the link stays good)."""
    now = now or utcnow()
    link = find(secret, now)
    problem = operations.password_problem(password)
    if problem:
        raise Invalid({"password": problem})
    user = link.user
    user.set_password(password)
    link.used_at = now
    db.session.execute(update(PasswordLink).where(
        PasswordLink.user_id == user.id, PasswordLink.id != link.id, PasswordLink.used_at.is_(None),
        PasswordLink.expires_at > now).values(expires_at=now).execution_options(synchronize_session=False))
    audit.record(user, "user.set_password_by_link", f"user:{user.id}", link=link.id)
    db.session.flush()
    return user


# -- Handing links out ----------------------------------------------------------------------------------

def mail_configured():
    """Links go by e-mail only through a real mail server: the outbox folder would keep the secrets on disk
    where no hire ever reads them."""
    return bool(current_app.config.get("MAIL_SERVER"))


def url_of(issued):
    from kb.verification.notify import absolute_url

    return absolute_url(issued.path)


def _message(issued, team_name):
    from kb.dates import format_datetime
    from kb.verification.notify import message_for

    body = (f"An account was made for you{f' in the team {team_name}' if team_name else ''}; your sign-in name "
            f"is your e-mail address, {issued.email}.\n\nChoose your password with the link below. It works "
            f"once, until {format_datetime(issued.expires_at)}.")
    return message_for(issued, f"Choose your password for {current_app.config['BRAND_NAME']}", body,
                       ("Choose your password", url_of(issued)))


def send(issued_links, team_name=None):
    """E-mail each link to its hire through MAIL_SERVER. Returns the links that could not be sent."""
    from kb.verification import notify

    failed, done = [], 0
    messages = [_message(i, team_name) for i in issued_links]
    try:
        for issued, (_, error) in zip(issued_links, notify.send(messages), strict=False):
            done += 1
            if error is not None:
                current_app.logger.warning("set-password link to %s not sent: %s", issued.email, error)
                failed.append(issued)
    except OSError as exc:  # the session itself broke (TLS, login; SMTPException is an OSError)
        current_app.logger.warning("set-password links not sent: %s", exc)
    return failed + list(issued_links[done:])


def to_csv(issued_links):
    """email,name,link,expires: what a lead hands out when kb cannot mail (cells safe in a spreadsheet)."""
    from kb.dates import format_datetime
    from kb.spreadsheet import to_csv as write

    return write(["email", "name", "link", "expires"],
                 [[i.email, i.name, url_of(i), format_datetime(i.expires_at)] for i in issued_links])

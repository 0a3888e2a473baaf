"""Notifications: an in-app message per user, also e-mailed. A key per event makes repeats harmless.

E-mail goes through SMTP when MAIL_SERVER is set; otherwise each message is written as an .eml file
to the instance outbox, so that a trial install never needs a mail server.
"""
import os
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app
from jinja2.utils import urlize
from markupsafe import Markup
from sqlalchemy import func, select

from kb.dates import utcnow
from kb.extensions import db, insert_ignoring_conflicts
from kb.models import VERIFIER_ROLES, Notification, User
from kb.text import clean_line
from kb.verification.facts import user_is_active_at

MAX_ATTEMPTS = 5
# What the link of a notification says, by kind; the others open their card.
LINK_LABELS = {"card_request": "Write the card"}


def notify(user, *, key, kind, subject, body="", card=None, known_keys=None, url=""):
    """Queue a notification unless this user already had the one with this key. Returns it or None.

    :param url: where it leads, a path on this site such as "/cards/new?request=3" ("" = the card's page).
    """
    _check_path(url)
    if user is None or not user.is_active:
        return None
    if known_keys is not None:
        if (user.id, key) in known_keys:
            return None
        known_keys.add((user.id, key))
    elif db.session.scalar(select(Notification.id).filter_by(user_id=user.id, key=key)) is not None:
        return None
    note = Notification(user=user, key=key[:200], kind=kind, subject=subject[:300], body=body,
                        card_id=getattr(card, "id", card), url=url)
    db.session.add(note)
    return note


def notify_many(rows, known_keys):
    """Bulk form of `notify` for the checker: dicts with user_id, key, kind, card_id, subject, body (and
    optionally url). Rows whose (user, key) is in `known_keys` are skipped. One INSERT; returns how many
    were added."""
    fresh = []
    for row in rows:
        if (row["user_id"], row["key"]) not in known_keys:
            known_keys.add((row["user_id"], row["key"]))
            _check_path(row.get("url", ""))
            fresh.append({**row, "key": row["key"][:200], "subject": row["subject"][:300], "created_at": utcnow(),
                          "email_attempts": 0, "url": row.get("url", "")})
    if fresh:
        db.session.execute(insert_ignoring_conflicts(Notification.__table__), fresh)
    return len(fresh)


def verifiers_of(team, now=None, exclude=None):
    """Active experts and admins of a team (the people who can verify its cards), but `exclude`."""
    now, exclude_id = now or utcnow(), getattr(exclude, "id", None)
    return [m.user for m in team.memberships
            if m.user.role in VERIFIER_ROLES and user_is_active_at(m.user, now) and m.user.id != exclude_id]


def leads_or_admins(team, now=None):
    """Who hears about escalations: the team's active leads, or every active admin if it has none."""
    now = now or utcnow()
    leads = [m.user for m in team.memberships if m.is_lead and user_is_active_at(m.user, now)]
    if leads:
        return leads
    return [u for u in db.session.scalars(select(User).filter_by(role="admin")) if user_is_active_at(u, now)]


def _check_path(url):
    """A notification leads somewhere on this site: pages link it as it is, e-mails prefix EXTERNAL_URL."""
    if url and (not url.startswith("/") or url.startswith("//") or len(url) > 500):
        raise ValueError(f"a notification's url is a path on this site, not {url!r}")


def absolute_url(path):
    """`path` on this site as its users reach it: EXTERNAL_URL, never the host of the request at hand
    (mail goes out from jobs and commands too, and a proxy's inner address is no use to anyone)."""
    return current_app.config["EXTERNAL_URL"].rstrip("/") + path


def card_url(card_id):
    return absolute_url(f"/cards/{card_id}")


def link_of(note):
    """(label, path) of where a notification leads, or None: its own url, else its card's page."""
    path = note.url or (f"/cards/{note.card_id}" if note.card_id else "")
    return (LINK_LABELS.get(note.kind, "Open card"), path) if path else None


def unread_count(user):
    return db.session.scalar(select(func.count()).select_from(Notification)
                             .filter_by(user_id=user.id, read_at=None))


def _message(note):
    link = link_of(note)
    return message_for(note.user, note.subject, note.body or note.subject,
                       (link[0], absolute_url(link[1])) if link else None)


def message_for(user, subject, text, link=None):
    """An e-mail to `user` in kb's voice, as plain text and HTML; `link` is (label, absolute URL) or None."""
    cfg = current_app.config
    msg = EmailMessage()
    msg["From"] = cfg["MAIL_FROM"]
    msg["To"] = user.email
    msg["Subject"] = clean_line(subject)  # no bidirectional override (nor line break) reaches an inbox
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=cfg["MAIL_FROM"].rpartition("@")[2] or "kb.local")
    action = f"\n\n{link[0]}: {link[1]}" if link else ""
    msg.set_content(f"Hello {user.name},\n\n{text}{action}\n\n-- {cfg['BRAND_NAME']}\n")
    msg.add_alternative(_html(user.name, text, link, cfg["BRAND_NAME"]), subtype="html")
    return msg


def _html(name, text, link, brand):
    """The HTML part: the same words, every one escaped, with their URLs and the notification's link as <a>."""
    paragraphs = [Markup("<br>\n").join(Markup(urlize(line)) for line in block.split("\n"))
                  for block in text.split("\n\n")]
    parts = [Markup("<p>Hello {},</p>").format(name), *(Markup("<p>{}</p>").format(p) for p in paragraphs)]
    if link:
        parts.append(Markup('<p><a href="{}">{}</a></p>').format(link[1], link[0]))
    parts.append(Markup("<p>-- {}</p>").format(brand))
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(parts) + "\n</body></html>\n"


def send(messages):
    """Send EmailMessages through SMTP, or write them to the outbox folder.

    Yields (message, error or None) per message, so that one refused address neither blocks the others nor
    makes the accepted ones go out again. A connection failure fails every message.
    """
    cfg = current_app.config
    if not messages:
        return
    if not cfg.get("MAIL_SERVER"):
        os.makedirs(cfg["OUTBOX_DIR"], exist_ok=True)
        for msg in messages:
            name = f"{utcnow():%Y%m%dT%H%M%S%f}-{msg['Message-ID'].strip('<>').split('@')[0]}.eml"
            with open(os.path.join(cfg["OUTBOX_DIR"], name), "wb") as fh:
                fh.write(bytes(msg))
            yield msg, None
        return
    smtp_class = smtplib.SMTP_SSL if cfg.get("MAIL_USE_SSL") else smtplib.SMTP
    try:
        smtp = smtp_class(cfg["MAIL_SERVER"], int(cfg.get("MAIL_PORT") or 25), timeout=20)
    except (OSError, smtplib.SMTPException) as exc:
        for msg in messages:
            yield msg, exc
        return
    with smtp:
        if cfg.get("MAIL_USE_TLS"):
            smtp.starttls()
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg.get("MAIL_PASSWORD") or "")
        for msg in messages:
            try:
                smtp.send_message(msg)
            except (OSError, smtplib.SMTPException) as exc:
                yield msg, exc
            else:
                yield msg, None


def deliver_pending(limit=200):
    """E-mail committed notifications not yet sent; a failure is logged, counted and retried next time."""
    notes = db.session.scalars(
        select(Notification).where(Notification.emailed_at.is_(None), Notification.email_attempts < MAX_ATTEMPTS)
        .order_by(Notification.id).limit(limit)
    ).all()
    now = utcnow()
    for n in notes:  # people who left since the notification was queued get no mail, now or later
        if not user_is_active_at(n.user, now):
            n.email_attempts = MAX_ATTEMPTS
    notes = [n for n in notes if n.email_attempts < MAX_ATTEMPTS]
    if not notes:
        db.session.commit()
        return 0
    sent, tried = 0, set()
    try:
        for note, (_, error) in zip(notes, send([_message(n) for n in notes]), strict=False):
            tried.add(note.id)
            note.email_attempts += 1
            if error is None:
                note.emailed_at = now
                sent += 1
            else:
                current_app.logger.warning("mail to %s failed, will retry: %s", note.user.email, error)
    except (OSError, smtplib.SMTPException) as exc:  # the session itself broke (TLS, login)
        current_app.logger.warning("mail delivery failed, will retry: %s", exc)
        for note in notes:
            if note.id not in tried:
                note.email_attempts += 1
    db.session.commit()
    return sent

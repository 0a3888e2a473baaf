"""The staleness checker: the policy applied to every card in bulk, persisted, snapshotted and notified.

`run_check` is what `kb check-stale` (cron) calls. `refresh_touched` keeps the persisted status of the
cards a transaction wrote current at commit time, so pages never wait for the next cron run.
"""
import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import bindparam, event, select
from sqlalchemy.orm import Session

from kb.dates import local, local_day, utcnow
from kb.extensions import db, insert_ignoring_conflicts
from kb.models import (
    Card,
    CardChange,
    CardLink,
    CardState,
    Collection,
    Membership,
    Notification,
    Team,
    TrustSnapshot,
    User,
)
from kb.verification import policy
from kb.verification.facts import user_is_active_at
from kb.verification.notify import leads_or_admins, notify_many
from kb.verification.status import evaluate_all


@dataclass(slots=True)
class Verdict:
    card_id: int
    title: str
    collection_id: int
    owner_id: int
    team_id: int
    status: policy.Status
    stale_since: object = None


@dataclass
class CheckReport:
    now: object
    verdicts: list
    changed: int = 0
    notified: int = 0
    counts: Counter = field(default_factory=Counter)

    @property
    def stale(self):
        return [v for v in self.verdicts if v.status.code == policy.NEEDS_VERIFICATION]


def _setting(name, default):
    return current_app.config.get(name, default) if has_app_context() else default


def evaluate(now, card_ids=None):
    """A Verdict per card (all cards, or those ids), through the one status function."""
    return [Verdict(*card, status) for card, status in evaluate_all(now, card_ids)]


def store(verdicts, now, unless_newer_than=None):
    """Persist each verdict that differs from the stored one; keeps `stale_since` while a card stays stale.

    `unless_newer_than`: leave alone rows a commit refreshed after that instant (the checker evaluated
    before them, so its verdict is older than theirs). Nothing stored is dated after the real present,
    even for a what-if `now` in the future.
    """
    stamp = min(now, utcnow())
    ids = [v.card_id for v in verdicts]
    query = select(CardState.card_id, CardState.status, CardState.reasons, CardState.due_at, CardState.stale_since,
                   CardState.due_soon_at)
    if len(ids) <= 5000:
        query = query.where(CardState.card_id.in_(ids))
    previous = {card_id: rest for card_id, *rest in db.session.execute(query)}
    inserts, updates = [], []
    for v in verdicts:
        reasons = ",".join(v.status.reason_codes)
        prev = previous.get(v.card_id)  # [status, reasons, due_at, stale_since, due_soon_at]
        if v.status.code == policy.NEEDS_VERIFICATION:
            v.stale_since = prev[3] if prev is not None and prev[3] else stamp
        current = [v.status.code, reasons, v.status.due_at, v.stale_since, v.status.due_soon_at]
        if prev != current:
            values = {"card_id": v.card_id, "status": current[0], "reasons": reasons, "due_at": current[2],
                      "stale_since": current[3], "due_soon_at": current[4], "checked_at": stamp}
            (inserts if prev is None else updates).append(values)
    changed_ids = [row["card_id"] for row in inserts + updates]
    # Core executemany: several times faster than ORM bulk operations for 100,000 rows.
    table = CardState.__table__
    if inserts:
        db.session.execute(insert_ignoring_conflicts(table), inserts)
    if updates:
        statement = table.update().where(table.c.card_id == bindparam("key"))
        if unless_newer_than is not None:
            statement = statement.where(table.c.checked_at <= unless_newer_than)
        db.session.execute(
            statement.values({c: bindparam(c) for c in ("status", "reasons", "due_at", "stale_since", "due_soon_at",
                                                        "checked_at")}),
            [{**row, "key": row.pop("card_id")} for row in updates])
    if changed_ids:  # the search index ranks and filters by status: it re-reads these cards
        db.session.execute(CardChange.__table__.insert(), [{"card_id": i, "changed_at": stamp} for i in changed_ids])
        db.session.info["kb.feed_written"] = True
    return len(inserts) + len(updates)


def tally(groups):
    """Trust figures per scope ("all", "collection:<id>", "team:<id>") from counted groups of cards:
    ((collection id, team id, trusted, reason codes), number of cards). Returns {scope: [total, trusted,
    Counter of reasons]}. Shared by the daily snapshot and the dashboard's live figures."""
    scopes = defaultdict(lambda: [0, 0, Counter()])
    for (collection_id, team_id, trusted, reasons), n in groups:
        for scope in ("all", f"collection:{collection_id}", f"team:{team_id}"):
            figures = scopes[scope]
            figures[0] += n
            figures[1] += n * trusted
            for code in reasons:
                figures[2][code] += n
    return scopes


def snapshot(verdicts, now):
    """Record today's trust figures overall, per collection and per team (re-running the same day replaces them)."""
    # Count distinct (collection, team, trusted, reasons) combinations first: a few hundred, not 100,000.
    combos = Counter((v.collection_id, v.team_id, v.status.is_trusted, v.status.reason_codes)
                     for v in verdicts if v.status.code != policy.ARCHIVED)
    scopes = tally(combos.items())
    day = local(now).date()  # the deployment's calendar day
    existing = {s.scope: s for s in db.session.scalars(select(TrustSnapshot).filter_by(day=day))}
    for scope, (total, trusted, reasons) in scopes.items():
        snap = existing.get(scope) or TrustSnapshot(day=day, scope=scope)
        snap.total, snap.trusted, snap.reasons_json = total, trusted, json.dumps(dict(sorted(reasons.items())))
        db.session.add(snap)


def notify_owners(verdicts, now):
    """Tell owners of lapsed and due-soon cards, and escalate cards stale too long. Each event once."""
    escalate_after = timedelta(days=_setting("ESCALATE_AFTER_DAYS", 14))
    known = set(db.session.execute(select(Notification.user_id, Notification.key)).all())
    users = {u.id: u for u in db.session.scalars(select(User))}
    active = {uid for uid, u in users.items() if user_is_active_at(u, now)}
    teams = {t.id: t for t in db.session.scalars(select(Team))}
    escalate_to = {}
    rows = []

    def add(user_id, key, kind, v, subject, body):
        if user_id in active:
            rows.append({"user_id": user_id, "key": key, "kind": kind, "card_id": v.card_id, "subject": subject,
                         "body": body})

    for v in verdicts:
        status = v.status
        # Keyed by the due date: a new verification starts a new cycle of reminders.
        stamp = status.due_at.isoformat() if status.due_at else "never"
        if status.code == policy.DUE_SOON:
            add(v.owner_id, f"due_soon:{v.card_id}:{stamp}", "due_soon", v,
                f"Due for verification by {local_day(status.due_at)}: {v.title}",
                f"“{v.title}” lapses on {local_day(status.due_at)}. Please verify it before then.")
        if policy.EXPIRED in status.reason_codes:
            add(v.owner_id, f"lapsed:{v.card_id}:{stamp}", "lapsed", v, f"Verification lapsed: {v.title}",
                f"“{v.title}” lapsed on {local_day(status.due_at)} and needs verification.")
        if v.stale_since is not None and now - v.stale_since >= escalate_after:
            days = (now - v.stale_since).days
            if v.team_id not in escalate_to:
                escalate_to[v.team_id] = [u.id for u in leads_or_admins(teams[v.team_id], now)]
            for person in escalate_to[v.team_id]:
                add(person, f"escalated:{v.card_id}:{v.stale_since.isoformat()}", "escalated", v,
                    f"Stale for {days} days: {v.title}",
                    f"“{v.title}” has needed verification for {days} days "
                    f"({' '.join(r.message for r in status.reasons)}) Please reassign or verify it.")
    return notify_many(rows, known)


def run_check(now=None, send_notifications=False):
    """Evaluate, persist and snapshot every card; optionally notify. The caller commits."""
    started = utcnow()
    now = now or started
    verdicts = evaluate(now)
    report = CheckReport(now=now, verdicts=verdicts)
    report.changed = store(verdicts, now, unless_newer_than=started)
    snapshot(verdicts, now)
    if send_notifications:
        report.notified = notify_owners(verdicts, now)
    report.counts = Counter(v.status.code for v in verdicts)
    return report


def report_rows(report, everything=False):
    """Rows for the table and JSON output: cards that need attention (or all), most urgent first."""
    names = {
        "collection": dict(db.session.execute(select(Collection.id, Collection.name)).all()),
        "owner": dict(db.session.execute(select(User.id, User.name)).all()),
    }
    order = {policy.NEEDS_VERIFICATION: 0, policy.DUE_SOON: 1, policy.DRAFT: 2, policy.VERIFIED: 3,
             policy.ARCHIVED: 4}
    picked = [v for v in report.verdicts
              if everything or v.status.code in (policy.NEEDS_VERIFICATION, policy.DUE_SOON, policy.DRAFT)]
    picked.sort(key=lambda v: (order[v.status.code], v.status.due_at or report.now, v.card_id))
    return [{
        "id": v.card_id,
        "title": v.title,
        "collection": names["collection"].get(v.collection_id),
        "owner": names["owner"].get(v.owner_id),
        "status": v.status.code,
        "reasons": list(v.status.reason_codes),
        "due": v.status.due_at.isoformat().replace("+00:00", "Z") if v.status.due_at else None,
        "stale_since": v.stale_since.isoformat().replace("+00:00", "Z") if v.stale_since else None,
    } for v in picked]


TOUCHED = "kb.touched"


def refresh_touched(session):
    """At commit: re-evaluate and store the status of every card this transaction touched."""
    touched = session.info.pop(TOUCHED, None)
    if not touched or not has_app_context():
        return
    card_ids, user_ids, team_ids = touched["cards"], touched["users"], touched["teams"]
    if user_ids:  # a user's state matters to the cards they own and the teams they verify for
        team_ids |= set(session.scalars(select(Membership.team_id).where(Membership.user_id.in_(user_ids))))
    if user_ids or team_ids:
        card_ids |= set(session.scalars(select(Card.id).where(
            Card.owner_id.in_(user_ids) | Card.verifier_team_id.in_(team_ids))))
    if card_ids:  # cards linking to a touched card may now show "a linked card changed"
        ids = sorted(card_ids)
        for start in range(0, len(ids), 5000):  # bounded IN lists (PostgreSQL takes 65,535 parameters)
            card_ids |= set(session.scalars(select(CardLink.card_id).where(
                CardLink.target_id.in_(ids[start:start + 5000]))))
        now = utcnow()
        store(evaluate(now, card_ids), now)


@event.listens_for(Session, "before_commit")
def _before_commit(session):
    if session.new or session.dirty or session.deleted:
        session.flush()  # the last changes are flushed (and recorded as touched) before evaluating
    if session.info.get(TOUCHED):
        refresh_touched(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session):
    session.info.pop(TOUCHED, None)

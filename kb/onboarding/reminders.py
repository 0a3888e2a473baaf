"""Reminders: a hire hears before a path's due date and after it was missed, at most once a day; each
team lead gets a daily digest of their overdue hires. Run by the scheduler (job "onboarding-reminders")."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from kb.dates import format_datetime, local_day, utcnow
from kb.extensions import db
from kb.models import Membership, Notification, Path, PathAssignment, User
from kb.onboarding import progress
from kb.verification import notify
from kb.verification.facts import user_active_at


def _known(day):
    rows = db.session.execute(select(Notification.user_id, Notification.key).where(
        Notification.key.like(f"onboarding-%:{day}")))
    return {(uid, key) for uid, key in rows}


def send_reminders(now=None):
    """Queue today's reminders and digests; returns (reminders, digests) queued."""
    now = now or utcnow()
    day = local_day(now).isoformat()
    before = timedelta(hours=current_app.config["ONBOARDING_REMIND_BEFORE_HOURS"])
    active = set(db.session.scalars(select(User.id).where(user_active_at(now))))
    due_soon, overdue = {}, {}  # user id -> [(path, due_at)]
    late_by_team = {}  # team id -> [(path, user id)]
    path_ids = set(db.session.scalars(select(PathAssignment.path_id).where(PathAssignment.due_days.is_not(None))))
    for path in db.session.scalars(select(Path).where(Path.id.in_(path_ids or [-1]))):
        cards = progress.load(path, now)
        cohorts = [(a.team, progress.cohort_of(path, a.team)) for a in path.assignments
                   if a.team_id is not None and a.due_days]
        cohorts.append((None, {uid: dates for uid, dates in progress.cohort_of(path).items() if dates[1]}))
        for team, people in cohorts:
            people = {uid: dates for uid, dates in people.items() if uid in active and dates[1] is not None}
            for uid, p in progress.summaries_of(cards, people, now).items():
                if p.finished:
                    continue
                if p.overdue:
                    overdue.setdefault(uid, []).append((path, p.due_at))
                    if team is not None:
                        late_by_team.setdefault(team.id, []).append((path, uid))
                elif p.due_at - now <= before:
                    due_soon.setdefault(uid, []).append((path, p.due_at))
    known = _known(day)
    rows = []
    for uid in sorted(set(due_soon) | set(overdue)):
        late, soon = overdue.get(uid, []), due_soon.get(uid, [])
        lines = [f"Overdue since {format_datetime(d)}: {p.name}" for p, d in late]
        lines += [f"Due {format_datetime(d)}: {p.name}" for p, d in soon]
        subject = (f"Onboarding overdue: {late[0][0].name}" if late else f"Onboarding due soon: {soon[0][0].name}")
        rows.append({"user_id": uid, "key": f"onboarding-reminder:{day}", "kind": "onboarding", "card_id": None,
                     "subject": subject, "body": "\n".join(lines), "url": "/onboarding/"})
    reminders = notify.notify_many(rows, known)
    digests = []
    if late_by_team:
        leads = db.session.execute(select(Membership.team_id, Membership.user_id).where(
            Membership.team_id.in_(list(late_by_team)), Membership.is_lead)).all()
        names = dict(db.session.execute(select(User.id, User.name).where(
            User.id.in_({uid for rows_ in late_by_team.values() for _, uid in rows_}))).all())
        per_lead = {}
        for team_id, lead_id in leads:
            if lead_id in active:
                per_lead.setdefault(lead_id, []).extend(late_by_team[team_id])
        for lead_id, late in sorted(per_lead.items()):
            lines = sorted({f"{names.get(uid, uid)}: {path.name}" for path, uid in late})
            digests.append({"user_id": lead_id, "key": f"onboarding-digest:{day}", "kind": "onboarding",
                            "card_id": None, "subject": f"{len(lines)} hire(s) overdue on onboarding",
                            "body": "\n".join(lines), "url": "/onboarding/paths"})
    return reminders, notify.notify_many(digests, known)

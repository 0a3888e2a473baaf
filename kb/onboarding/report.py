"""The lead's report: per path and cohort, each hire's progress, last activity, acknowledgements, score
and overdue state; sortable, filterable, as CSV; the cohort's completion by day; the most-missed questions."""
import csv
import io
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from kb.dates import local_day, utcnow
from kb.extensions import db
from kb.models import User
from kb.onboarding import progress
from kb.spreadsheet import cell

SORTS = ("name", "progress", "activity", "score", "due", "status")
FILTERS = ("all", "not started", "in progress", "finished", "overdue", "updated")


@dataclass
class Row:
    user: object
    progress: object

    @property
    def ended(self):
        return not self.user.is_active_at(self.progress.now)

    @property
    def score_text(self):
        right, answered, asked = self.progress.score
        return f"{right}/{answered}" if answered else "—"


@dataclass
class Report:
    cards: object
    rows: list  # every hire of the cohort
    shown: list  # after the filter and the sort
    missed: list  # [(question, missed first time, answered)]
    chart: list  # [(day, percent finished)]

    @property
    def finished(self):
        return sum(1 for r in self.rows if r.progress.finished)

    @property
    def overdue(self):
        return sum(1 for r in self.rows if r.progress.overdue)

    @property
    def with_updates(self):
        return sum(1 for r in self.rows if r.progress.updated_count)


def build(path, team=None, *, sort="name", descending=False, status="all", text="", now=None):
    now = now or utcnow()
    cards = progress.load(path, now)
    people = progress.cohort_of(path, team)
    by_user = progress.summaries_of(cards, people, now)
    users = {}
    for chunk in progress._chunks(people):
        users.update({u.id: u for u in db.session.scalars(select(User).where(User.id.in_(chunk)))})
    rows = [Row(users[uid], p) for uid, p in by_user.items() if uid in users]
    shown = [r for r in rows if _matches(r, status, text)]
    shown.sort(key=_sort_key(sort), reverse=descending)
    return Report(cards, rows, shown, most_missed(cards, rows), completion_by_day(rows, now))


def _matches(row, status, text):
    p = row.progress
    if status == "updated" and not p.updated_count:
        return False
    if status in ("not started", "in progress", "finished", "overdue") and p.status != status:
        return False
    text = (text or "").strip().casefold()
    return not text or text in row.user.name.casefold() or text in row.user.email_key


def _sort_key(sort):
    far = utcnow().replace(year=9999)
    keys = {
        "name": lambda r: r.user.name.casefold(),
        "progress": lambda r: (r.progress.percent, r.user.name.casefold()),
        "activity": lambda r: (r.progress.last_activity or far.replace(year=1), r.user.name.casefold()),
        "score": lambda r: (_score(r), r.user.name.casefold()),
        "due": lambda r: (r.progress.due_at or far, r.user.name.casefold()),
        "status": lambda r: (r.progress.status, r.user.name.casefold()),
    }
    return keys.get(sort, keys["name"])


def _score(row):
    right, answered, _ = row.progress.score
    return right / answered if answered else -1


def most_missed(cards, rows, limit=10):
    """Questions by the share of hires who got them wrong the first time (only questions someone answered)."""
    counts = {}
    for row in rows:
        for qid, first_correct in row.progress.answers:
            missed, answered = counts.get(qid, (0, 0))
            counts[qid] = (missed + (not first_correct), answered + 1)
    by_id = {q.id: q for qs in cards.questions.values() for q in qs}
    out = [(by_id[qid], missed, answered) for qid, (missed, answered) in counts.items() if qid in by_id]
    out.sort(key=lambda t: (-t[1] / t[2], -t[1], t[0].prompt))
    return out[:limit]


def completion_by_day(rows, now, days=60):
    """(day, % of the cohort that had finished by the end of it) from the cohort's first start to today."""
    if not rows:
        return []
    starts = [r.progress.started_at for r in rows if r.progress.started_at is not None]
    today = local_day(now)
    first = max(local_day(min(starts)) if starts else today, today - timedelta(days=days - 1))
    finished = sorted(local_day(r.progress.completed_at) for r in rows if r.progress.completed_at is not None)
    points, index, day = [], 0, first
    while day <= today:
        while index < len(finished) and finished[index] <= day:
            index += 1
        points.append((day, round(100 * index / len(rows))))
        day += timedelta(days=1)
    return points


def to_csv(report):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "status", "done", "cards", "percent", "acknowledged", "to acknowledge",
                     "right first time", "answered", "questions", "updated cards", "last activity", "due",
                     "finished at", "account ends"])
    for row in report.shown:
        p = row.progress
        acked, to_ack = p.acknowledgements
        right, answered, asked = p.score
        writer.writerow([cell(row.user.name), cell(row.user.email), p.status, p.done, p.total, p.percent, acked, to_ack,
                         right, answered, asked, p.updated_count, _iso(p.last_activity), _iso(p.due_at),
                         _iso(p.completed_at), row.user.expires_on.isoformat() if row.user.expires_on else ""])
    return out.getvalue()


def _iso(value):
    return value.isoformat(timespec="minutes") if value else ""



"""Periodic jobs that run by themselves: the staleness check and its notifications, the weekly digest,
search index upkeep and mail retries.

`schedule(config)` declares them, like redash's `tasks/schedule.py`. A `Scheduler` runs whatever is due,
in a daemon thread inside `kb run` or in the foreground as `kb worker`. Every run first takes the job's
lease, a `JobRun` row claimed with one conditional UPDATE, so that however many workers or hosts run a
scheduler, one process at a time runs each job; the same row records the last run. Whether a job is due
is part of that UPDATE too, so a process never runs a job another one has just finished.
"""
import calendar
import hashlib
import logging
import os
import re
import signal
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select, true, update

from kb.dates import utcnow, zone
from kb.extensions import db, insert_ignoring_conflicts
from kb.models import JobRun

log = logging.getLogger(__name__)

# The run "shortly after start" is skipped when some process started the job less than this ago:
# workers that boot together, or a quick restart, run it once between them.
RECENT = timedelta(minutes=5)
# The loop looks again at least this often (another process may have run a job meanwhile), at most this often.
MAX_SLEEP, MIN_SLEEP = 60.0, 1.0
MAIL_BATCH = 200
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


# -- When a job is due ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Every:
    """Due `period` after it last started."""

    period: timedelta

    def last_slot(self, now, tz):
        return now - self.period

    def next_due(self, last_started, now, tz):
        return now if last_started is None else last_started + self.period

    def __str__(self):
        seconds = int(self.period.total_seconds())
        return f"every {seconds // 60} min" if seconds % 60 == 0 else f"every {seconds} s"


@dataclass(frozen=True)
class At:
    """Due at a wall-clock time in TIMEZONE: every day, or once a week on `weekday` (0 is Monday)."""

    hour: int
    minute: int
    weekday: int | None = None

    @property
    def period(self):
        return timedelta(days=1 if self.weekday is None else 7)

    def last_slot(self, now, tz):
        """The latest scheduled instant at or before `now` (wall-clock arithmetic, so DST keeps 07:00)."""
        here = now.astimezone(tz)
        slot = here.replace(hour=self.hour, minute=self.minute, second=0, microsecond=0)
        if self.weekday is not None:
            slot -= timedelta(days=(here.weekday() - self.weekday) % 7)
        return slot - self.period if slot > here else slot

    def next_due(self, last_started, now, tz):
        if last_started is None or last_started < self.last_slot(now, tz):
            return now
        return self.last_slot(last_started, tz) + self.period

    def __str__(self):
        day = "daily" if self.weekday is None else f"{calendar.day_name[self.weekday]}s"
        return f"{day} {self.hour:02d}:{self.minute:02d}"


def at(text, setting="time"):
    """Parse "MON 07:00" (weekly) or "03:30" (daily); a setting that is neither stops the start."""
    from kb import ConfigError

    match = re.fullmatch(r"\s*(?:([A-Za-z]{3})\w*\s+)?(\d{1,2}):(\d{2})\s*", str(text))
    day = match and match.group(1) and match.group(1).upper()
    if not match or int(match.group(2)) > 23 or int(match.group(3)) > 59 or (day and day not in DAYS):
        raise ConfigError(f"{setting} = {text!r}: use \"HH:MM\" (daily) or \"MON 07:00\" (weekly)")
    return At(int(match.group(2)), int(match.group(3)), DAYS.index(day) if day else None)


def every(config, setting, unit):
    """A positive interval from a setting in `unit` ("seconds", "minutes")."""
    from kb import ConfigError

    value = config[setting]
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{setting} = {value!r}: use a positive number of {unit}")
    return Every(timedelta(**{unit: value}))


# -- The jobs -----------------------------------------------------------------------------------------

def check_stale():
    """The staleness check with lapse, due-soon and escalation notifications (cron's `check-stale --notify`)."""
    from kb.verification import checker

    report = checker.run_check(send_notifications=True)
    db.session.commit()
    return f"{report.changed} status change(s), {report.notified} notification(s)"


def weekly_digest():
    """Each verifier's digest, once per ISO week however often it runs (`kb digest` without --force)."""
    from kb.verification import digest

    queued = digest.send_digests()
    db.session.commit()
    return f"{queued} digest(s) queued" if queued else None


def deliver_mail():
    """E-mail every pending notification, a batch at a time; failures wait for the next run."""
    from kb.verification import notify

    sent = batch = notify.deliver_pending(limit=MAIL_BATCH)
    while batch == MAIL_BATCH:
        batch = notify.deliver_pending(limit=MAIL_BATCH)
        sent += batch
    return f"{sent} e-mail(s) sent" if sent else None


def apply_feed():
    """Bring this host's search index up to the change feed (searches and commits do too; this is the backstop)."""
    from kb.search import index

    result = index.apply_feed()
    if result.deferred:
        return "index busy, left for the next run"
    return f"{result.applied} change(s) applied" if result.applied else None


def optimize_index():
    """Merge this host's index into one segment at night, when nobody is searching."""
    from kb.search import index

    return "index merged" if index.optimize() else "index busy, left for the next night"


def onboarding_reminders():
    """Hires hear before a due date and after a missed one (once a day at most); leads get a daily digest."""
    from kb.onboarding import reminders

    sent, digests = reminders.send_reminders()
    db.session.commit()
    return f"{sent} reminder(s), {digests} digest(s)" if sent or digests else None


def hand_over():
    """Cards of accounts that ended (expired or deactivated) go to their team's lead, or an admin."""
    from kb.accounts import handover

    report = handover.hand_over()
    db.session.commit()
    return str(report) if report.moved or report.left else None


@dataclass(frozen=True)
class Job:
    name: str
    run: object  # callable: does the work, commits, returns a one-line result (None: nothing to do)
    rule: Every | At
    at_start: bool = False  # also once shortly after the process starts
    per_host: bool = False  # one lease per host: each host keeps its own search index
    then: str | None = None  # right after a successful run, run this job too (lease permitting, due or not)

    @property
    def lease_name(self):
        if not self.per_host:
            return self.name
        name = f"{self.name}@{HOST}"
        return name if len(name) <= 40 else f"{name[:33]}~{hashlib.sha1(HOST.encode()).hexdigest()[:6]}"


def schedule(config):
    """The periodic jobs, in the order a round runs them."""
    return (
        Job("check-stale", check_stale, every(config, "JOBS_CHECK_MINUTES", "minutes"), at_start=True, then="mail"),
        Job("digest", weekly_digest, at(config["JOBS_DIGEST_AT"], "JOBS_DIGEST_AT"), then="mail"),
        Job("index-feed", apply_feed, every(config, "JOBS_INDEX_FEED_SECONDS", "seconds"), per_host=True),
        Job("index-optimize", optimize_index, at(config["JOBS_INDEX_OPTIMIZE_AT"], "JOBS_INDEX_OPTIMIZE_AT"),
            per_host=True),
        Job("onboarding-reminders", onboarding_reminders, every(config, "JOBS_REMINDER_MINUTES", "minutes"),
            then="mail"),
        Job("hand-over", hand_over, every(config, "JOBS_HANDOVER_MINUTES", "minutes"), then="mail"),
        # Mail is a job of its own, so that two processes never send the same notification twice.
        Job("mail", deliver_mail, every(config, "JOBS_MAIL_MINUTES", "minutes")),
    )


# -- Leases -------------------------------------------------------------------------------------------

HOST = socket.gethostname().split(".")[0] or "localhost"


def default_holder():
    return f"{HOST}:{os.getpid()}"


def take_lease(name, holder, seconds, due_before=None, now=None):
    """Claim a job's lease if it is free or expired and the job is due (last started before `due_before`;
    None: due anyway). True when `holder` has it; the run is counted. Commits.

    One conditional UPDATE, so two processes racing for it cannot both win: SQLite serialises writers,
    PostgreSQL re-checks the WHERE once the first one's row lock is released."""
    now = now or utcnow()
    db.session.execute(insert_ignoring_conflicts(JobRun.__table__), [{"name": name}])
    due = true() if due_before is None else or_(JobRun.last_started_at.is_(None),
                                                JobRun.last_started_at < due_before)
    taken = db.session.execute(
        update(JobRun)
        .where(JobRun.name == name, or_(JobRun.lease_until.is_(None), JobRun.lease_until < now), due)
        .values(holder=holder, lease_until=now + timedelta(seconds=seconds), last_started_at=now,
                runs=JobRun.runs + 1)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    return taken


def renew_lease(connection, name, holder, seconds):
    """Extend a lease this holder still has; False when another process took it over."""
    return connection.execute(
        update(JobRun).where(JobRun.name == name, JobRun.holder == holder, JobRun.lease_until.is_not(None))
        .values(lease_until=utcnow() + timedelta(seconds=seconds))
    ).rowcount == 1


def finish(name, holder, result="", error=""):
    """Record how the run ended and free the lease, unless another process took it over meanwhile. Commits."""
    done = db.session.execute(
        update(JobRun).where(JobRun.name == name, JobRun.holder == holder)
        .values(lease_until=None, last_finished_at=utcnow(), last_result=result[:2000], last_error=error[:4000])
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    db.session.commit()
    if not done:
        log.warning("job %s outlived its lease: another process took it over", name)


class Renewing:
    """Keeps a lease alive while its job runs, from a thread of its own, so that only a dead holder loses it."""

    def __init__(self, engine, name, holder, seconds):
        self.engine, self.name, self.holder, self.seconds = engine, name, holder, seconds
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"kb-lease-{name}", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()

    def _beat(self):
        while not self.stop.wait(self.seconds / 3):
            try:
                with self.engine.begin() as connection:
                    if not renew_lease(connection, self.name, self.holder, self.seconds):
                        return
            except Exception as exc:  # e.g. SQLite busy: the lease still has two thirds to go
                log.warning("could not renew the lease of job %s: %s", self.name, exc)


# -- Running them -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    job: str
    ok: bool
    text: str  # the job's result or its error


class Scheduler:
    """Runs the due jobs of a schedule, each under its lease. A failing job is logged and recorded, and
    runs again at its next slot; nothing a job does stops the loop."""

    def __init__(self, app, jobs=None, holder=None, on_outcome=None):
        self.app = app
        self.jobs = {job.name: job for job in (schedule(app.config) if jobs is None else jobs)}
        self.holder = holder or default_holder()
        self.on_outcome = on_outcome or (lambda outcome: None)
        self.lease_seconds = app.config["JOBS_LEASE_SECONDS"]
        self.stopping = threading.Event()  # set it to end the loop after the job running now
        with app.app_context():
            self.tz = zone()

    def due_before(self, job, now, first=False):
        """The job is due if it last started before this instant."""
        slot = job.rule.last_slot(now, self.tz)
        return max(slot, now - RECENT) if first and job.at_start else slot

    def run_due(self, now=None, first=False):
        """One round: every job that is due and not leased elsewhere runs now. Returns their outcomes."""
        outcomes = []
        for job in self.jobs.values():
            if self.stopping.is_set():
                break
            outcome = self.run(job, self.due_before(job, now or utcnow(), first), now)
            if outcome and outcome.ok and job.then in self.jobs:
                outcomes += [outcome, self.run(self.jobs[job.then], None)]
            else:
                outcomes.append(outcome)
        return [outcome for outcome in outcomes if outcome]

    def run(self, job, due_before, now=None):
        """Run `job` if its lease is free and it is due (`due_before` None: due anyway); None if it did not run."""
        with self.app.app_context():
            try:
                if not take_lease(job.lease_name, self.holder, self.lease_seconds, due_before, now):
                    return None
            except Exception as exc:  # the database is down or locked: the next round tries again
                db.session.rollback()
                log.warning("job %s: could not take its lease: %s", job.name, exc)
                return self._report(Outcome(job.name, False, f"could not take the lease: {exc}"))
            outcome = self._execute(job)
            try:
                finish(job.lease_name, self.holder, **({"result": outcome.text} if outcome.ok
                                                        else {"error": outcome.text}))
            except Exception as exc:
                db.session.rollback()
                log.warning("job %s: could not record its run: %s", job.name, exc)
            return self._report(outcome)

    def _execute(self, job):
        """The job itself, with its lease kept alive meanwhile."""
        with Renewing(db.engine, job.lease_name, self.holder, self.lease_seconds):
            try:
                return Outcome(job.name, True, job.run() or "nothing to do")
            except Exception as exc:
                db.session.rollback()
                log.exception("job %s failed; it runs again at its next slot", job.name)
                return Outcome(job.name, False, f"{type(exc).__name__}: {exc}")

    def _report(self, outcome):
        try:
            self.on_outcome(outcome)
        except Exception:
            log.exception("reporting the outcome of job %s failed", outcome.job)
        return outcome

    def seconds_to_next(self, now=None):
        """How long the loop may sleep: until the next job falls due or a lease held elsewhere ends."""
        now = now or utcnow()
        with self.app.app_context():
            try:
                rows = {row.name: row for row in db.session.scalars(select(JobRun))}
            except Exception as exc:
                log.warning("could not read the job schedule: %s", exc)
                return MAX_SLEEP
        soonest = MAX_SLEEP
        for job in self.jobs.values():
            row = rows.get(job.lease_name)
            when = job.rule.next_due(row.last_started_at if row else None, now, self.tz)
            if row is not None and row.lease_until is not None:
                when = max(when, row.lease_until)
            soonest = min(soonest, (when - now).total_seconds() + 0.1)  # wake just after it falls due
        return max(MIN_SLEEP, soonest)

    def run_forever(self):
        """Rounds until `stopping` is set: the first after JOBS_FIRST_RUN_DELAY_SECONDS, then as jobs fall due."""
        first = True
        wait = self.app.config["JOBS_FIRST_RUN_DELAY_SECONDS"]
        while not self.stopping.wait(wait):
            try:
                self.run_due(first=first)
            except Exception:
                log.exception("a round of periodic jobs failed; the next one goes ahead")
            first = False
            wait = self.seconds_to_next()


def run_now(name):
    """Run one job at once, under its lease, from a page that just queued its work (the mail of a flag):
    never beside another process running it. None when it is not scheduled or its lease is held."""
    scheduler = Scheduler(current_app._get_current_object())
    job = scheduler.jobs.get(name)
    return scheduler.run(job, None) if job is not None else None


_starting = threading.Lock()


def _loop(scheduler):
    return threading.Thread(target=scheduler.run_forever, name="kb-jobs", daemon=True)


def start_in_background(app, on_outcome=None):
    """Run the scheduler in a daemon thread, once per process and app. Returns the thread."""
    with _starting:
        running = app.extensions.get("kb.jobs")
        if running is not None and running.is_alive():  # a forked child sees its parent's thread as dead
            return running
        thread = _loop(Scheduler(app, on_outcome=on_outcome))
        thread.start()
        app.extensions["kb.jobs"] = thread
        return thread


def run_in_foreground(scheduler):
    """`kb worker`: the loop until SIGTERM or Ctrl+C, which let the running job finish (a second Ctrl+C
    quits at once; that job's lease then lapses after JOBS_LEASE_SECONDS)."""
    thread = _loop(scheduler)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: scheduler.stopping.set())
    thread.start()
    try:
        try:
            thread.join()
        except KeyboardInterrupt:
            scheduler.stopping.set()
            thread.join()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        from kb.search import vectors

        vectors.stop_backfill()


# -- Status -------------------------------------------------------------------------------------------

def status(jobs, now=None):
    """Per job (per host for per-host jobs): when it runs, its last run and result, next due, lease holder."""
    now, tz = now or utcnow(), zone()
    rows = db.session.scalars(select(JobRun).order_by(JobRun.name)).all()
    report = []
    for job in jobs:
        mine = [r for r in rows if r.name == job.name or (job.per_host and r.name.startswith(f"{job.name}@"))]
        for row in mine or [JobRun(name=job.lease_name, runs=0, last_result="", last_error="")]:
            report.append({
                "job": row.name,
                "when": f"{job.rule}{' and at start' if job.at_start else ''}",
                "last_started_at": row.last_started_at,
                "last_finished_at": row.last_finished_at,
                "result": f"failed: {row.last_error}" if row.last_error else row.last_result,
                "runs": row.runs,
                "next_due": job.rule.next_due(row.last_started_at, now, tz),
                "holder": row.holder if row.lease_until is not None and row.lease_until > now else None,
            })
    return report

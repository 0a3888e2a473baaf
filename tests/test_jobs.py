"""Periodic jobs (kb.jobs): a trial's demo data gets its notifications without cron, each job runs under a
lease in the database (two real worker processes on SQLite and PostgreSQL, held and expired leases), failures
are recorded and the loop goes on, weekly and at-start slots, and the `kb run`, `kb worker` and `kb jobs` commands."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from kb import demo, jobs
from kb.dates import utcnow
from kb.extensions import db
from kb.models import JobRun, Notification

KB = str(Path(sys.executable).with_name("kb"))  # the console script installed beside this Python


# ---------------------------------------------------------------------------------------------- helpers

def seed_demo(app):
    with app.app_context():
        demo.seed()
        db.session.commit()


def job_run(app, name):
    """The job's JobRun row, detached, or None."""
    with app.app_context():
        row = db.session.get(JobRun, name)
        if row is not None:
            db.session.expunge(row)
        return row


def set_job_run(app, name, **values):
    """Write a job's row as another process would have left it."""
    with app.app_context():
        row = db.session.get(JobRun, name) or JobRun(name=name, runs=0, last_result="", last_error="")
        for key, value in values.items():
            setattr(row, key, value)
        db.session.add(row)
        db.session.commit()


def note_kinds(app):
    with app.app_context():
        return Counter(db.session.scalars(select(Notification.kind)))


def ran(outcomes):
    return [o.job for o in outcomes]


def only(app, *names):
    """The schedule's jobs of these names (the others do not run)."""
    return [job for job in jobs.schedule(app.config) if job.name in names]


def kb_env(app, **settings):
    """Environment for a `kb` process on the same instance folder (and so the same SQLite file)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("KB_")}
    return {**env, "KB_INSTANCE_PATH": app.instance_path, "KB_SECRET_KEY": "test-secret",
            "KB_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            **{f"KB_{key}": str(value) for key, value in settings.items()}}


def wait_for_a_run(app, name, process, log_path):
    """The job's row once `process` has finished running it (the process must stay up meanwhile)."""
    deadline = time.monotonic() + 90
    while (row := job_run(app, name)) is None or row.last_finished_at is None:
        assert process.poll() is None and time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.2)
    return row


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------------------------ 1. without cron

def test_the_due_jobs_give_a_trials_demo_data_lapse_and_due_soon_notifications(app):
    seed_demo(app)
    assert note_kinds(app)["lapsed"] == note_kinds(app)["due_soon"] == 0

    outcomes = jobs.Scheduler(app).run_due()
    assert all(o.ok for o in outcomes), outcomes
    assert ran(outcomes)[:3] == ["check-stale", "mail", "digest"]  # mail right after the check
    kinds = note_kinds(app)
    assert kinds["lapsed"] >= 3 and kinds["due_soon"] >= 2 and kinds["digest"] >= 1
    with app.app_context():
        assert db.session.scalar(select(Notification).where(Notification.emailed_at.is_(None))) is None
    assert len(list(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))) == sum(kinds.values())
    check = job_run(app, "check-stale")
    assert check.runs == 1 and check.lease_until is None and check.last_error == ""
    assert check.last_result.endswith(f"{kinds['lapsed'] + kinds['due_soon'] + kinds['escalated']} notification(s)")

    again = jobs.Scheduler(app).run_due()  # a moment later nothing of it is due again
    assert "check-stale" not in ran(again) and "digest" not in ran(again)
    assert job_run(app, "check-stale").runs == 1
    assert note_kinds(app) == kinds


# ------------------------------------------------------------------------------------------- 2. leases

def run_two_workers_together(app, **settings):
    """Seed the demo, start two `kb worker --once` processes at once on the app's database, check they shared."""
    seed_demo(app)
    env = kb_env(app, **settings)
    workers = [subprocess.Popen([KB, "worker", "--once"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=180) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs

    assert job_run(app, "check-stale").runs == 1
    assert job_run(app, "digest").runs == 1
    assert sum("[jobs] check-stale:" in err for _, err in outputs) == 1  # one of them ran it
    kinds = note_kinds(app)
    assert kinds["lapsed"] >= 3 and kinds["due_soon"] >= 2
    with app.app_context():  # and no notification was e-mailed twice
        mailed = db.session.scalar(select(func.count()).select_from(Notification)
                                   .where(Notification.emailed_at.is_not(None)))
    assert len(list(Path(app.config["OUTBOX_DIR"]).glob("*.eml"))) == mailed


def test_two_worker_processes_started_together_run_the_checker_once(app):
    run_two_workers_together(app)


@pytest.mark.postgres
def test_two_worker_processes_share_the_jobs_on_postgres_too(pg_app):
    run_two_workers_together(pg_app, DATABASE_URL=pg_app.config["DATABASE_URL"])


def test_a_job_whose_lease_another_process_holds_is_skipped(app):
    seed_demo(app)
    set_job_run(app, "check-stale", holder="web2:4242", lease_until=utcnow() + timedelta(minutes=10))

    outcomes = jobs.Scheduler(app, holder="web1:1").run_due()
    assert "check-stale" not in ran(outcomes) and "digest" in ran(outcomes)
    row = job_run(app, "check-stale")
    assert (row.runs, row.holder, row.last_started_at) == (0, "web2:4242", None)
    assert note_kinds(app)["lapsed"] == 0


def test_an_expired_lease_is_taken_over(app):
    seed_demo(app)
    set_job_run(app, "check-stale", holder="web2:4242", runs=7, lease_until=utcnow() - timedelta(seconds=1),
                last_started_at=utcnow() - timedelta(hours=1))  # its holder died mid-run

    outcomes = jobs.Scheduler(app, holder="web1:1").run_due()
    assert ran(outcomes)[0] == "check-stale" and outcomes[0].ok
    row = job_run(app, "check-stale")
    assert (row.runs, row.holder, row.lease_until) == (8, "web1:1", None)
    assert row.last_finished_at >= row.last_started_at
    assert note_kinds(app)["lapsed"] >= 3


def test_a_running_job_renews_its_lease_but_not_one_taken_over(app):
    with app.app_context():
        start = utcnow()
        assert jobs.take_lease("mail", "web1:1", 120, now=start)
        assert not jobs.take_lease("mail", "web2:2", 120)  # held
        with db.engine.begin() as connection:
            assert jobs.renew_lease(connection, "mail", "web1:1", 600)
            assert not jobs.renew_lease(connection, "mail", "web2:2", 600)
    assert job_run(app, "mail").lease_until > start + timedelta(seconds=500)


# --------------------------------------------------------------------------------------- 3. failures

def test_a_job_that_raises_is_recorded_and_the_loop_goes_on(app, caplog):
    app.config["JOBS_FIRST_RUN_DELAY_SECONDS"] = 0
    calls = []

    def boom():
        raise RuntimeError("mail server on fire")

    def tally():
        calls.append(len(calls) + 1)
        if len(calls) == 2:
            scheduler.stopping.set()
        return f"call {len(calls)}"

    always = jobs.Every(timedelta(0))
    scheduler = jobs.Scheduler(app, jobs=[jobs.Job("boom", boom, always), jobs.Job("tally", tally, always)])
    loop = threading.Thread(target=scheduler.run_forever)
    loop.start()
    loop.join(timeout=60)
    assert not loop.is_alive()

    boom_row, tally_row = job_run(app, "boom"), job_run(app, "tally")
    assert (boom_row.runs, boom_row.last_error, boom_row.lease_until) == (2, "RuntimeError: mail server on fire",
                                                                         None)
    assert boom_row.last_finished_at is not None
    assert (tally_row.runs, tally_row.last_result, tally_row.last_error) == (2, "call 2", "")
    assert "job boom failed" in caplog.text and "mail server on fire" in caplog.text


def test_kb_worker_once_records_a_failing_job_runs_the_others_and_exits_1(app, runner, monkeypatch):
    def broken_check():
        raise RuntimeError("database on fire")

    monkeypatch.setattr(jobs, "check_stale", broken_check)
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert "[jobs] check-stale: FAILED: RuntimeError: database on fire" in result.output
    assert "failed: check-stale" in result.output
    assert job_run(app, "check-stale").last_error == "RuntimeError: database on fire"
    assert job_run(app, "digest").runs == 1  # the others ran

    monkeypatch.undo()  # at its next slot it runs again, and succeeds
    set_job_run(app, "check-stale", last_started_at=utcnow() - timedelta(hours=1))
    assert runner.invoke(args=["worker", "--once"]).exit_code == 0
    row = job_run(app, "check-stale")
    assert (row.runs, row.last_error) == (2, "")


# ------------------------------------------------------------------------------------------- 4. slots

def test_the_checker_runs_once_after_start_unless_a_process_just_ran_it(app):
    scheduler = jobs.Scheduler(app, jobs=only(app, "check-stale"))
    set_job_run(app, "check-stale", last_started_at=utcnow() - timedelta(minutes=10))
    assert scheduler.run_due() == []  # its 30 minutes are not up
    assert ran(scheduler.run_due(first=True)) == ["check-stale"]  # but a process that just started runs it
    set_job_run(app, "check-stale", last_started_at=utcnow() - timedelta(minutes=2))
    assert scheduler.run_due(first=True) == []  # another worker booting alongside just did


def test_the_weekly_digest_goes_out_monday_at_7_or_later_that_week_once(app):
    tz = ZoneInfo("Europe/Bucharest")
    app.config["TIMEZONE"] = "Europe/Bucharest"
    scheduler = jobs.Scheduler(app, jobs=only(app, "digest"))
    set_job_run(app, "digest", last_started_at=datetime(2026, 11, 23, 7, 0, tzinfo=tz))  # last week's

    wednesday = datetime(2026, 12, 2, 10, 0, tzinfo=tz)
    assert ran(scheduler.run_due(now=wednesday)) == ["digest"]  # it had not gone out this week
    assert scheduler.run_due(now=wednesday + timedelta(days=4)) == []
    assert scheduler.run_due(now=datetime(2026, 12, 7, 6, 59, tzinfo=tz)) == []
    assert ran(scheduler.run_due(now=datetime(2026, 12, 7, 7, 0, 30, tzinfo=tz))) == ["digest"]
    assert job_run(app, "digest").runs == 2


def test_calendar_slots_keep_local_time_across_daylight_saving():
    tz = ZoneInfo("Europe/Bucharest")  # clocks went forward on Sunday 2026-03-29
    monday = jobs.at("MON 07:00")
    assert monday == jobs.At(7, 0, 0) and jobs.at("monday 7:00") == monday
    assert monday.last_slot(datetime(2026, 3, 30, 6, 0, tzinfo=tz), tz).astimezone(UTC) == \
        datetime(2026, 3, 23, 5, 0, tzinfo=UTC)  # 07:00 at UTC+2
    assert monday.last_slot(datetime(2026, 4, 1, 12, 0, tzinfo=tz), tz).astimezone(UTC) == \
        datetime(2026, 3, 30, 4, 0, tzinfo=UTC)  # 07:00 at UTC+3
    assert monday.next_due(datetime(2026, 3, 23, 5, 0, 2, tzinfo=UTC), datetime(2026, 3, 24, tzinfo=UTC),
                           tz).astimezone(UTC) == datetime(2026, 3, 30, 4, 0, tzinfo=UTC)
    nightly = jobs.at("03:30")
    assert nightly.last_slot(datetime(2026, 12, 2, 3, 0, tzinfo=tz), tz) == datetime(2026, 12, 1, 3, 30, tzinfo=tz)


@pytest.mark.parametrize("text", ["7", "MON", "FUN 07:00", "24:00", "07:60", ""])
def test_a_schedule_setting_that_is_not_a_time_stops_the_start(make_app, text):
    from kb import ConfigError

    with pytest.raises(ConfigError, match="JOBS_DIGEST_AT"):
        jobs.Scheduler(make_app(JOBS_DIGEST_AT=text))


# ---------------------------------------------------------------------------------------- 5. commands

def test_kb_jobs_shows_each_jobs_schedule_last_run_next_due_and_lease(app, runner):
    seed_demo(app)
    jobs.Scheduler(app).run_due()
    set_job_run(app, "mail", holder="web2:4242", lease_until=utcnow() + timedelta(minutes=1))

    result = runner.invoke(args=["jobs"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert set(lines) == {job.lease_name[:24] for job in jobs.schedule(app.config)}
    assert "every 30 min and at start" in lines["check-stale"] and "notification(s)" in lines["check-stale"]
    assert "Mondays 07:00" in lines["digest"] and "digest(s) queued" in lines["digest"]
    assert "web2:4242" in lines["mail"] and "free" in lines["check-stale"]


def test_kb_worker_runs_the_jobs_until_sigterm_and_then_stops_cleanly(app, tmp_path):
    seed_demo(app)
    log = open(tmp_path / "kb-worker.log", "w")
    worker = subprocess.Popen([KB, "worker"], stdout=log, stderr=subprocess.STDOUT,
                              env=kb_env(app, JOBS_FIRST_RUN_DELAY_SECONDS=0))
    try:
        wait_for_a_run(app, "check-stale", worker, tmp_path / "kb-worker.log")
        worker.send_signal(signal.SIGTERM)
        try:
            assert worker.wait(timeout=60) == 0
        except subprocess.TimeoutExpired:
            worker.send_signal(signal.SIGABRT)  # faulthandler prints where each thread is stuck
            worker.wait(timeout=10)
            pytest.fail("kb worker did not stop within 60 s of SIGTERM:\n" + (tmp_path / "kb-worker.log").read_text())
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
    output = (tmp_path / "kb-worker.log").read_text()
    assert "(Ctrl+C to stop)" in output and "[jobs] check-stale:" in output and "kb worker stopped." in output
    assert job_run(app, "check-stale").holder == f"{jobs.HOST}:{worker.pid}"
    assert note_kinds(app)["lapsed"] >= 3


def test_kb_run_help_shows_no_jobs_beside_flasks_options(tmp_path):
    result = subprocess.run([KB, "run", "--help"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "KB_INSTANCE_PATH": str(tmp_path / "unused")})
    assert result.returncode == 0, result.stderr
    assert "--no-jobs" in result.stdout
    assert all(option in result.stdout for option in ("--host", "--port", "--reload", "--cert"))


def test_kb_run_serves_and_runs_the_jobs_in_the_reloaders_serving_child_only(app, tmp_path):
    seed_demo(app)
    port = free_port()
    log = open(tmp_path / "kb-run.log", "w")
    server = subprocess.Popen([KB, "--debug", "run", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                              env=kb_env(app, JOBS_FIRST_RUN_DELAY_SECONDS=0))
    child = None
    try:
        row = wait_for_a_run(app, "check-stale", server, tmp_path / "kb-run.log")
        child = int(row.holder.rsplit(":", 1)[1])
        assert child != server.pid  # the reloader's watching parent runs no jobs; its serving child does
        assert row.runs == 1 and note_kinds(app)["lapsed"] >= 3
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=30) as response:
            assert response.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        if child is not None:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass
        log.close()

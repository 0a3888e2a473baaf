"""Time the onboarding pages and pushes for a seasonal cohort of N hires (default 3,000).

Usage: .venv/bin/python bench/onboarding_bench.py [N] [--runs R] [--profile] [--gc-freeze]
Targets (onboarding issue): the lead's report for a 3,000-hire cohort renders in at most 1 s; pushing a
must-acknowledge change to 3,000 people takes at most 5 s.

The world: a team "Q4 2026 seasonal" of N hires and one lead; a path of 40 verified cards in 3 sections
(6 must be acknowledged, 5 carry a check question), assigned to the team with due_days=3 six days ago;
reads, acknowledgements and answers spread over the hires (some not started, some finished, most part
way, some overdue, two cards changed materially yesterday so earlier readers see them "updated"); and
one push from two days ago with its receipts. Then, through the Flask test client: the lead's report
(cold on a fresh app, then warm, sorted and filtered variants, the CSV), a push through
kb.onboarding.pushes.push (with its commit) and through the form, and what a hire pays on each page.

Cards, the path, its questions, the assignment and the pushes go through the domain functions. The hires,
their memberships and their progress rows are inserted in bulk: creating 3,000 accounts one by one
(each hashing a password) and replaying ~70,000 reads through reading.mark_read would take minutes and
measure nothing this benchmark is about. Every hire gets the same precomputed password hash.
Each report timing also says how much of it was Python's cyclic garbage collector (cProfile charges that
to whatever allocated last). Over a target, the first such timing of each kind is profiled with cProfile;
--profile profiles every timing. --gc-freeze is a what-if: gc.freeze() after set-up, as a server could
after start-up, so that collections stop rescanning the long-lived objects.
"""
import argparse
import cProfile
import gc
import io
import pstats
import random
import re
import secrets
import statistics
import tempfile
import time
from datetime import timedelta

from flask_migrate import upgrade
from sqlalchemy import insert, select
from werkzeug.security import generate_password_hash

from kb import create_app
from kb.accounts import operations as accounts
from kb.accounts.emails import email_key
from kb.cards import operations as cards_ops
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, CardRead, Membership, PathCompletion, PushReceipt, QuestionAnswer, Team, User
from kb.onboarding import paths, pushes, questions

PASSWORD = "long-enough-1"
SETTINGS = {"SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SESSION_COOKIE_SECURE": False,
            "REMEMBER_COOKIE_SECURE": False}
REPORT_TARGET, PUSH_TARGET = 1.0, 5.0
FIRST = ("Ana Ben Chloé Dario Emma Farid Greta Hugo Ines Jonas Kira Luca Maya Nils Olga Paul Rosa Sami Tara "
         "Ugo Vera Wim Yara Zoe").split()
LAST = ("Martin Bernard Dubois Rossi Müller Schmidt García López Novak Kowalski Jansen Silva Costa Nielsen "
        "Andersen Horvat Petit Moreau Fischer Weber").split()
TOPICS = ("refund window", "parcel tracking", "damaged item", "exchange for size", "voucher code", "invoice copy",
          "address change", "express delivery", "holiday cut-off", "gift receipt", "store credit", "customs duty",
          "missing parcel", "late courier", "cancel before shipment", "payment declined", "account password",
          "loyalty points", "click and collect", "price match")
SECTIONS = ("Day 1: tools and tone", "Day 2: orders and delivery", "Day 3: refunds and escalations")


# --- the world ----------------------------------------------------------------------------------------

def populate(n, seed=11):
    """Build the cohort; returns the ids the timings need."""
    rnd = random.Random(seed)
    now = utcnow()
    assigned_at = now - timedelta(days=6)
    changed_at = now - timedelta(days=1)  # two cards changed materially yesterday
    experts = accounts.create_team(name="Policy experts")
    cohort = accounts.create_team(name="Q4 2026 seasonal")
    accounts.create_team(name="Returns desk")  # another team the lead does not run
    expert = accounts.create_user(email="expert@example.com", name="Erin Expert", role="expert", password=PASSWORD,
                                  teams=[experts])
    lead = accounts.create_user(email="lead@example.com", name="Lena Lead", role="expert", password=PASSWORD,
                                teams=[experts])
    accounts.set_membership(cohort, lead, actor=None, is_lead=True)
    collection = cards_ops.create_collection(name="Customer policies", team=experts)

    # 40 verified cards through the real code path (create, verify ten days ago).
    card_list = []
    for i in range(40):
        topic = TOPICS[i % len(TOPICS)]
        card = cards_ops.create_card(
            collection=collection, owner=expert, verifier_team=experts, author=expert,
            title=f"How do I handle a {topic} request{' (marketplace)' if i >= len(TOPICS) else ''}?",
            answer=" ".join(f"Step {s}: check the {topic} policy, tell the customer what happens next and note "
                            f"it on the ticket." for s in range(1, rnd.randint(4, 9))),
            now=now - timedelta(days=30))
        cards_ops.verify_card(card, expert, at=now - timedelta(days=10), has_flags=False)
        card_list.append(card)
    db.session.flush()

    path = paths.create_path(name="Seasonal onboarding: days 1–3", team=cohort, actor=lead, sections=SECTIONS,
                             description="What every seasonal agent reads in the first three days.")
    must_ack = {2, 9, 15, 22, 30, 37}
    for i, card in enumerate(card_list):
        paths.add_card(path, path.sections[min(i * 3 // 40, 2)], card, lead, must_acknowledge=i in must_ack)
    question_cards = (4, 12, 19, 26, 33)
    qs = [questions.add(card_list[i], prompt=f"What do we tell a customer about the {TOPICS[i % len(TOPICS)]}?",
                        choices=["Nothing until tier 2 answers", "What the card says, then note the ticket",
                                 "Promise a refund"], correct=1, explanation="The card is the answer.", actor=lead)
          for i in question_cards]
    paths.assign(path, actor=lead, team=cohort, due_days=3, now=assigned_at)
    db.session.commit()

    # Two material changes and one typo fix, verified yesterday (the real code path).
    for i, kind in ((5, "material"), (22, "material"), (11, "minor")):
        card = card_list[i]
        cards_ops.edit_card(card, author=expert,
                            answer=card.answer + " Since yesterday: ask for the order number first.",
                            now=changed_at)
        cards_ops.verify_card(card, expert, at=changed_at, change_kind=kind, has_flags=False)
    db.session.commit()

    # The hires, in bulk (see the module docstring): one fixed password hash, a seasonal end date.
    password_hash = generate_password_hash(PASSWORD, method=SETTINGS["PASSWORD_HASH_METHOD"])
    season_end = (now + timedelta(days=75)).date()
    users = []
    for h in range(n):
        email = f"hire{h:04d}@seasonal.example.com"
        users.append({"email": email, "email_key": email_key(email), "name": f"{rnd.choice(FIRST)} {rnd.choice(LAST)}",
                      "role": "agent", "password_hash": password_hash, "active": True, "expires_on": season_end,
                      "session_token": secrets.token_urlsafe(24), "created_at": assigned_at - timedelta(days=2)})
    db.session.execute(insert(User), users)
    hire_ids = db.session.scalars(select(User.id).where(User.email.like("hire%@seasonal.example.com"))
                                  .order_by(User.email)).all()
    joined = {uid: assigned_at if rnd.random() < 0.85 else assigned_at + timedelta(days=rnd.uniform(0, 5))
              for uid in hire_ids}  # most started with the cohort, some joined later (not yet due)
    db.session.execute(insert(Membership), [{"user_id": uid, "team_id": cohort.id, "is_lead": False,
                                             "joined_at": at} for uid, at in joined.items()])

    # Progress, in bulk: reads in path order up to a random point, acknowledgements, answers.
    items = paths.items_of(path)
    served = {c.id: c.verified_revision_number for c in card_list}
    changed = {card_list[5].id, card_list[22].id, card_list[11].id}
    question_of = {q.card_id: q for q in qs}
    reads, answers, completions = [], [], []
    for uid in hire_ids:
        start = joined[uid]
        kind = rnd.random()
        if kind < 0.08:
            continue  # not started
        finished = kind < 0.33
        upto = len(items) if finished else rnd.randint(1, len(items) - 1)
        span = (now - start).total_seconds()
        times = sorted(start + timedelta(seconds=rnd.uniform(0, span)) for _ in range(upto))
        for item, at in zip(items[:upto], times, strict=True):
            if not finished and rnd.random() < 0.05:
                continue  # skipped one
            card_id = item.card_id
            revision = served[card_id] if card_id in changed and at >= changed_at else 1
            acked = item.must_acknowledge and (finished or rnd.random() < 0.85)
            reads.append({"user_id": uid, "card_id": card_id, "revision_number": revision, "read_at": at,
                          "acknowledged_revision": revision if acked else None,
                          "acknowledged_at": at + timedelta(minutes=1) if acked else None})
            q = question_of.get(card_id)
            if q is not None and (finished or rnd.random() < 0.9):
                first = rnd.random() < 0.7
                right = finished or first or rnd.random() < 0.8
                answers.append({"user_id": uid, "question_id": q.id, "first_correct": first, "correct": right,
                                "choice": q.correct if right else 0, "attempts": 1 if first else 2,
                                "answered_at": at + timedelta(minutes=3)})
        if finished:
            completions.append({"user_id": uid, "path_id": path.id, "completed_at": times[-1] + timedelta(minutes=3)})
    for chunk in range(0, len(reads), 10_000):
        db.session.execute(insert(CardRead), reads[chunk:chunk + 10_000])
    db.session.execute(insert(QuestionAnswer), answers)
    db.session.execute(insert(PathCompletion), completions)
    db.session.commit()

    # One earlier push, through the real function: who had acknowledged that revision is recorded done.
    earlier = pushes.push(card_list[2], [cohort], due_hours=8, actor=lead, now=now - timedelta(days=2),
                          message="Tone: new greeting from Monday")
    db.session.commit()
    done, total = pushes.tally(earlier)
    open_hire = db.session.scalar(select(PushReceipt.user_id).where(
        PushReceipt.push_id == earlier.id, PushReceipt.acknowledged_at.is_(None),
        PushReceipt.user_id.in_(hire_ids)).order_by(PushReceipt.user_id).limit(1))
    hire = db.session.get(User, open_hire)
    summary = (f"{n} hires, {len(items)} cards in {len(path.sections)} sections ({len(must_ack)} to acknowledge, "
               f"{len(qs)} questions), {len(reads):,} reads, {len(answers):,} answers, {len(completions)} finished; "
               f"earlier push acknowledged by {done} of {total}")
    # Cards to push in the timings: the path's must-acknowledge cards, then others (a fresh card each push).
    to_push = [card_list[i].id for i in sorted(must_ack - {2})] + [card_list[i].id for i in (1, 3, 6, 7, 8, 10)]
    return dict(path=path.id, team=cohort.id, lead=lead.id, lead_email=lead.email, hire=hire.id,
                hire_email=hire.email, to_push=to_push, summary=summary)


# --- timing helpers -----------------------------------------------------------------------------------

def login(app, email):
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302, f"login as {email} failed ({response.status_code})"
    return client, token


class GcClock:
    """Time spent in the cyclic garbage collector (cProfile charges it to whichever call allocated last)."""

    def __init__(self):
        self.total, self._start = 0.0, None
        gc.callbacks.append(self._tick)

    def _tick(self, phase, _info):
        if phase == "start":
            self._start = time.perf_counter()
        elif self._start is not None:
            self.total += time.perf_counter() - self._start


GC = GcClock()
LAST_GC = [0.0]  # seconds of garbage collection in the last timed request


def timed_get(client, url):
    """Seconds for one full request (the view, the template, the body); the response is closed after, as a
    WSGI server closes it once sent (work deferred to then is not what the reader waits for)."""
    start, collected = time.perf_counter(), GC.total
    response = client.get(url)
    body = response.get_data()
    elapsed = time.perf_counter() - start
    LAST_GC[0] = GC.total - collected
    response.close()
    if response.status_code != 200:
        raise RuntimeError(f"GET {url}: {response.status_code}")
    return elapsed, len(body)


def profile(label, work, limit=18):
    profiler = cProfile.Profile()
    profiler.enable()
    work()
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("cumulative").print_stats(limit)
    stats.sort_stats("tottime").print_stats(limit)
    print(f"\n--- profile: {label} ---")
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))


def _ms(seconds):
    return f"{seconds * 1000:.1f}" if seconds < 0.01 else f"{seconds * 1000:.0f}"


class Results:
    def __init__(self):
        self.rows = []  # (what, times, target, work for the profiler)

    def add(self, what, times, target=None, work=None, note="", group=None):
        self.rows.append((what, times, target, work, group or what))
        median = statistics.median(times)
        print(f"{what}: median {_ms(median)} ms, max {_ms(max(times))} ms over {len(times)} runs"
              f"{' — ' + note if note else ''}", flush=True)

    def table(self):
        width = max(len(r[0]) for r in self.rows)
        print(f"\n{'what':<{width}}  runs  median ms  max ms  target  result")
        for what, times, target, *_ in self.rows:
            median = statistics.median(times)
            verdict = "—" if target is None else ("ok" if median <= target and max(times) <= target else
                                                  "ok (median)" if median <= target else "over")
            print(f"{what:<{width}}  {len(times):>4}  {_ms(median):>9}  {_ms(max(times)):>6}  "
                  f"{'—' if target is None else f'{target:g} s':>6}  {verdict}")

    def to_profile(self, every=False):
        """Every timing, or the first over its target in each group (the report variants share a cause)."""
        out, seen = [], set()
        for row in self.rows:
            if row[3] is not None and (every or (row[2] is not None and statistics.median(row[1]) > row[2]
                                                 and row[4] not in seen)):
                out.append(row)
                seen.add(row[4])
        return out


# --- the timings --------------------------------------------------------------------------------------

def report_pages(app, folder, ids, runs, results):
    base = f"/onboarding/paths/{ids['path']}/report"
    # Cold: the first report request of a freshly built app (new engine and pool, templates not yet compiled;
    # modules stay imported), after the lead signed in. One fresh app per run.
    cold = []
    for _ in range(runs):
        fresh = create_app(SETTINGS, instance_path=folder)
        client, _token = login(fresh, ids["lead_email"])
        cold.append(timed_get(client, base)[0])
        with fresh.app_context():
            db.engine.dispose()
    results.add("report page, cold (first request of a fresh app)", cold, REPORT_TARGET)

    client, _token = login(app, ids["lead_email"])
    variants = [("report page, warm (sorted by name)", base),
                ("report, sorted by progress (desc)", base + "?sort=progress&dir=desc"),
                ("report, sorted by last activity", base + "?sort=activity"),
                ("report, filter overdue", base + "?status=overdue"),
                ("report, filter updated cards", base + "?status=updated"),
                ("report, search a name", base + "?q=rosa"),
                ("report CSV, whole cohort", base + ".csv"),
                ("report CSV, overdue by due date", base + ".csv?status=overdue&sort=due")]
    timed_get(client, base)  # warm-up
    for label, url in variants:
        times, size, collecting = [], 0, []
        for _ in range(runs):
            elapsed, size = timed_get(client, url)
            times.append(elapsed)
            collecting.append(LAST_GC[0])
        results.add(label, times, REPORT_TARGET, work=lambda url=url: timed_get(client, url),
                    group="report CSV" if ".csv" in url else "report page",
                    note=f"{size / 1000:.0f} kB, garbage collection {statistics.median(collecting) * 1000:.0f} ms")


def push_function(app, ids, runs, results):
    """kb.onboarding.pushes.push to the whole team, with its commit; a fresh card each run."""
    def push_one(card_id, message):
        team, lead = db.session.get(Team, ids["team"]), db.session.get(User, ids["lead"])
        item = pushes.push(db.session.get(Card, card_id), [team], due_hours=8, actor=lead, message=message)
        db.session.commit()
        return item

    times = []
    with app.app_context():
        for run in range(runs):
            card_id = ids["to_push"].pop(0)
            db.session.expire_all()  # nothing from the previous run cached in the session
            start = time.perf_counter()
            item = push_one(card_id, f"Bench push {run + 1}")
            times.append(time.perf_counter() - start)
        done, total = pushes.tally(item)
        db.session.remove()
    spare = ids["to_push"].pop(0)
    results.add("push to the team (pushes.push + commit)", times, PUSH_TARGET,
                work=lambda: _in_context(app, lambda: push_one(spare, "profiled")),
                note=f"{total} receipts, {done} already acknowledged")


def _in_context(app, work):
    with app.app_context():
        work()
        db.session.remove()


def push_form(app, ids, runs, results):
    """The lead's form: POST /onboarding/pushes/new (the redirect's page is not followed)."""
    client, token = login(app, ids["lead_email"])
    times = []
    for run in range(runs):
        if not ids["to_push"]:
            break
        card_id = ids["to_push"].pop(0)
        form = {"card": card_id, "teams": [str(ids["team"])], "due_hours": "8", "message": f"Form push {run + 1}",
                "csrf_token": token}
        start = time.perf_counter()
        response = client.post(f"/onboarding/pushes/new?card={card_id}", data=form)
        elapsed = time.perf_counter() - start
        response.close()
        if response.status_code != 302 or "/onboarding/pushes/" not in response.headers.get("Location", ""):
            raise RuntimeError(f"push form: {response.status_code} {response.headers.get('Location')}")
        times.append(elapsed)
        last = response.headers["Location"]
    results.add("push through the form (POST pushes/new)", times, PUSH_TARGET)
    times = [timed_get(client, last)[0] for _ in range(runs)]
    results.add("pushed item, lead's view (who has not acknowledged)", times)


def hire_pages(app, ids, results, repeats=20):
    client, _token = login(app, ids["hire_email"])
    for label, url in (("hire: My onboarding page", "/onboarding/"), ("hire: home page (with the banner)", "/")):
        timed_get(client, url)
        results.add(label, [timed_get(client, url)[0] for _ in range(repeats)])
    # The banner and the menu's onboarding link run on every page a hire opens: their queries alone.
    from kb.onboarding.views import _has_onboarding

    with app.app_context():
        hire = db.session.get(User, ids["hire"])
        shown = len(pushes.open_for(hire))
        for label, work in (("hire: banner query (open pushes), per page", lambda: pushes.open_for(hire)),
                            ("hire: menu link query (has onboarding), per page", lambda: _has_onboarding(hire))):
            times = []
            for _ in range(repeats):
                db.session.expire_all()
                start = time.perf_counter()
                work()
                times.append(time.perf_counter() - start)
            results.add(label, times, note=f"{shown} open pushes" if "banner" in label else "")
        db.session.remove()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=3_000, help="hires in the cohort")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile every timing, not only one over target")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() after set-up, as a server could after start-up (what-if, not kb's default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({**SETTINGS, "OUTBOX_DIR": folder + "/outbox"}, instance_path=folder)
        with app.app_context():
            upgrade()
            start = time.perf_counter()
            ids = populate(args.n)
            print(f"set-up in {time.perf_counter() - start:.1f} s: {ids['summary']}", flush=True)
            db.session.remove()
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
            print(f"gc.freeze(): {gc.get_freeze_count():,} objects left out of garbage collection", flush=True)
        results = Results()
        report_pages(app, folder, ids, args.runs, results)
        hire_pages(app, ids, results)
        push_function(app, ids, args.runs, results)
        push_form(app, ids, args.runs, results)
        results.table()
        for what, _times, _target, work, _group in results.to_profile(args.profile):
            profile(what, work)
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()

"""kb under load: gunicorn, N synthetic cards, agents searching as they type and experts editing and verifying.

Usage: .venv/bin/python bench/load_bench.py [--cards N] [--agents A] [--experts E] [--seconds S]
                                           [--database sqlite|postgresql://user@host:port/db]
                                           [--workers W] [--threads T] [--think S] [--clients C]
                                           [--timeout S] [--keep DIR] [--warmup S] [--keep-log PATH]
Why (issue 12, "Load"): a support team's busiest weeks. 50 agents search as they type, open a card and copy
its answer; 5 experts edit cards and verify them, for 60 s, against gunicorn with its recommended workers,
on SQLite and on PostgreSQL, 100,000 cards. Targets: no error responses; search p95 <= 150 ms; every
committed edit searchable within 2 s; at the end the index and the database agree (same card ids, same
revision numbers).

Set-up: a temporary instance folder (its config.py is printed); `kb init`; the synthetic cards of
search_bench.py in bulk (`populate`); 50 agents and 5 experts (members of every team, so they can edit and
verify any card), with PASSWORD_HASH_METHOD="pbkdf2:sha256:1000" so sign-in costs the bench's clients and
the server little (production uses scrypt: a real sign-in costs more than the figure printed here);
`kb reindex`; rate limits raised so the bench measures kb, not its limiter. JOBS_ENABLED=False: every
worker brings its index up to the change feed after each commit and before each search
(kb.search.query.searcher), so no feed job is needed.
Agents: each types a query (a request per keystroke that kb.js's 120 ms debounce lets through), opens the
results page and a card, copies the answer, then reads the customer's next message for --think seconds on
average (default 10: a live-chat agent with two or three chats open searches far less often; real rates
are nearer one search in 20-30 s). --think 0 is a stress test (0.5-2 s between searches, every agent typing
almost all the time): it shows where the machine saturates, not a support team's day.
Load: simulated people are threads across a few client processes (so the client's GIL is not what is
measured), each signed in through the real login form. Numbers only, no assertions.
"""
import argparse
import html.parser
import json
import multiprocessing
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from search_bench import TOPICS, pct, populate, typing, workload  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(os.path.abspath(sys.executable))
PASSWORD = "load-bench-password-1"
KINDS = ("login", "suggest", "search page", "card page", "copy", "copied", "edit GET", "edit POST", "verify",
         "search poll")
SEARCH_KINDS = ("suggest", "search page")
SEARCHABLE_WITHIN = 2.0  # seconds, the target
POLL_GIVE_UP = 15.0  # seconds after the POST: an edit not found by then counts as never searchable
POLL_EVERY = 0.1  # seconds between an expert's looks (each a full results page: the polling is load too)


def recommended_workers():
    return 2 * (os.cpu_count() or 1) + 1  # gunicorn's documentation: (2 x $num_cores) + 1


# -- Set-up -----------------------------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_create(server_url):
    """A database of our own on the given server: (its URL, its name)."""
    import psycopg

    name = "kb_load_" + secrets.token_hex(4)
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urllib.parse.urlsplit(server_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name)), name


def pg_drop(server_url, name):
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def write_config(folder, database_url):
    settings = {
        "SECRET_KEY": secrets.token_hex(32),
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",  # speed: see the docstring
        "API_RATE_LIMIT": "1000000 per minute",
        "LOGIN_RATE_LIMIT_ADDRESS": "1000000 per minute",  # added by issue 12's login throttling
        "LOGIN_RATE_LIMIT_ACCOUNT": "1000000 per minute",
        "JOBS_ENABLED": False,
        "OUTBOX_DIR": os.path.join(folder, "outbox"),
    }
    if database_url:
        settings["DATABASE_URL"] = database_url
    text = "".join(f"{k} = {v!r}\n" for k, v in settings.items())
    with open(os.path.join(folder, "config.py"), "w") as f:
        f.write(text)
    return settings


def kb_command(env, *args):
    start = time.perf_counter()
    out = subprocess.run([os.path.join(BIN, "kb"), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"kb {' '.join(args)} failed:\n{out.stdout}{out.stderr}")
    return time.perf_counter() - start, (out.stdout + out.stderr).strip()


def fix_sequences():
    """Rows inserted with explicit ids (populate) leave PostgreSQL's sequences at 1: move them past the ids."""
    from sqlalchemy import text

    from kb.extensions import db

    if db.engine.dialect.name != "postgresql":
        return
    for table in db.metadata.sorted_tables:
        if "id" in table.c and table.c.id.primary_key:
            db.session.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false) "
                f"WHERE pg_get_serial_sequence('{table.name}', 'id') IS NOT NULL"))
    db.session.commit()


def set_up(folder, n, agents, experts):
    """The cards and the people, in-process; returns what the clients need."""
    from sqlalchemy import select

    from kb import create_app
    from kb.accounts import operations as accounts
    from kb.extensions import db
    from kb.models import Card, Collection, Team

    app = create_app(instance_path=folder)
    with app.app_context():
        app.config["SEARCH_SYNC_ON_COMMIT"] = False  # `kb reindex` builds the index afterwards
        start = time.perf_counter()
        populate(n)
        fix_sequences()
        teams = db.session.scalars(select(Team).order_by(Team.id)).all()
        people = []
        for i in range(agents):
            email = f"load-agent{i}@example.com"
            accounts.create_user(email=email, name=f"Load agent {i}", role="agent", password=PASSWORD,
                                 teams=[teams[i % len(teams)]])
            people.append(("agent", email))
        for i in range(experts):
            email = f"load-expert{i}@example.com"
            accounts.create_user(email=email, name=f"Load expert {i}", role="expert", password=PASSWORD,
                                 teams=teams)  # every team: each owns and verifies some collections
            people.append(("expert", email))
        # New members of the teams own no cards, and the synthetic states were written by populate: nothing to
        # re-evaluate. Without this, kb's commit hook re-evaluates every card of the four teams (20 s at
        # 100,000 cards on SQLite) and on PostgreSQL fails: one IN list of 100,000 ids exceeds its 65,535
        # parameters (kb.verification.checker.refresh_touched; reported in issue 12's load note).
        db.session.flush()
        db.session.info.pop("kb.touched", None)
        db.session.commit()
        seconds = time.perf_counter() - start
        collection_ids = list(db.session.scalars(select(Collection.id).order_by(Collection.id)))
        live = list(db.session.scalars(select(Card.id).where(~Card.is_archived)))
        db.session.remove()
        db.engine.dispose()
    return {"people": people, "collection_ids": collection_ids, "live_ids": live, "seconds": seconds}


def queries(collection_ids, count=400):
    """What agents type: keyword and phrase queries of search_bench's workload, without the quotes."""
    work = workload(count, collection_ids)
    texts = [t.replace('"', "") for t, _ in work["keyword"] + work["phrase"]]
    return [t for t in texts if len(t) >= 4]


# -- Serving ----------------------------------------------------------------------------------------

def start_gunicorn(env, port, workers, threads, log_path):
    log = open(log_path, "w")
    cmd = [os.path.join(BIN, "gunicorn"), "-w", str(workers), "--threads", str(threads),
           "-b", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "10",
           "--log-level", "info", "wsgi:app"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    return proc, " ".join(["gunicorn"] + cmd[1:])


def wait_ready(base, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode} before answering")
        try:
            if requests.get(base + "/login", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit(f"/login did not answer within {timeout} s")


def cpu_seconds(pgid):
    """CPU time (user + system) used so far by the processes of a process group: gunicorn's master and workers."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def memory(pgid):
    """[(pid, RSS MB, PSS MB)] of a process group's processes: PSS counts a page shared by n processes (the
    memory-mapped decoded postings, the model's file) as 1/n, so the workers' PSS add up to what they use."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            rollup = dict(line.split(":", 1) for line in open(f"/proc/{pid}/smaps_rollup").read().splitlines()[1:])
        except (OSError, ValueError):
            continue
        out.append((int(pid), int(rollup["Rss"].split()[0]) / 1024, int(rollup["Pss"].split()[0]) / 1024))
    return sorted(out)


def stop_gunicorn(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


# -- Clients ----------------------------------------------------------------------------------------

class FormParser(html.parser.HTMLParser):
    """The fields of the forms on a page, as a browser would submit them: {action or "": [(name, value)]}
    for forms whose class (or action) matches."""

    def __init__(self, want):
        super().__init__(convert_charrefs=True)
        self.want, self.forms, self.current, self.select, self.textarea, self.option = want, [], None, None, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            if self.want(a):
                self.current = {"action": a.get("action") or "", "fields": []}
                self.forms.append(self.current)
            return
        if self.current is None:
            return
        fields = self.current["fields"]
        if tag == "input" and a.get("name"):
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    fields.append([a["name"], a.get("value", "on")])
            elif kind not in ("submit", "button", "file", "image", "reset"):
                fields.append([a["name"], a.get("value", "")])
        elif tag == "select" and a.get("name"):
            self.select = [a["name"], None, None]  # name, first option, selected option
        elif tag == "option" and self.select is not None:
            self.option = a.get("value")
            if self.select[1] is None:
                self.select[1] = self.option
            if "selected" in a:
                self.select[2] = self.option
        elif tag == "textarea" and a.get("name"):
            self.textarea = [a["name"], ""]

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if self.current is None:
            return
        if tag == "select" and self.select is not None:
            name, first, chosen = self.select
            self.current["fields"].append([name, chosen if chosen is not None else (first or "")])
            self.select = None
        elif tag == "textarea" and self.textarea is not None:
            value = self.textarea[1]
            self.current["fields"].append([self.textarea[0], value[1:] if value.startswith("\n") else value])
            self.textarea = None
        elif tag == "form":
            self.current = None


def forms_of(page, want):
    parser = FormParser(want)
    parser.feed(page)
    return parser.forms


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
CARD_LINK = re.compile(r'class="card-title" href="/cards/(\d+)(?:\?sid=([^"&]+))?')


class Client:
    """One simulated person: a requests.Session, every request timed and recorded."""

    def __init__(self, base, role, email, rnd, records, errors):
        self.base, self.role, self.email, self.rnd = base, role, email, rnd
        self.http = requests.Session()
        self.records, self.errors = records, errors

    def call(self, kind, method, path, expect=(200,), **kwargs):
        kwargs.setdefault("allow_redirects", False)
        kwargs.setdefault("timeout", 60)
        start = time.perf_counter()
        try:
            r = self.http.request(method, self.base + path, **kwargs)
            status, body = r.status_code, r.text
        except requests.RequestException as exc:
            status, body, r = 0, repr(exc), None
        end = time.perf_counter()
        self.records.append((kind, status, (end - start) * 1000, time.time()))
        if status not in expect:
            self.errors.append({"kind": kind, "status": status, "path": path, "who": self.email,
                                "body": re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))[:300]})
            return None
        return r

    def login(self):
        page = self.call("login", "GET", "/login")  # counted as a login request too: the form is part of it
        if page is None:
            return False
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
        r = self.call("login", "POST", "/login", expect=(302,),
                      data={"email": self.email, "password": PASSWORD, "csrf_token": token})
        return r is not None

    def pause(self, low, high, end):
        time.sleep(max(0.0, min(self.rnd.uniform(low, high), end - time.time())))


def agent_loop(c, texts, end, think):
    """Search as one types, open a result, copy its answer; then `think` seconds on average (0.5x to 1.5x)
    reading the customer's next message before the next search (0: only 0.5 to 2 s, a stress test)."""
    rnd = c.rnd
    while time.time() < end:
        text = rnd.choice(texts)
        suggested = []
        for prefix in typing([(text, None)], 200):  # successive prefixes from the third character on
            if time.time() >= end:
                return
            if prefix != text and rnd.random() < 0.3:
                continue  # typed within kb.js's 120 ms debounce: no request for this keystroke
            r = c.call("suggest", "GET", "/api/v1/search", params={"q": prefix, "limit": 8, "prefix": 1},
                       headers={"Accept": "application/json"})
            if r is not None:
                suggested = [h["id"] for h in r.json().get("results", [])]
            c.pause(0.12, 0.3, end)
        r = c.call("search page", "GET", "/search", params={"q": text})
        links = CARD_LINK.findall(r.text) if r is not None else []
        if links:
            card_id, sid = links[min(int(rnd.expovariate(0.7)), len(links) - 1)]
        elif suggested:
            card_id, sid = suggested[0], ""
        else:
            c.pause(0.5, 2, end)
            continue
        r = c.call("card page", "GET", f"/cards/{card_id}", params={"sid": sid} if sid else None)
        if r is not None:
            csrf = CSRF_META.search(r.text)
            if c.call("copy", "GET", f"/cards/{card_id}/answer.json", headers={"Accept": "application/json"}) \
                    is not None and csrf:
                c.call("copied", "POST", f"/cards/{card_id}/copied", data={"sid": sid},
                       headers={"X-CSRFToken": csrf.group(1)})
        c.pause(*((0.5 * think, 1.5 * think) if think else (0.5, 2)), end)


def expert_loop(c, live_ids, end, edits, pollers):
    rnd = c.rnd
    while time.time() < end:
        card_id = rnd.choice(live_ids)
        r = c.call("edit GET", "GET", f"/cards/{card_id}/edit")
        if r is None:
            continue
        form = forms_of(r.text, lambda a: "editor" in (a.get("class") or "").split())
        if not form:
            c.errors.append({"kind": "edit GET", "status": r.status_code, "path": f"/cards/{card_id}/edit",
                             "who": c.email, "body": "no <form class=editor> on the page"})
            continue
        fields = form[0]["fields"]
        word = "zq" + "".join(rnd.choice("bcdfghjklmnpqrstvwxz") for _ in range(10))
        for field in fields:
            if field[0] == "answer":
                field[1] = field[1].rstrip() + f"\n\nChecked under load: {word}."
            elif field[0] == "summary":
                field[1] = "Load bench edit"
        c.pause(1, 3, end)  # reading and typing
        r = c.call("edit POST", "POST", f"/cards/{card_id}/edit", expect=(302,), data=fields)
        posted = time.time()
        if r is None:
            continue
        record = {"card": card_id, "word": word, "posted": posted, "found": None}
        edits.append(record)
        poller = threading.Thread(target=poll_searchable, args=(c, record), daemon=True)
        poller.start()
        pollers.append(poller)
        r = c.call("card page", "GET", f"/cards/{card_id}")
        if r is not None:
            verify = forms_of(r.text, lambda a: (a.get("action") or "").endswith(f"/cards/{card_id}/verify"))
            if verify:
                data = [f for f in verify[0]["fields"] if f[0] != "change_kind"] + [["change_kind", "material"]]
                data = [[k, "Checked by the load bench" if k == "note" else v] for k, v in data]
                c.call("verify", "POST", f"/cards/{card_id}/verify", expect=(302,), data=data)
            else:
                c.errors.append({"kind": "verify", "status": r.status_code, "path": f"/cards/{card_id}",
                                 "who": c.email, "body": "no verify form on the card page"})
        c.pause(0.5, 2, end)


def poll_searchable(c, record):
    """The full results page, as an expert would look, until the edited card shows for its new word."""
    session = requests.Session()
    session.cookies.update(c.http.cookies)
    poller = Client(c.base, c.role, c.email, c.rnd, c.records, c.errors)
    poller.http = session
    while time.time() - record["posted"] < POLL_GIVE_UP:
        r = poller.call("search poll", "GET", "/search", params={"q": record["word"]})
        if r is not None and any(int(i) == record["card"] for i, _ in CARD_LINK.findall(r.text)):
            record["found"] = time.time()
            return
        time.sleep(POLL_EVERY)


def client_process(base, people, texts, live_ids, start_at, end, seed, out, think):
    """One client process: a thread per person; its records go back through `out` at the end."""
    records, errors, edits, pollers = [], [], [], []

    def person(role, email, k):
        c = Client(base, role, email, random.Random(seed * 1000 + k), records, errors)
        # Not all in the same millisecond: agents are at different points of their conversations.
        time.sleep(max(0.0, start_at - time.time()) + c.rnd.uniform(0, think if role == "agent" and think else 2))
        if not c.login():
            return
        if role == "agent":
            agent_loop(c, texts, end, think)
        else:
            expert_loop(c, live_ids, end, edits, pollers)

    threads = [threading.Thread(target=person, args=(role, email, k), daemon=True)
               for k, (role, email) in enumerate(people)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, end - time.time() + 90))
    for t in list(pollers):
        t.join(timeout=POLL_GIVE_UP + 5)
    out.put({"records": records, "errors": errors, "edits": edits, "cpu": time.process_time()})


# -- Consistency ------------------------------------------------------------------------------------

def consistency(folder):
    """The live index as it is (not brought up to the feed first) against the database."""
    from sqlalchemy import select

    from kb import create_app
    from kb.extensions import db
    from kb.models import Card, CardState, Revision
    from kb.search import index as si
    from kb.verification import policy

    app = create_app(instance_path=folder)
    with app.app_context():
        name, ix = si.open_index(si.index_dir(), create=False)
        head = si.feed_head()
        waiting = si.status(repair=False)
        with ix.searcher() as s:
            meta = si.read_meta(s)
            docs = {}
            for _, stored in s.reader().iter_docs():
                if str(stored.get("id", "")).isdigit():
                    docs[int(stored["id"])] = stored
        rows = db.session.execute(
            select(Card.id, Card.revision_number, Card.verified_revision_number, Card.is_archived, Card.title,
                   Revision.title, Revision.answer, CardState.status)
            .join(Revision, (Revision.card_id == Card.id) & (Revision.number == Card.revision_number))
            .outerjoin(CardState, CardState.card_id == Card.id)).all()
        # The stored answer text is compared for every card the bench changed (revision beyond the
        # synthetic set's 1 or 2) and a sample of the others: rendering 100,000 answers to text takes minutes.
        rnd = random.Random(3)
        differences, examples, text_checked = 0, [], 0
        db_ids = set()
        for cid, number, verified, archived, title, rev_title, rev_answer, status in rows:
            db_ids.add(cid)
            doc = docs.get(cid)
            if doc is None:
                continue
            problems = []
            if doc.get("served_revision") != verified:
                problems.append(f"served revision index {doc.get('served_revision')} db {verified}")
            if doc.get("title") != rev_title or title != rev_title:
                problems.append("title differs from the current revision's")
            want_status = policy.ARCHIVED if archived else status
            if want_status is not None and doc.get("status") != want_status:
                problems.append(f"status index {doc.get('status')} db {want_status}")
            if number > 2 or rnd.random() < 0.02:
                text_checked += 1
                if doc.get("plain") != si.plain(rev_answer):
                    problems.append(f"answer text differs from revision {number}'s")
            if problems:
                differences += 1
                if len(examples) < 10:
                    examples.append(f"card {cid}: " + "; ".join(problems))
        missing, extra = db_ids - set(docs), set(docs) - db_ids
        differences += len(missing) + len(extra)
        examples += [f"card {i}: in the database, not in the index" for i in sorted(missing)[:5]]
        examples += [f"card {i}: in the index, not in the database" for i in sorted(extra)[:5]]
        db.session.remove()
        db.engine.dispose()
    return {"differences": differences, "examples": examples, "cards_db": len(db_ids), "cards_index": len(docs),
            "watermark": meta.get("watermark"), "feed_head": head, "text_checked": text_checked,
            "lag": waiting["lag"], "usage_waiting": waiting["usage_waiting"],
            "generation": name}


# -- Report -----------------------------------------------------------------------------------------

def report(records, errors, edits, seconds):
    print(f"\n{'request':<12} {'count':>7} {'errors':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"
          f"   target")
    by_kind = {k: [] for k in KINDS}
    for kind, status, ms, _ in records:
        by_kind.setdefault(kind, []).append(ms)
    errs = {}
    for e in errors:
        errs[e["kind"]] = errs.get(e["kind"], 0) + 1
    summary = {}
    for kind in KINDS:
        times = by_kind.get(kind) or []
        if not times:
            continue
        p = pct(times)
        target = ""
        if kind in SEARCH_KINDS:
            target = f"p95 <= 150 ms: {'yes' if p[1] <= 150 else 'NO'}"
        summary[kind] = p
        print(f"{kind:<12} {len(times):>7} {errs.get(kind, 0):>6} {len(times) / seconds:>7.1f} {p[0]:>8.1f} "
              f"{p[1]:>8.1f} {p[2]:>8.1f}   {target}")
    total = len(records)
    print(f"{'all':<12} {total:>7} {len(errors):>6} {total / seconds:>7.1f}   (over {seconds:.1f} s of load; "
          f"'search poll' is the experts' edit-to-searchable polling)")
    print(f"error responses (status >= 500 or unexpected): {len(errors)}; target none: "
          f"{'yes' if not errors else 'NO'}")
    for e in errors[:25]:
        print(f"  {e['kind']}: {e['status']} {e['path']} ({e['who']}): {e['body'][:200]}")
    if len(errors) > 25:
        print(f"  … and {len(errors) - 25} more")

    delays = [(e["found"] - e["posted"]) * 1000 for e in edits if e["found"] is not None]
    never = [e for e in edits if e["found"] is None]
    late = [d for d in delays if d > SEARCHABLE_WITHIN * 1000] + [float("inf")] * len(never)
    if edits:
        p = pct(delays) if delays else (float("nan"),) * 3
        print(f"\nedit → searchable ({len(edits)} committed edits, from the POST's response to the first "
              f"/search?q=<new word> showing the card): p50 {p[0]:.0f} ms, p95 {p[1]:.0f} ms, max "
              f"{max(delays, default=float('nan')):.0f} ms; over 2 s: {len(late)} (never within "
              f"{POLL_GIVE_UP:.0f} s: {len(never)}); target every edit within 2 s: {'yes' if not late else 'NO'}")
    else:
        print("\nedit → searchable: no committed edits")
    return summary, late


def notable_log_lines(path, limit=30):
    """What gunicorn and kb logged that is not routine: errors, tracebacks, timeouts, busy index locks."""
    pattern = re.compile(r"error|exception|traceback|timeout|critical|warning|busy|locked|deadlock|"
                         r"operationalerror|worker.*(exit|kill|boot)", re.I)
    try:
        lines = open(path, errors="replace").read().splitlines()
    except OSError:
        return 0, [], 0
    routine = ("Booting worker", "Worker exiting")  # start and the orderly stop at the end
    picked = [ln for ln in lines if pattern.search(ln) and not any(r in ln for r in routine)]
    return len(picked), picked[:limit], len(lines)


# -- Main -------------------------------------------------------------------------------------------

class HardTimeout(Exception):
    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--experts", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--database", default="sqlite", help="sqlite, or a PostgreSQL server URL (a database "
                                                              "of its own is created there and dropped after)")
    parser.add_argument("--workers", type=int, default=recommended_workers(),
                        help="gunicorn workers (default: gunicorn's (2 x cores) + 1)")
    parser.add_argument("--threads", type=int, default=1, help="gunicorn threads per worker (gunicorn's default 1)")
    parser.add_argument("--think", type=float, default=10.0,
                        help="an agent's mean seconds between one search's copy and the next search (reading "
                             "the customer's next message); 0 for a stress test with 0.5 to 2 s")
    parser.add_argument("--clients", type=int, default=4, help="client processes the simulated people share")
    parser.add_argument("--timeout", type=float, default=3600, help="hard limit for the whole run (s)")
    parser.add_argument("--keep-log", metavar="PATH", help="copy gunicorn's log here")
    parser.add_argument("--warmup", type=float, default=0, metavar="S",
                        help="run the same load for S seconds first, not measured (error responses are reported)")
    parser.add_argument("--keep", metavar="DIR", help="SQLite only: build the instance (cards, people, index) "
                                                      "once into DIR and run each time on a fresh copy of it")
    args = parser.parse_args()
    if args.keep and args.database != "sqlite":
        parser.error("--keep is for SQLite (a PostgreSQL run creates its database each time)")

    def expired(signum, frame):
        raise HardTimeout(f"hard timeout of {args.timeout:.0f} s reached")

    signal.signal(signal.SIGALRM, expired)
    signal.alarm(int(args.timeout))
    def terminated(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminated)
    folder = tempfile.mkdtemp(prefix="kb-load-")
    pg_name, proc, children = None, None, []
    started = time.perf_counter()
    try:
        url = None
        if args.database != "sqlite":
            url, pg_name = pg_create(args.database)
        env = dict(os.environ, KB_INSTANCE_PATH=folder)
        kept = args.keep and os.path.exists(os.path.join(args.keep, "setup.json"))
        if kept:
            shutil.copytree(args.keep, folder, dirs_exist_ok=True)
            settings = {}
        else:
            settings = write_config(folder, url)
        try:
            commit = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                                    cwd=ROOT).stdout.strip()
        except OSError:
            commit = "?"
        shown = {k: ("…" if k == "SECRET_KEY" else v) for k, v in settings.items()}
        print(f"kb commit {commit}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
        print(f"instance config: {shown}")
        print(f"database: {'SQLite in the instance folder' if url is None else 'PostgreSQL, database ' + pg_name}")
        if kept:
            setup = json.load(open(os.path.join(folder, "setup.json")))
            agents = [p for p in setup["people"] if p[0] == "agent"][:args.agents]
            experts = [p for p in setup["people"] if p[0] == "expert"][:args.experts]
            setup["people"] = agents + experts
            print(f"set-up: a copy of {args.keep} ({len(setup['live_ids'])} live cards, --cards as when it was "
                  f"built; {len(agents)} agents and {len(experts)} experts of those it has)", flush=True)
        else:
            seconds, out = kb_command(env, "init")
            print(f"set-up: kb init in {seconds:.1f} s ({out.splitlines()[-1] if out else ''})", flush=True)
            setup = set_up(folder, args.cards, args.agents, args.experts)
            print(f"set-up: {args.cards} cards ({len(TOPICS)} collections) and {args.agents} agents + "
                  f"{args.experts} experts in {setup['seconds']:.1f} s", flush=True)
            seconds, out = kb_command(env, "reindex", "--procs", "2")
            print(f"set-up: kb reindex in {seconds:.1f} s ({out.splitlines()[-1] if out else ''})", flush=True)
            if args.keep:
                shutil.copytree(folder, args.keep, dirs_exist_ok=True)
                with open(os.path.join(args.keep, "setup.json"), "w") as f:
                    json.dump(setup, f)
        texts = queries(setup["collection_ids"])

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log_path = os.path.join(folder, "gunicorn.log")
        proc, shown_cmd = start_gunicorn(env, port, args.workers, args.threads, log_path)
        wait_ready(base, proc)
        print(f"serving: {shown_cmd} (ready)", flush=True)

        baseline = Client(base, "agent", setup["people"][0][1], random.Random(2), [], [])
        if baseline.login():  # one person alone first: what a request costs on this machine without the load
            for prefix in typing([(t, None) for t in texts[:10]], 40):
                baseline.call("suggest", "GET", "/api/v1/search", params={"q": prefix, "limit": 8, "prefix": 1})
            p = pct([ms for kind, _, ms, _ in baseline.records if kind == "suggest"])
            print(f"one agent alone, {len(baseline.records) - 2} suggest requests in a row (workers warming up): "
                  f"p50 {p[0]:.1f} ms, p95 {p[1]:.1f} ms; errors {len(baseline.errors)}", flush=True)

        people = setup["people"]
        rnd = random.Random(1)
        rnd.shuffle(people)
        groups = [people[i::args.clients] for i in range(args.clients) if people[i::args.clients]]
        ctx = multiprocessing.get_context("fork")

        def load(seconds, seed):
            """The simulated people for `seconds`: (records, errors, edits, server CPU seconds, clients' CPU)."""
            queue, children[:] = ctx.Queue(), []
            start_at = time.time() + 1.0
            end = start_at + seconds
            for k, group in enumerate(groups):
                child = ctx.Process(target=client_process, daemon=True,
                                    args=(base, group, texts, setup["live_ids"], start_at, end, seed + k, queue,
                                          args.think))
                child.start()
                children.append(child)
            cpu = cpu_seconds(proc.pid)
            results = [queue.get(timeout=seconds + 180) for _ in children]
            cpu = cpu_seconds(proc.pid) - cpu
            for child in children:
                child.join(timeout=10)
            return ([r for res in results for r in res["records"]], [e for res in results for e in res["errors"]],
                    [e for res in results for e in res["edits"]], cpu, sum(res["cpu"] for res in results))

        if args.warmup:
            print(f"warm-up: the same load for {args.warmup:.0f} s, not measured (a host that has been serving: "
                  f"its workers' caches and the decoded postings on disk are warm) …", flush=True)
            w_records, w_errors, w_edits, w_cpu, _ = load(args.warmup, 101)
            print(f"warm-up: {len(w_records)} requests, {len(w_errors)} error responses, {len(w_edits)} edits, "
                  f"gunicorn CPU {w_cpu:.1f} s", flush=True)
            for e in w_errors[:10]:
                print(f"  {e['kind']}: {e['status']} {e['path']} ({e['who']}): {e['body'][:200]}")
        print(f"load: {args.agents} agents (thinking {args.think:g} s on average between searches) and "
              f"{args.experts} experts in {len(groups)} client processes for {args.seconds:.0f} s …", flush=True)
        records, errors, edits, server_cpu, client_cpu = load(args.seconds, 1)
        load_seconds = args.seconds
        report(records, errors, edits, load_seconds)
        print(f"CPU used during the load: gunicorn {server_cpu:.1f} s, the bench's clients "
              f"{client_cpu:.1f} s, of {os.cpu_count() * load_seconds:.0f} core-seconds "
              f"(the rest went to the database and other processes); load average at the end "
              f"{os.getloadavg()[0]:.1f}")

        held = memory(proc.pid)
        print("memory per process (master first): " + ", ".join(f"{rss:.0f} MB RSS / {pss:.0f} MB PSS"
                                                              for _, rss, pss in held)
              + f"; PSS in all {sum(p for _, _, p in held):.0f} MB")
        stop_gunicorn(proc)
        count, lines, total = notable_log_lines(log_path)
        print(f"\ngunicorn/kb log: {total} lines, {count} notable (errors, timeouts, lock waits)")
        for line in lines:
            print("  " + line[:300])
        if args.keep_log:
            shutil.copy(log_path, args.keep_log)

        c = consistency(folder)
        print(f"\nconsistency: index {c['generation']} holds {c['cards_index']} cards, database {c['cards_db']}; "
              f"index watermark {c['watermark']}, change feed head {c['feed_head']} (content changes not applied: "
              f"{c['lag']}; usage-level rows waiting for the index-feed job, on purpose: {c['usage_waiting']}); "
              f"answer text compared for "
              f"{c['text_checked']} cards (every edited one and a 2% sample)")
        print(f"index and database agree: {'yes' if not c['differences'] else 'no'} ({c['differences']} differences)")
        for line in c["examples"]:
            print("  " + line)
    except HardTimeout as exc:
        print(f"\nstopped: {exc}", flush=True)
    finally:
        signal.alarm(0)
        for child in children:
            if child.is_alive():
                child.terminate()
                child.join(timeout=5)
        stop_gunicorn(proc)
        shutil.rmtree(folder, ignore_errors=True)
        if pg_name:
            try:
                pg_drop(args.database, pg_name)
            except Exception as exc:  # noqa: BLE001 — say so; the run's figures stand
                print(f"could not drop database {pg_name}: {exc}")
        print(f"total run time {time.perf_counter() - started:.0f} s; temporary files removed"
              + (f", database {pg_name} dropped" if pg_name else ""))


if __name__ == "__main__":
    main()

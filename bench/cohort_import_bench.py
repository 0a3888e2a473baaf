"""Import a cohort of N generated hires (default 3,000) through the code `kb users import` runs, and print times.

Usage: .venv/bin/python bench/cohort_import_bench.py [N] [--runs R]
Prints the median of R fresh imports (all new accounts), of R re-imports of the same file (every account
exists: all updates), and of R runs of the command itself (`kb users import … --links-out`, in-process).
Target (issue 11): 3,000 hires in at most 30 s.
"""
import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date

from flask_migrate import upgrade

from kb import create_app
from kb.accounts import cohort
from kb.accounts import operations as accounts
from kb.extensions import db

FIRST = "Ana Ben Chloé Dan Émile Farah Greta Hugo Ines Jonas Kai Lea Mateo Nora Oskar Pia Quentin Rosa Sven Tea".split()
LAST = "Müller Popescu García Kowalski Rossi Novak Dubois Jansen Silva Horvat Nielsen Ivanova".split()


def cohort_csv(n, seed=11):
    """A spreadsheet export: BOM, semicolons, CRLF, addresses in mixed case, a few lines with their own role."""
    rnd = random.Random(seed)
    lines = ["\ufeffEmail;Name;Role;Expires"]
    for i in range(n):
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        address = f"{first}.{last}.{i}@Example.com"
        address = address.upper() if i % 7 == 0 else address if i % 2 else address.lower()
        role = "expert" if i % 50 == 0 else ""
        lines.append(f"{address};{first} {last};{role};")
    return ("\r\n".join(lines) + "\r\n").encode()


def fresh_app(folder):
    app = create_app({"SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}, instance_path=folder)
    with app.app_context():
        upgrade()
        accounts.create_team(name="Q4 2026 seasonal")
        db.session.commit()
    return app


def import_once(app, data, expires_on):
    """Parse, apply, commit and keep the links (as the page does without mail): seconds and result."""
    with app.app_context():
        team = accounts.find_team("Q4 2026 seasonal")
        start = time.perf_counter()
        rows = cohort.parse(data)
        result = cohort.apply(rows, team, expires_on, "agent", None)
        db.session.commit()
        cohort.hand_out(result)
        return time.perf_counter() - start, result.summary()


def command_once(app, path, out):
    runner = app.test_cli_runner()
    start = time.perf_counter()
    result = runner.invoke(args=["users", "import", path, "--team", "Q4 2026 seasonal", "--expires", "2099-01-15",
                                 "--links-out", out])
    elapsed = time.perf_counter() - start
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return elapsed, result.output.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=3_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    data = cohort_csv(args.n)
    print(f"{args.n} hires, {len(data) / 1e3:.0f} kB of CSV, {args.runs} runs each", flush=True)
    fresh, again, command = [], [], []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as folder:
            app = fresh_app(folder)
            seconds, summary = import_once(app, data, date(2099, 1, 15))
            fresh.append(seconds)
            print(f"run {run + 1}: new cohort {seconds:.2f} s ({summary})", flush=True)
            seconds, summary = import_once(app, data, date(2099, 1, 31))  # the season is extended: all updates
            again.append(seconds)
            print(f"run {run + 1}: re-import  {seconds:.2f} s ({summary})", flush=True)
            with app.app_context():
                db.engine.dispose()
        with tempfile.TemporaryDirectory() as folder:
            app = fresh_app(folder)
            path = os.path.join(folder, "cohort.csv")
            with open(path, "wb") as fh:
                fh.write(data)
            seconds, output = command_once(app, path, os.path.join(folder, "links.csv"))
            command.append(seconds)
            print(f"run {run + 1}: command    {seconds:.2f} s ({output})", flush=True)
            with app.app_context():
                db.engine.dispose()
    print(f"median of {args.runs}: new cohort {statistics.median(fresh):.2f} s, re-import (all updates) "
          f"{statistics.median(again):.2f} s, `kb users import` {statistics.median(command):.2f} s "
          f"for {args.n} hires (target: 30 s)")


if __name__ == "__main__":
    sys.exit(main())

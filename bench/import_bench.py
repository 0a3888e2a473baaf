"""Import N synthetic cards (default 10,000) through `kb import` code and print the time.

Usage: .venv/bin/python bench/import_bench.py [N] [--runs R]
Target (issue 2): 10,000 cards in under 30 s on the reference machine.
"""
import argparse
import json
import random
import statistics
import sys
import tempfile
import time

from flask_migrate import upgrade

from kb import create_app
from kb.accounts import operations as accounts
from kb.cards import transfer
from kb.extensions import db

WORDS = ("order refund parcel courier return exchange voucher invoice payment card delivery address holiday "
         "cut-off express standard warehouse label size colour gift receipt discount code account password "
         "cancel shipment tracking customs duty carrier store credit promotion damaged missing late").split()


def synthetic_lines(n, seed=7):
    rnd = random.Random(seed)
    for i in range(n):
        title = " ".join(rnd.choice(WORDS) for _ in range(7)).capitalize() + f" #{i}?"
        answer = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(150, 300)))
        row = {"external_id": f"bench-{i}", "title": title, "answer": answer, "internal_notes": "Escalate to tier 2.",
               "tags": rnd.sample(WORDS, 3), "collection": f"Collection {i % 12}", "public": i % 3 == 0,
               "owner_email": "owner@example.com", "verifier_team": "Experts", "verify_interval_days": 90}
        if i % 2:
            row.update(verified_at="2026-10-01T09:00:00Z", verified_by_email="owner@example.com")
        yield json.dumps(row)


def run_once(lines):
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}, instance_path=folder)
        with app.app_context():
            upgrade()
            team = accounts.create_team(name="Experts")
            accounts.create_user(email="owner@example.com", name="Owner", role="expert", password="long-enough-1",
                                 teams=[team])
            db.session.commit()
            start = time.perf_counter()
            report = transfer.import_lines(lines)
            elapsed = time.perf_counter() - start
            db.engine.dispose()
    return elapsed, report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lines = list(synthetic_lines(args.n))
    size_mb = sum(len(x) for x in lines) / 1e6
    times = []
    for run in range(args.runs):
        elapsed, report = run_once(lines)
        times.append(elapsed)
        print(f"run {run + 1}: {args.n} cards ({size_mb:.1f} MB) imported in {elapsed:.2f} s "
              f"({args.n / elapsed:,.0f} cards/s) — {report.summary()}", flush=True)
    print(f"median of {args.runs}: {statistics.median(times):.2f} s for {args.n} cards")


if __name__ == "__main__":
    sys.exit(main())

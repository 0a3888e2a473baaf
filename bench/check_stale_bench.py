"""Time `kb check-stale` on N synthetic cards (default 100,000).

Usage: .venv/bin/python bench/check_stale_bench.py [N] [--runs R]
Cards are inserted in bulk (not through the importer, to keep set-up short) with a realistic mix:
verified at various ages, edited since verification, never verified, flagged, links, an inactive owner.
Target (issue 3): 100,000 cards checked in under 10 s on the reference machine.
Prints the first run (stores 100,000 states), then R runs that find few changes, each with notifications,
then the pages that read status live (the queue, the dashboard, a list).
"""
import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta

from flask_migrate import upgrade
from sqlalchemy import insert

from kb import create_app
from kb.accounts import operations as accounts
from kb.cards import operations
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, CardLink, Flag, Revision
from kb.verification import checker


def populate(n, seed=3):
    rnd = random.Random(seed)
    now = utcnow()
    teams = [accounts.create_team(name=f"Team {i}") for i in range(8)]
    users = [accounts.create_user(email=f"expert{i}@example.com", name=f"Expert {i}", role="expert",
                                  password="long-enough-1", teams=[teams[i % 8]]) for i in range(40)]
    users[0].active = False
    collections = [operations.create_collection(name=f"Collection {i}", team=teams[i % 8]) for i in range(20)]
    db.session.flush()
    cards, revisions = [], []
    for i in range(1, n + 1):
        interval = rnd.choice((7, 30, 90, 180, 365))
        verified = rnd.random() < 0.9
        age = rnd.uniform(0, interval * 1.3)
        revision = 2 if rnd.random() < 0.05 else 1
        owner = rnd.choice(users)
        cards.append({"id": i, "external_id": f"bench-{i}", "link_key": f"bench-{i}",
                      "collection_id": collections[i % 20].id,
                      "owner_id": owner.id, "verifier_team_id": teams[i % 8].id, "interval_days": interval,
                      "is_public": False, "is_archived": rnd.random() < 0.02, "title": f"Synthetic policy card {i}",
                      "answer": "An answer.", "internal_notes": "", "revision_number": revision,
                      "verified_revision_number": 1 if verified else None,
                      "verified_at": now - timedelta(days=age) if verified else None,
                      "verified_revision_at": now - timedelta(days=age) if verified else None,
                      "verified_by_id": owner.id if verified else None,
                      "created_at": now - timedelta(days=400), "updated_at": now - timedelta(days=1)})
        revisions.append({"card_id": i, "number": 1, "title": "t", "answer": "a", "internal_notes": "",
                          "tags_json": "[]", "summary": "", "author_id": owner.id,
                          "created_at": now - timedelta(days=400)})
    for chunk in range(0, n, 5000):
        db.session.execute(insert(Card), cards[chunk:chunk + 5000])
        db.session.execute(insert(Revision), revisions[chunk:chunk + 5000])
    links = {(rnd.randint(1, n), rnd.randint(1, n)) for _ in range(n // 10)}
    db.session.execute(insert(CardLink), [{"card_id": a, "target_id": b} for a, b in links if a != b])
    db.session.execute(insert(Flag), [{"card_id": rnd.randint(1, n), "user_id": users[1].id, "kind": "outdated",
                                       "comment": "", "state": "open", "created_at": now, "close_note": ""}
                                      for _ in range(n // 200)])
    db.session.info.pop("kb.touched", None)  # measure the checker, not the commit-time refresh
    db.session.commit()


def pages(args):
    """The pages that decide status live through the one status function: the queue of one team, the trust
    dashboard's figures, a list of 50 cards."""
    from sqlalchemy import select

    from kb.models import Team
    from kb.verification import dashboard
    from kb.verification.status import statuses

    now = utcnow()
    team_ids = [db.session.scalars(select(Team.id).order_by(Team.id)).first()]
    for label, work in (("queue of one team", lambda: dashboard.queue(team_ids, now)),
                        ("dashboard figures", lambda: dashboard.current_figures(now)),
                        ("status of 50 listed cards", lambda: statuses(range(1, 51), now))):
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            result = work()
            times.append(time.perf_counter() - start)
        size = len(result) if hasattr(result, "__len__") else ""
        print(f"{label}: median {statistics.median(times) * 1000:.0f} ms over {args.runs} runs ({size} items)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
                          "OUTBOX_DIR": folder + "/outbox"}, instance_path=folder)
        with app.app_context():
            upgrade()
            start = time.perf_counter()
            populate(args.n)
            print(f"set-up: {args.n} cards inserted in {time.perf_counter() - start:.1f} s", flush=True)
            times = []
            for run in range(args.runs + 1):
                start = time.perf_counter()
                report = checker.run_check(send_notifications=True)
                checker.report_rows(report)
                db.session.commit()
                elapsed = time.perf_counter() - start
                label = "first run (stores every state)" if run == 0 else f"run {run}"
                print(f"{label}: {args.n} cards checked in {elapsed:.2f} s — {dict(report.counts)}, "
                      f"{report.changed} changes stored, {report.notified} notifications", flush=True)
                if run:
                    times.append(elapsed)
            print(f"median of {args.runs} repeat runs: {statistics.median(times):.2f} s for {args.n} cards")
            pages(args)
            db.engine.dispose()


if __name__ == "__main__":
    main()

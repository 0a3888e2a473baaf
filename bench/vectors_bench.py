"""The semantic layer at scale (issue 13): embedding N cards in the background, the vectors' size, and
hybrid search latency warm and right after a restart, in one process.

Usage: .venv/bin/python bench/vectors_bench.py INSTANCE [--queries N] [--embed-only] [--search-only]
INSTANCE: a kb instance folder holding cards (e.g. the one `bench/load_bench.py --cards 100000 --keep DIR`
keeps; its config.py is read). Steps:
  1. `kb reindex`'s rebuild records every card's wordings; the backfill embeds what waits as a web worker
     does it (SEARCH_EMBED_THREADS: every core, niced), printing progress and cards/s; skipped with --search-only.
  2. The vector file's size, and the in-memory matrix's bytes (uint8 rows + scales + per-card slots).
  3. In a fresh process: the first hybrid search after start (model, matrix and index opened by it), then
     --queries searches with highlights as agents type them (search_bench.py's query mix), p50/p95/max,
     hybrid and lexical alike; and the worker's resident memory.
Numbers only, no assertions. Medians over several runs belong in the note, not one run's.
"""
import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))


def make_app(instance):
    from kb import create_app

    return create_app({}, instance_path=instance)


def embed(instance):
    from kb.search import vectors

    app = make_app(instance)
    with app.app_context():
        from kb.search import index as search_index

        started = time.perf_counter()
        search_index.reindex()  # `kb reindex`: records every card's wordings from the same loads
        print(f"kb reindex (index + wordings recorded) in {time.perf_counter() - started:.1f} s: {vectors.status()}")
        started, last = time.perf_counter(), 0
        vectors.start_backfill()
        while vectors._backfill["thread"] is not None and vectors._backfill["thread"].is_alive():
            time.sleep(30)
            info = vectors.status()
            rate = (info["vectors"] - last) / 30
            last = info["vectors"]
            print(f"  {time.perf_counter() - started:6.0f} s: {info['vectors']} vectors, {info['waiting']} waiting "
                  f"({rate:.0f}/s)", flush=True)
        info = vectors.status()
        print(f"embedded: {info['vectors']} vectors for {info['cards']} cards in {time.perf_counter() - started:.0f} s")


def sizes(instance):
    from kb.search import vectors

    app = make_app(instance)
    with app.app_context():
        path = os.path.join(app.config["VECTORS_DIR"], vectors.FILE)
        m = vectors.matrix()
        matrix = m.rows.nbytes + m.scales.nbytes + m.at.nbytes + m.ids.nbytes
        print(f"vector file {os.path.getsize(path) / 2**20:.1f} MB; in memory {matrix / 2**20:.1f} MB "
              f"({len(m.scales)} wordings, {len(m.ids)} cards)")


def search(instance, n):
    import numpy as np
    import search_bench
    from sqlalchemy import select

    from kb.extensions import db
    from kb.models import Collection
    from kb.search import query

    app = make_app(instance)
    with app.app_context():
        ids = db.session.scalars(select(Collection.id)).all()
        work = search_bench.workload(max(1, n // 4), ids)  # keyword, phrase, typo, filtered: search_bench's mix
        items = [item for kind in work.values() for item in kind]
        started = time.perf_counter()
        query.search(items[0][0])
        first = (time.perf_counter() - started) * 1000
        print(f"first search after start (opens index, model, vectors): {first:.0f} ms")
        for label, model in (("hybrid", app.config["SEARCH_EMBEDDING_MODEL"]), ("lexical", None)):
            app.config["SEARCH_EMBEDDING_MODEL"] = model
            times = []
            for text, filters in items:
                query._cache.clear()
                t = time.perf_counter()
                query.search(text, filters, limit=10)
                times.append(time.perf_counter() - t)
            ms = np.array(times) * 1000
            print(f"{label:8s} {len(ms)} searches with highlights: p50 {np.median(ms):.1f} ms, "
                  f"p95 {np.percentile(ms, 95):.1f} ms, max {ms.max():.1f} ms")
    print(f"resident memory (max): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("instance")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--embed-only", action="store_true")
    parser.add_argument("--search-only", action="store_true")
    parser.add_argument("--step", choices=("search",), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "search":
        search(args.instance, args.queries)
        return
    if not args.search_only:
        embed(args.instance)
    if args.embed_only:
        return
    sizes(args.instance)
    subprocess.run([sys.executable, __file__, args.instance, "--queries", str(args.queries), "--step", "search"],
                   check=True)


if __name__ == "__main__":
    main()

"""Relevance of search over the demo data: recall@3 and MRR on the queries in tests/relevance/queries.json.

Usage: .venv/bin/python bench/relevance.py [--json] [--verbose]

Builds a throwaway demo instance (migrated, `kb seed-demo` data, index built on commit), runs every query
through the same search the web pages use (with the synonym table), and prints per kind and overall:
  recall@3: fraction of queries with an expected card among the first 3 hits;
  MRR:      mean of 1/rank of the first expected card within the first 10 hits (0 when absent).
Then it lists the queries that missed the top 3, with what came first instead (--verbose: every query).

tests/test_relevance.py imports `seed_demo` and `evaluate` from here and asserts a floor on both numbers.
"""
import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

QUERIES_FILE = Path(__file__).resolve().parent.parent / "tests" / "relevance" / "queries.json"
KINDS = ("keyword", "paraphrase", "typo", "multi", "other")
TOP = 3     # recall@TOP
DEPTH = 10  # reciprocal rank counted within the first DEPTH hits


def load_queries(path=QUERIES_FILE):
    """The relevance set: [{"query", "kind", "expected": [card external ids]}, …]."""
    return json.loads(Path(path).read_text(encoding="utf-8"))["queries"]


def seed_demo(app):
    """Load the demo knowledge base into a migrated app; the commit builds the search index, and the
    vectors are all embedded before this returns (a rebuild's many are embedded in the background)."""
    from kb import demo
    from kb.extensions import db
    from kb.search import vectors

    with app.app_context():
        demo.seed()
        db.session.commit()
        vectors.sync()
        vectors.wait_for_backfill()


def _summary(rows):
    n = len(rows)
    return {"n": n,
            f"recall@{TOP}": round(sum(r["rank"] is not None and r["rank"] <= TOP for r in rows) / n, 4) if n else 0.0,
            "mrr": round(sum(1 / r["rank"] if r["rank"] else 0.0 for r in rows) / n, 4) if n else 0.0}


def evaluate(app, queries=None):
    """Run the set against `app` (already seeded) and return overall and per-kind recall@3 and MRR,
    one row per query (rank of the first expected card or None, the titles returned) and the failures."""
    from sqlalchemy import select

    from kb.extensions import db
    from kb.models import Card
    from kb.search import query, synonyms

    queries = load_queries() if queries is None else queries
    with app.app_context():
        keys = dict(db.session.execute(select(Card.id, Card.external_id)).all())
        table = synonyms.table()
        missing = sorted({e for q in queries for e in q["expected"]} - set(keys.values()))
        if missing:
            raise ValueError(f"expected cards not in the knowledge base: {', '.join(missing)}")
        rows = []
        for q in queries:
            results = query.search(q["query"], limit=DEPTH, synonyms=table)
            ranked = [keys.get(hit.id) for hit in results.hits]
            rank = next((i for i, key in enumerate(ranked, 1) if key in q["expected"]), None)
            rows.append({**q, "rank": rank, "returned": ranked, "titles": [hit.title for hit in results.hits],
                         "mode": results.mode, "did_you_mean": results.did_you_mean})
    by_kind = {kind: _summary([r for r in rows if r["kind"] == kind]) for kind in KINDS}
    by_kind.update({kind: _summary([r for r in rows if r["kind"] == kind])
                    for kind in sorted({r["kind"] for r in rows} - set(KINDS))})
    return {"overall": _summary(rows), "by_kind": by_kind, "queries": rows,
            "failures": [r for r in rows if r["rank"] is None or r["rank"] > TOP]}


def describe(row):
    """One query's outcome on one line, then the top 3 titles."""
    rank = f"rank {row['rank']}" if row["rank"] else f"not in top {DEPTH}"
    extra = f", did you mean: {row['did_you_mean']}" if row["did_you_mean"] else ""
    extra += ", OR fallback" if row["mode"] == "any" else ""
    lines = [f"  [{row['kind']}] {row['query']!r}: expected {' or '.join(row['expected'])}, {rank}{extra}"]
    shown = zip(row["titles"][:TOP], row["returned"])
    lines += [f"      {i}. {title} ({key})" for i, (title, key) in enumerate(shown, 1)]
    if not row["titles"]:
        lines.append("      (no results)")
    return lines


def format_report(report, verbose=False):
    lines = [f"{'kind':<12}{'n':>4}{f'recall@{TOP}':>12}{'MRR':>8}"]
    for kind, s in [*report["by_kind"].items(), ("overall", report["overall"])]:
        lines.append(f"{kind:<12}{s['n']:>4}{s[f'recall@{TOP}']:>12.3f}{s['mrr']:>8.3f}")
    shown = report["queries"] if verbose else report["failures"]
    lines.append("")
    lines.append(("All queries:" if verbose else f"Not in the top {TOP} ({len(report['failures'])}):")
                 if shown else f"Every query has an expected card in the top {TOP}.")
    for row in shown:
        lines.extend(describe(row))
    return "\n".join(lines)


def kind_counts(queries):
    return Counter(q["kind"] for q in queries)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--verbose", action="store_true", help="list every query, not only the failures")
    args = parser.parse_args(argv)

    from flask_migrate import upgrade

    from kb import create_app
    from kb.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"TESTING": True, "SECRET_KEY": "relevance-bench", "SESSION_COOKIE_SECURE": False,
                          "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}, instance_path=folder)
        with app.app_context():
            upgrade()
        seed_demo(app)
        report = evaluate(app)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report, verbose=args.verbose))
    return 0


if __name__ == "__main__":
    sys.exit(main())

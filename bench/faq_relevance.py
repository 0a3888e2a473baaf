"""Agents' search on a real FAQ nobody here wrote: recall@5 and MRR over the Python FAQ query sets, against
plain Whoosh BM25F on the same cards.

Usage: .venv/bin/python bench/faq_relevance.py [--set python|support] [--json]

Sets: python (default): cards bench/data/python-faq.jsonl (bench/faq_corpus.py), queries
bench/data/python-faq-queries.json; support: the fetchmail, lsof and zlib FAQs, cards
bench/data/support-faq.jsonl (bench/support_faq.py), queries bench/data/support-faq-queries.json
(bench/support_faq_queries.py). Off-topic queries are left out: they have no right card. Per kind and half:
  recall@5: fraction of queries with an expected card among the first 5 hits;
  MRR:      mean of 1/rank of the first expected card within the first 10 hits (0 when absent).
"kb" is `kb.search.query.search` as the agents' pages call it (synonyms: none here). The reference is
the plain Whoosh index of bench/search_bench.py (StemmingAnalyzer over title and body, BM25F), queried
with its default parser (every word required, as search_bench.py times it) and with OR between words.
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faq_corpus  # noqa: E402
import faq_queries  # noqa: E402
import support_faq  # noqa: E402
import support_faq_queries  # noqa: E402

TOP, DEPTH = 5, 10
SETS = {"python": (faq_corpus, faq_queries), "support": (support_faq, support_faq_queries)}


def ranks(search, queries, ids):
    """Per query: the rank of its first expected card in `search(text)` (card ids, best first), or None."""
    rows = []
    for q in queries:
        expected = {ids[k] for k in q["expected"]}
        found = search(q["query"])[:DEPTH]
        rank = next((n for n, card in enumerate(found, 1) if card in expected), None)
        rows.append({**q, "rank": rank})
    return rows


def summary(rows):
    out = {}
    for row in rows:
        for key in ((row["half"], row["kind"]), (row["half"], "all")):
            out.setdefault(key, []).append(row["rank"])
    return {key: {"n": len(r), f"recall@{TOP}": sum(x is not None and x <= TOP for x in r) / len(r),
                  "mrr": sum(1 / x if x else 0.0 for x in r) / len(r)} for key, r in out.items()}


def plain_whoosh(app, folder):
    """search(text) -> card ids, on a plain Whoosh index of the same cards (AND and OR parsers)."""
    from search_bench import plain_whoosh_build
    from whoosh import qparser

    database = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    ix, _ = plain_whoosh_build(database, os.path.join(folder, "plain-whoosh"), 1)
    searcher = ix.searcher()

    def make(group):
        parser = qparser.MultifieldParser(["title", "body"], ix.schema, group=group)
        return lambda text: [int(hit["id"]) for hit in searcher.search(parser.parse(text), limit=DEPTH)]

    return {"plain Whoosh, all words": make(qparser.AndGroup), "plain Whoosh, any word": make(qparser.OrGroup)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=SETS, default="python", help="which FAQ set to score (python)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--weight", type=float, help="SEMANTIC_WEIGHT to try (tuning half only!)")
    parser.add_argument("--floor", type=float, help="SEMANTIC_FLOOR to try")
    parser.add_argument("--weight-all", type=float, help="SEMANTIC_WEIGHT_ALL_WORDS to try")
    parser.add_argument("--title-boost", type=float, help="engine.TITLE_BOOST to try")
    args = parser.parse_args()
    from flask_migrate import upgrade

    from kb import create_app
    from kb.search import query

    folder = tempfile.mkdtemp(prefix="kb-faq-relevance-")
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"},
                     instance_path=folder)
    with app.app_context():
        upgrade()
    corpus, query_set = SETS[args.set]
    ids = corpus.load(app)
    queries = [q for q in query_set.load() if q["expected"]]
    from kb.search import vectors

    if args.weight is not None:
        query.SEMANTIC_WEIGHT = args.weight
    if args.floor is not None:
        query.SEMANTIC_FLOOR = args.floor
    if args.weight_all is not None:
        query.SEMANTIC_WEIGHT_ALL_WORDS = args.weight_all
    if args.title_boost is not None:
        from kb.search import engine

        engine.TITLE_BOOST = args.title_boost

    def lexical(text):
        model, app.config["SEARCH_EMBEDDING_MODEL"] = app.config["SEARCH_EMBEDDING_MODEL"], None
        try:
            return [hit.id for hit in query.search(text, limit=DEPTH).hits]
        finally:
            app.config["SEARCH_EMBEDDING_MODEL"] = model

    with app.app_context():
        vectors.sync()
        vectors.wait_for_backfill()  # every card embedded before scoring
        engines = {"kb": lambda text: [hit.id for hit in query.search(text, limit=DEPTH).hits],
                   "kb lexical": lexical, **plain_whoosh(app, folder)}
        report = {name: summary(ranks(search, queries, ids)) for name, search in engines.items()}
    if args.json:
        print(json.dumps({name: {f"{h}/{k}": v for (h, k), v in s.items()} for name, s in report.items()}, indent=1))
        return
    keys = sorted(report["kb"], key=lambda key: (key[0], key[1] == "all", key[1]))
    print(f"{'half':<7}{'kind':<12}{'n':>4}" + "".join(f"{name:>28}" for name in report))
    print(f"{'':<23}" + "".join(f"{f'recall@{TOP}  MRR':>28}" for _ in report))
    for key in keys:
        print(f"{key[0]:<7}{key[1]:<12}{report['kb'][key]['n']:>4}" + "".join(
            f"{s[key][f'recall@{TOP}']:>20.3f}{s[key]['mrr']:>8.3f}" for s in report.values()))


if __name__ == "__main__":
    main()

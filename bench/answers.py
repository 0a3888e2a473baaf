"""How often the chatbot's /api/v1/answer is right, wrong or hands over: on the demo data and on a real
FAQ nobody here wrote (CPython's, bench/faq_corpus.py), per kind of question.

Usage: .venv/bin/python bench/answers.py [--set demo|faq|both] [--grid] [--json] [--wrong]

Demo questions: the relevance set (tests/relevance/queries.json: each has the cards that answer it) plus
questions no demo card answers (OFF_TOPIC). FAQ questions: bench/data/python-faq-queries.json, in a
tuning half and a test half (exact and near titles, same-words-other-order pairs, symbols, paraphrases,
off-topic). For each, `kb.channels.finding.answer` (what the endpoint calls) answers with a card or
hands over. Per kind: right (a card that answers it; for off-topic questions, and those whose cards
the chatbot is not served, handing over), wrong (a
card that does not — the failure that matters: a bot confidently giving a wrong answer), and handed
over although a card answers it. `--grid` repeats the FAQ tuning half (tune on it alone) and the demo
for several settings of API_ANSWER_MIN_COVERAGE, API_ANSWER_MARGIN and finding.TITLE_MATCH.
"""
import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faq_corpus  # noqa: E402
import faq_queries  # noqa: E402
import support_faq  # noqa: E402
import support_faq_queries  # noqa: E402
from relevance import load_queries, seed_demo  # noqa: E402

OFF_TOPIC = [
    "do you sell bicycles", "what is the name of your ceo", "are you hiring", "can I bring my dog to the store",
    "is the coffee machine fixed", "do you have a student discount", "what is your stock price",
    "can you recommend a good restaurant", "how do I reset my router", "do you ship to mars",
    "is it going to rain tomorrow", "what size is the eiffel tower",
]
OUTCOMES = ("right", "wrong", "handed over")


def demo_questions():
    return [{**q, "half": "demo"} for q in load_queries()] + [
        {"query": q, "kind": "offtopic", "expected": [], "half": "demo"} for q in OFF_TOPIC]


def outcomes(app, questions, card_ids):
    """One row per question: its kind and half, the outcome, and the title answered. A question whose
    cards the chatbot is not served (internal, drafts) is rightly handed over, like an off-topic one."""
    from kb.channels import finding, serving
    from kb.search import synonyms

    rows = []
    with app.app_context():
        table = synonyms.table()
        served = {s.card.id for s in serving.serve_many(serving.load(sorted(set(card_ids.values()))),
                                                        serving.CHATBOT) if s.ok}
        for q in questions:
            expected = {card_ids[k] for k in q["expected"] if k in card_ids} & served
            found = finding.answer(q["query"], table)
            if found.served is None:
                outcome = "right" if not expected else "handed over"
            else:
                outcome = "right" if found.served.card.id in expected else "wrong"
            rows.append({"query": q["query"], "kind": q["kind"], "half": q["half"], "outcome": outcome,
                         "answered": found.served.revision.title if found.served else None, "why": found.why})
    return rows


def summary(rows):
    """{(half, kind): {outcome: count}}, with an "all" kind per half."""
    out = {}
    for row in rows:
        for kind in (row["kind"], "all"):
            counts = out.setdefault((row["half"], kind), dict.fromkeys(OUTCOMES, 0))
            counts[row["outcome"]] += 1
    return out


def format_summary(rows, label):
    lines = [f"{label}:", f"  {'half':<7}{'kind':<12}{'n':>5}{'right':>7}{'wrong':>7}{'handed over':>13}"]
    for (half, kind), counts in sorted(summary(rows).items(), key=lambda kv: (kv[0][0], kv[0][1] == "all", kv[0][1])):
        lines.append(f"  {half:<7}{kind:<12}{sum(counts.values()):>5}{counts['right']:>7}{counts['wrong']:>7}"
                     f"{counts['handed over']:>13}")
    return "\n".join(lines)


def new_app():
    from flask_migrate import upgrade

    from kb import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"},
                     instance_path=tempfile.mkdtemp(prefix="kb-answers-"))
    with app.app_context():
        upgrade()
    return app


def demo_app():
    from sqlalchemy import select

    from kb.extensions import db
    from kb.models import Card

    app = new_app()
    seed_demo(app)
    with app.app_context():
        return app, dict(db.session.execute(select(Card.external_id, Card.id)).all())


def faq_app():
    app = new_app()
    return app, faq_corpus.load(app)


def settings(app, coverage, margin, title_match, similarity=None, lead=None):
    from kb.channels import finding

    app.config.update(API_ANSWER_MIN_COVERAGE=coverage, API_ANSWER_MARGIN=margin)
    if similarity is not None:
        app.config.update(API_ANSWER_MIN_SIMILARITY=similarity, API_ANSWER_SIMILARITY_LEAD=lead)
    finding.TITLE_MATCH = title_match


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", choices=("demo", "faq", "support", "both"), default="both",
                        help="both: demo and faq (the Python FAQ); support: the fetchmail/lsof/zlib FAQs")
    parser.add_argument("--grid", action="store_true")
    parser.add_argument("--semantic-grid", action="store_true",
                        help="repeat for several API_ANSWER_MIN_SIMILARITY and _SIMILARITY_LEAD (tuning half)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--wrong", action="store_true", help="list the questions answered wrongly or handed over")
    args = parser.parse_args()
    sets = []
    if args.set in ("demo", "both"):
        sets.append(("demo data", *demo_app(), demo_questions()))
    if args.set in ("faq", "both"):
        app, ids = faq_app()
        halves = ("tuning",) if args.grid else ("tuning", "test")
        sets.append(("Python FAQ", app, ids, [q for q in faq_queries.load() if q["half"] in halves]))
    if args.set == "support":
        app = new_app()
        ids = support_faq.load(app)
        with app.app_context():
            from kb.search import vectors

            vectors.sync()
            vectors.wait_for_backfill()
        halves = ("tuning",) if args.grid or args.semantic_grid else ("tuning", "test")
        sets.append(("support FAQ", app, ids, [q for q in support_faq_queries.load() if q["half"] in halves]))
    from kb.channels import finding

    config = sets[0][1].config
    grid = [(config["API_ANSWER_MIN_COVERAGE"], config["API_ANSWER_MARGIN"], finding.TITLE_MATCH)]
    grid = [(*g, config["API_ANSWER_MIN_SIMILARITY"], config["API_ANSWER_SIMILARITY_LEAD"]) for g in grid]
    if args.grid:
        grid = [(c, m, t, None, None) for c in (0.5, 0.6, 0.75, 0.9) for m in (1.1, 1.2, 1.35)
                for t in (0.5, 0.6, 0.75)]
    if args.semantic_grid:
        grid = [(*grid[0][:3], s, lead) for s in (0.5, 0.55, 0.6, 0.65, 0.7, 1.01) for lead in (0.0, 0.03, 0.05, 0.1)]
    report = []
    for coverage, margin, title_match, similarity, lead in grid:
        for label, app, ids, questions in sets:
            settings(app, coverage, margin, title_match, similarity, lead)
            rows = outcomes(app, questions, ids)
            report.append({"set": label, "coverage": coverage, "margin": margin, "title_match": title_match,
                           "rows": rows})
            if args.json:
                continue
            setting = f"coverage >= {coverage:.2f}, margin >= {margin:.2f}, title match >= {title_match:.2f}"
            if similarity is not None:
                setting += f", similarity >= {similarity:.2f} leading by {lead:.2f}"
            if args.grid or args.semantic_grid:
                counts = summary(rows)
                print(f"{label:<11} {setting}: " + "; ".join(
                    f"{half} right {c['right']} wrong {c['wrong']} handed over {c['handed over']}"
                    for (half, kind), c in sorted(counts.items()) if kind == "all"))
                continue
            print(format_summary(rows, f"{label} ({setting})"))
            if args.wrong:
                for row in rows:
                    if row["outcome"] != "right":
                        print(f"    {row['outcome']:<11} [{row['half']}/{row['kind']}] {row['query']!r}"
                              f" -> {row['answered']!r} {row['why']}")
            print()
    if args.json:
        print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

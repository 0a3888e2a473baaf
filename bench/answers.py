"""How often the chatbot's /api/v1/answer is right, wrong or hands over, on the demo data.

Usage: .venv/bin/python bench/answers.py [--grid]

Questions: the relevance set (tests/relevance/queries.json: each has the cards that answer it) plus
questions no demo card answers (OFF_TOPIC). For each, `kb.channels.finding.answer` (what the endpoint
calls) either answers with a card or refuses. Printed: answered right, answered wrong (the failure that
matters: a bot confidently giving a wrong policy), handed over although a served card answers it, and
off-topic questions answered (wrong by definition). `--grid` repeats this for several settings of
API_ANSWER_MIN_COVERAGE and API_ANSWER_MARGIN.
"""
import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from relevance import load_queries, seed_demo  # noqa: E402

OFF_TOPIC = [
    "do you sell bicycles", "what is the name of your ceo", "are you hiring", "can I bring my dog to the store",
    "is the coffee machine fixed", "do you have a student discount", "what is your stock price",
    "can you recommend a good restaurant", "how do I reset my router", "do you ship to mars",
    "is it going to rain tomorrow", "what size is the eiffel tower",
]


def run(app, coverage, margin):
    from sqlalchemy import select

    from kb.channels import finding, serving
    from kb.extensions import db
    from kb.models import Card
    from kb.search import synonyms

    app.config.update(API_ANSWER_MIN_COVERAGE=coverage, API_ANSWER_MARGIN=margin)
    counts = {"right": 0, "wrong": 0, "handed over (answerable)": 0, "handed over (not served)": 0,
              "off-topic answered": 0, "off-topic handed over": 0}
    wrong = []
    with app.app_context():
        keys = dict(db.session.execute(select(Card.external_id, Card.id)).all())
        table = synonyms.table()
        for q in load_queries():
            expected = {keys[k] for k in q["expected"] if k in keys}
            answerable = any(s.ok for s in serving.serve_many(serving.load(sorted(expected)), serving.CHATBOT))
            found = finding.answer(q["query"], table)
            if found.served is None:
                counts["handed over (answerable)" if answerable else "handed over (not served)"] += 1
            elif found.served.card.id in expected:
                counts["right"] += 1
            else:
                counts["wrong"] += 1
                wrong.append((q["query"], found.served.revision.title))
        for question in OFF_TOPIC:
            found = finding.answer(question, table)
            if found.served is None:
                counts["off-topic handed over"] += 1
            else:
                counts["off-topic answered"] += 1
                wrong.append((question, found.served.revision.title))
    return counts, wrong


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", action="store_true")
    args = parser.parse_args()
    from flask_migrate import upgrade

    from kb import create_app

    folder = tempfile.mkdtemp(prefix="kb-answers-")
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"},
                     instance_path=folder)
    with app.app_context():
        upgrade()
    seed_demo(app)
    settings = [(app.config["API_ANSWER_MIN_COVERAGE"], app.config["API_ANSWER_MARGIN"])]
    if args.grid:
        settings = [(c, m) for c in (0.0, 0.5, 0.6, 0.75, 0.9) for m in (1.0, 1.1, 1.2, 1.35)]
    for coverage, margin in settings:
        counts, wrong = run(app, coverage, margin)
        print(f"coverage >= {coverage:.2f}, margin >= {margin:.2f}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        if not args.grid:
            for question, title in wrong:
                print(f"  wrong: {question!r} -> {title!r}")


if __name__ == "__main__":
    main()

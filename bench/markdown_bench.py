"""Render times of pathological Markdown before and after kb.markup's bound, and of a normal card.

Usage: .venv/bin/python bench/markdown_bench.py [--full]

"before" is the unbounded render (Python-Markdown then nh3, `kb.markup._render`, what every card, FAQ and
API view ran before); "after" is `kb.markup.render`, what a save and the preview run now: it refuses the
text in a linear scan, or gives up waiting after RENDER_BUDGET_SECONDS. A read no longer renders at all: it
serves the HTML stored with the revision. The unbounded 20,000-bracket case takes over a minute, so it
runs only with --full.
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from kb import markup  # noqa: E402

NORMAL = ("Refunds reach your card within **5 business days** of the return reaching us. See "
          "[the refund policy](/cards/12) and [carrier times](https://example.com/carriers).\n\n"
          "- Card payments: 5 days\n- PayPal: 1 day\n- Gift cards: at once\n\n"
          "| Method | Days |\n|---|---|\n| Card | 5 |\n| PayPal | 1 |\n\n> Escalate after 10 days.\n")


def cases(full):
    yield "normal card (about 400 characters)", NORMAL
    yield "normal card x20 (about 8,000 characters)", "\n\n".join([NORMAL] * 20)
    for n in (1_000, 4_000, 8_000) + ((20_000,) if full else ()):
        yield f"{n:,} '['", "[" * n
    yield "2,000 '[' one per line", "[\n" * 2_000
    yield "1,000 '[a]('", "[a](" * 1_000
    yield "2,000 '!['", "![" * 2_000
    yield "brackets nested 500 deep", "[" * 500 + "x" + "]" * 500


def timed(function, text):
    start = time.perf_counter()
    try:
        function(text)
        outcome = "rendered"
    except markup.TooComplex as exc:
        outcome = f"refused: {exc.reason}"
    return time.perf_counter() - start, outcome


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the 20,000-bracket case unbounded (over a minute)")
    args = parser.parse_args()
    print(f"{'input':<42} {'before (s)':>10} {'after (s)':>10}  after's outcome")
    for label, text in cases(args.full):
        before, _ = timed(markup._render, text)
        after, outcome = timed(markup.render, text)
        print(f"{label:<42} {before:>10.3f} {after:>10.3f}  {outcome}")
    if not args.full:
        after, outcome = timed(markup.render, "[" * 20_000)
        print(f"{'20,000 ' + repr('['):<42} {'> 60':>10} {after:>10.3f}  {outcome}  (before: run with --full)")


if __name__ == "__main__":
    main()

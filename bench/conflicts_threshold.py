"""The numbers behind kb.search.conflicts.QUESTION_SAME: how alike in meaning (cosine of the titles'
embeddings) two titles are when they ask the same question, and when they do not.

Usage: .venv/bin/python bench/conflicts_threshold.py
Same question: demo cards' titles asked again in other words (as a second card written by someone who did
not find the first would ask it), and short pairs of the same kind. Different questions: every pair of the
demo's titles, every pair of the 460 support-FAQ titles (many share a template: "How can I use fetchmail
with qmail?" / "... with exim?"), and the pair title words get wrong. The support-FAQ's paraphrase queries
against their card's title show how far other words can fall. Then what the rule lists at each threshold,
beside the rule of title words, and what the answers' difflib ratio says of duplicates and contradictions.
Numbers only, no assertions.
"""
import json
import sys
from difflib import SequenceMatcher
from itertools import combinations
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb import demo_content  # noqa: E402
from kb.search import conflicts, embedding  # noqa: E402
from kb.search.index import plain, title_key  # noqa: E402

DEMO = {c["key"]: c for c in demo_content.CARDS}
# (demo card, its question asked in other words, an answer contradicting the demo's)
REWORDED = [
    ("return-window", "What is your return window?", "You can return items within 14 days of delivery."),
    ("international-shipping", "Can you deliver to Canada or Europe?", "Sorry, we only ship within the US."),
    ("payment-methods", "How can I pay for my order?", "We accept Visa and Mastercard only."),
    ("klarna-installments", "Do you offer payment plans?", "No: the full amount is charged at checkout."),
    ("express-shipping", "Is there a faster shipping option?", "No, standard shipping is the only option."),
    ("order-tracking", "Where can I see where my parcel is?", "We don't provide tracking."),
    ("address-change", "I entered the wrong shipping address, can you update it?",
     "Addresses can't be changed once an order is placed: cancel it and order again."),
    ("gift-wrapping", "Can you wrap my order as a present?", "We no longer offer gift wrapping."),
    ("refund-timing", "How long does a refund take?", "Refunds take up to 30 days to reach you."),
    ("return-label", "Do you send a prepaid return label?", "Return labels cost $6.95, taken off your refund."),
    ("exchanges", "Can I swap my shirt for a bigger size?", "We don't do exchanges: return it and order again."),
    ("gift-receipts", "Can you leave the prices off a gift order?", "No, every parcel includes an invoice."),
    ("holiday-support-hours", "What are your support hours at Christmas?", "Support is open 24/7, holidays too."),
    ("vat-invoice", "How do I get a VAT invoice for my business?", "We can't issue VAT invoices."),
    ("price-adjustment", "Do you offer price adjustments?", "No: return the item and buy it again."),
    ("cancel-before-shipment", "Can I cancel my order?", "Orders can't be cancelled once they are placed."),
    ("holiday-promo-stacking", "Can I use a discount code on Black Friday deals?", "Yes, codes stack with deals."),
    ("promo-code-missed", "Can you add a coupon to an order I already placed?", "Codes only work at checkout."),
    ("final-sale-items", "What can't I send back?", "Everything can be returned within 30 days."),
    ("holiday-extended-returns", "What's the deadline for returning Christmas presents?",
     "Holiday gifts follow the normal 30-day window."),
]
SAME = [
    ("Can I get my money back?", "How do refunds work?"),
    ("Do you ship internationally?", "Do you deliver abroad?"),
    ("Do you ship outside the US?", "Do you offer international shipping?"),
    ("When will I get my refund?", "When will I get my money back?"),
    ("Can I get my money back?", "Can I get a refund?"),
    ("How do I reset my password?", "I can't remember my password"),
    ("Can I pay with PayPal?", "Is PayPal accepted?"),
    ("Do you offer gift wrapping?", "Can you gift wrap my order?"),
    ("How much is shipping?", "What does delivery cost?"),
    ("Can I cancel my purchase?", "How do I cancel an order?"),
    ("How can I track my order?", "Where is my order?"),
    ("Where are you located?", "What is your address?"),
    ("How do I delete my account?", "How can I close my profile?"),
    ("How do I contact customer service?", "How can I reach support?"),
]
DIFFERENT = [("Do you ship outside the US?", "How do I return an order shipped outside the US?")]
THRESHOLDS = (0.65, 0.70, 0.75, 0.80, 0.85)


def words_alike(a, b):
    """The rule without a model: the overlap of the titles' normalised words."""
    return conflicts._word_overlap({"title_key": title_key(a, "en")}, {"title_key": title_key(b, "en")})


def main():
    model = embedding.load(embedding.MINILM.name)
    vector = {}

    def sim(a, b):
        for t in (a, b):
            if t not in vector:
                vector[t] = model.embed([t])[0]
        return float(vector[a] @ vector[b])

    def show(label, pairs, n=None):
        print(f"\n{label}")
        for a, b in sorted(pairs, key=lambda p: -sim(*p))[:n]:
            print(f"  {sim(a, b):.2f}  words {words_alike(a, b):.2f}  {a} | {b}")

    reworded = [(DEMO[key]["title"], title) for key, title, _ in REWORDED]
    show("Same question, other words (a demo card asked again):", reworded)
    show("Same question, short pairs:", SAME)
    show("Different questions that share words:", DIFFERENT)
    demo_pairs = list(combinations([c["title"] for c in demo_content.CARDS], 2))
    show(f"Different questions: the closest of the demo's {len(demo_pairs)} pairs of titles:", demo_pairs, 8)
    faq = [json.loads(line) for line in open(ROOT / "bench/data/support-faq.jsonl", encoding="utf-8")]
    faq_pairs = list(combinations([c["title"] for c in faq], 2))
    faq_sims = np.array([sim(a, b) for a, b in faq_pairs])
    print(f"\nDifferent questions: {len(faq_pairs)} pairs of support-FAQ titles: median {np.median(faq_sims):.2f}, "
          f"99th percentile {np.percentile(faq_sims, 99):.2f}, 99.9th {np.percentile(faq_sims, 99.9):.2f}")
    by_id = {c["external_id"]: c["title"] for c in faq}
    queries = json.load(open(ROOT / "bench/data/support-faq-queries.json", encoding="utf-8"))["queries"]
    paraphrases = np.array([sim(q["query"], by_id[e]) for q in queries if q["kind"] == "paraphrase"
                            for e in q["expected"]])
    print(f"Support-FAQ paraphrase queries vs their card's title: quartiles "
          f"{' '.join(f'{x:.2f}' for x in np.percentile(paraphrases, [25, 50, 75]))}, max {paraphrases.max():.2f}")

    same = reworded + SAME
    print(f"\nListed at each threshold (same questions of {len(same)} found; different questions listed):")
    rows = [("by title words >= 0.6", lambda a, b: words_alike(a, b) >= conflicts.TITLE_SIMILARITY)]
    rows += [(f"by meaning >= {t:.2f}", lambda a, b, t=t: sim(a, b) >= t) for t in THRESHOLDS]
    for label, rule in rows:
        listed_faq = sum(rule(a, b) for a, b in faq_pairs)
        print(f"  {label:22} same {sum(rule(*p) for p in same):2}/{len(same)}   different: "
              f"demo {sum(rule(*p) for p in demo_pairs + DIFFERENT):2}/{len(demo_pairs) + 1}   "
              f"support FAQ {listed_faq}/{len(faq_pairs)}")

    print("\nAnswers' difflib ratio (>= ANSWERS_SAME = the same answer, not a conflict):")
    contradicting = [SequenceMatcher(None, plain(DEMO[key]["answer"]), answer).ratio() for key, _, answer in REWORDED]
    print(f"  a demo answer vs a contradicting one: max {max(contradicting):.2f}")
    edited = DEMO["refund-timing"]
    print(f"  the demo's refund answer vs its pending edit (5 -> 3 business days): "
          f"{SequenceMatcher(None, plain(edited['answer']), plain(edited['edit']['answer'])).ratio():.2f}")


if __name__ == "__main__":
    main()

"""Searching what a customer channel shows, and choosing the chatbot's one answer.

The index holds every card's current wording and internal notes, so a hit is kept only if the words the
channel shows of it contain a searched term: nobody learns what a card's notes or pending edit say by
searching for them (FAQ search, public API search). The chatbot gets an answer only when one card
clearly answers the question (`answer`); otherwise it hands over to a person."""
from dataclasses import dataclass, field

from flask import current_app

from kb import markup
from kb.channels import serving
from kb.search import analysis, query
from kb.search import index as search_index
from kb.verification import policy

SERVABLE = (policy.VERIFIED, policy.DUE_SOON, policy.NEEDS_VERIFICATION)
TITLE_MATCH = 0.75  # a card whose question is this close to the customer's wins a close call


def _groups(text, table):
    """The query's groups as the search reads them: words, their synonyms, corrected spellings."""
    language = search_index.language()
    parsed = query.parse(text, language, current_app.config["SEARCH_MAX_QUERY_CHARS"])
    groups = query.apply_synonyms(parsed.groups, table)
    query.correct_typos(query.searcher().reader(), groups, language)
    return [g.alternatives or [g.stems] for g in groups]


def query_terms(text, table):
    """Every term the search may have matched for `text`: its words, their synonyms and the spellings a
    typo was corrected to (the same steps as `kb.search.query`)."""
    return {stem for alternatives in _groups(text, table) for alt in alternatives for stem in alt}


def shown_terms(title, text, tags=()):
    """The terms of what a channel shows of a card (title, answer as text, tags)."""
    return set(analysis.words(" ".join([title, text, *tags]), search_index.language()))


def revision_terms(revision):
    return shown_terms(revision.title, markup.strip_markdown(revision.answer), revision.tags)


def readable_suggestion(did_you_mean, terms):
    """"Did you mean" only when customers can read its words in the results (its suggestions come from
    every card, internal ones included)."""
    if not did_you_mean:
        return None
    suggested = set(analysis.words(did_you_mean, search_index.language()))
    return did_you_mean if suggested and suggested <= terms else None


@dataclass
class Answer:
    """The chatbot's answer to one question: `served` (None when there is no good enough one), the
    served candidates in rank order (suggestions), and why it was refused."""

    served: object | None
    candidates: list = field(default_factory=list)
    score: float | None = None
    why: str = ""


def coverage(groups, terms, searcher):
    """The share of the question's words, weighed by rarity (idf), that the served wording holds. A
    word is held when any of its alternatives (synonym, corrected spelling) is; a word no card has
    ("bicycles") weighs most, so an answer that ignores it is refused."""
    held = total = 0.0
    for alternatives in groups:
        weight = max(searcher.idf("content", stem) for alt in alternatives for stem in alt)
        total += weight
        if any(all(stem in terms for stem in alt) for alt in alternatives):
            held += weight
    return held / total if total else 0.0


def title_match(asked, title):
    """How much a card's question is the customer's: shared terms over all terms of both (Jaccard)."""
    terms = shown_terms(title, "")
    return len(asked & terms) / len(asked | terms) if asked | terms else 0.0


def answer(question, table):
    """The single served card that answers `question` well enough, or the reason there is none: the best
    match must hold at least API_ANSWER_MIN_COVERAGE of the question (by weight), and be ahead of the
    next served card by API_ANSWER_MARGIN (two close candidates mean the question is ambiguous)."""
    config = current_app.config
    results = query.search(question, filters=query.Filters(public_only=True, status=SERVABLE), limit=10,
                           synonyms=table)
    scores = {h.id: h.score for h in results.hits}
    candidates = [s for s in serving.serve_many(serving.load([h.id for h in results.hits]), serving.CHATBOT)
                  if s.ok]
    if not candidates:
        return Answer(None, [], None, "no verified public card matches")
    best = candidates[0]
    groups = _groups(question, table)
    if coverage(groups, revision_terms(best.revision), query.searcher()) < config["API_ANSWER_MIN_COVERAGE"]:
        return Answer(None, candidates, None, "the best match leaves out words of the question")
    if len(candidates) > 1 and scores[best.card.id] < config["API_ANSWER_MARGIN"] * scores[candidates[1].card.id]:
        # Close scores, unless the best card's question is (nearly) the customer's own and the next one's
        # is less so: "when will I get my refund" vs "I paid with a gift card. How will I get my refund?".
        asked = {stem for alternatives in groups for stem in alternatives[0]}
        first, second = (title_match(asked, c.revision.title) for c in candidates[:2])
        if not (first >= TITLE_MATCH and first > second):
            return Answer(None, candidates, None, "several answers match about as well")
    return Answer(best, candidates, scores[best.card.id])

"""Searching what customers are shown, and choosing the chatbot's one answer.

`public_search` is the one search of every customer channel: FAQ search, public API search, and the
chatbot's candidates and suggestions. It matches the served wording of public cards only — the index
holds that wording in fields of its own (kb.search.index), so a card is never found by its internal
notes or a pending edit, and "Did you mean" only offers words customers can read — and
`serving.serve_many` still has the last word on each hit (grace period, flags).

`answer` gives the chatbot a card only when one clearly answers the question; otherwise it hands over
to a person.
"""
from dataclasses import dataclass, field, replace

from flask import current_app

from kb.channels import serving
from kb.search import analysis, query, snippets
from kb.search import index as search_index

SLACK = 10  # hits read past a page, so that cards withheld at serving time leave no hole in it
CANDIDATES = 10  # served cards the chatbot weighs
TITLE_MATCH = 0.75  # a card whose question is this close to the customer's, in order, wins a close call


@dataclass
class Found:
    """Public search results: (hit, served) pairs in rank order; `total` counts only cards a page could
    show (withheld ones among those read are not counted)."""

    items: list
    total: int
    did_you_mean: str | None = None
    next_cursor: str | None = None
    notice: str | None = None
    mode: str = "all"
    groups: list = field(default_factory=list)

    @property
    def served(self):
        return [s for _, s in self.items]


def servable(statuses):
    """The statuses asked for that customers may be served (all of those when none is asked for)."""
    if not statuses:
        return serving.SERVABLE_STATUSES
    return tuple(s for s in statuses if s in serving.SERVABLE_STATUSES)


def public_search(text, channel, filters=None, limit=10, offset=0, prefix_last=False, synonyms=None):
    """What `channel` (chatbot or faq) may show for `text`: hits on the served public wording, each
    served by `serving.serve_many`. Filters: collection, tag (the served tags), status (only those
    customers are served; owners are not theirs to filter on). `offset` counts index hits, so a page
    continues where the previous one's `next_cursor` stopped."""
    filters = filters or query.Filters()
    statuses = servable(filters.status)
    if not statuses:
        return Found([], 0)
    limit = max(1, min(int(limit), query.MAX_LIMIT))
    results = query.search(text, query.Filters(collection=filters.collection, tag=filters.tag, status=statuses),
                           min(query.MAX_LIMIT, limit + SLACK), offset, prefix_last=prefix_last,
                           synonyms=synonyms, wording=query.CUSTOMERS)
    served = {s.card.id: s for s in serving.serve_many(serving.load([h.id for h in results.hits]), channel)}
    stems = sorted({stem for alternatives in results.groups for alt in alternatives for stem in alt})
    items, read = [], 0
    for hit in results.hits:
        if len(items) == limit:
            break
        read += 1
        s = served.get(hit.id)
        if s is not None and s.ok:
            items.append((_as_served(hit, s, stems), s))
    ok = [s is not None and s.ok for s in (served.get(h.id) for h in results.hits)]
    # More to show: a servable hit left in the window, or hits past it (unknown yet).
    more = any(ok[read:]) or offset + len(results.hits) < results.total
    return Found(items, max(len(items), results.total - ok.count(False)), results.did_you_mean if items else None,
                 query.encode_cursor(offset + read) if more else None, results.notice, results.mode,
                 results.groups)


def _as_served(hit, served, stems):
    """The hit in the wording `serving` hands out: the index's own unless it is behind a newer
    verification (then from the revision itself)."""
    if hit.served_revision == served.revision.number:
        return hit
    text = snippets.snippet(search_index.plain(served.revision.answer), stems, search_index.language(),
                            query.SNIPPET_CHARS)
    return replace(hit, title=served.revision.title, snippet=text, served_title=served.revision.title,
                   served_snippet=text, served_revision=served.revision.number)


# -- The chatbot's answer ----------------------------------------------------------------------------

@dataclass
class Answer:
    """The chatbot's answer to one question: `served` (None when there is no good enough one), the
    served candidates in rank order (suggestions), and why it was refused."""

    served: object | None
    candidates: list = field(default_factory=list)
    score: float | None = None
    why: str = ""


def served_terms(revision):
    """The terms of what customers are shown of a revision (title, answer as text, tags)."""
    text = " ".join([revision.title, search_index.plain(revision.answer), *revision.tags])
    return set(analysis.words(text, search_index.language()))


def coverage(groups, terms, searcher):
    """The share of the question's words, weighed by rarity (idf in the served public wording), that
    the served wording holds. A word is held when any of its alternatives (synonym, corrected spelling)
    is; a word no card has ("bicycles") weighs most, so an answer that ignores it is refused."""
    held = total = 0.0
    for alternatives in groups:
        weight = max(searcher.idf(query.CUSTOMERS.content, stem) for alt in alternatives for stem in alt)
        total += weight
        if any(all(stem in terms for stem in alt) for alt in alternatives):
            held += weight
    return held / total if total else 0.0


def in_order(asked, title):
    """How much a card's question is the customer's, word order included: the longest run of their
    terms in the same order (not necessarily adjacent), over the terms of both (2·LCS / (m + n))."""
    if not asked or not title:
        return 0.0
    previous = [0] * (len(title) + 1)
    for a in asked:
        current = [0]
        for j, t in enumerate(title, 1):
            current.append(previous[j - 1] + 1 if a == t else max(previous[j], current[j - 1]))
        previous = current
    return 2 * previous[-1] / (len(asked) + len(title))


def as_typed(text):
    """The tokens of `text`, folded and lower-case, stop words kept."""
    return [analysis.fold(m.group().lower()) for m in analysis.tokens(text)]


def _candidates(found, questions):
    """(served, score) for the served cards found, then any public card whose question has the
    customer's words (found by its title's terms, whatever its rank), with no score of their own."""
    scored = [(s, hit.score) for hit, s in found.items]
    seen = {s.card.id for s, _ in scored}
    extra = [i for i in query.same_question(questions) if i not in seen]
    if extra:
        scored += [(s, 0.0) for s in serving.serve_many(serving.load(extra), serving.CHATBOT) if s.ok]
    return scored


def answer(question, table):
    """The single served card that answers `question`, or the reason there is none.

    A card whose question is the customer's (the same terms in the same order: case, punctuation,
    accents and stop words aside; a typo corrected) always answers. Otherwise the best match must be
    ahead of the next served card by API_ANSWER_MARGIN — or, in a close call, be the one whose question
    holds the customer's words in their order — and hold API_ANSWER_MIN_COVERAGE of the question,
    weighed by rarity."""
    config, language = current_app.config, search_index.language()
    found = public_search(question, serving.CHATBOT, limit=CANDIDATES, synonyms=table)
    asked = [analysis.words(question, language)]
    if found.did_you_mean:
        asked.append(analysis.words(found.did_you_mean, language))
    scored = _candidates(found, [question, found.did_you_mean or ""])
    candidates = [s for s, _ in scored]
    if not scored:
        return Answer(None, [], None, "no verified public card matches")
    exact = [(s, score) for s, score in scored if asked[0] and analysis.words(s.revision.title, language) in asked]
    if exact:  # several ("Reset password", "How do I reset my password?"): the one as typed, stop words too
        typed = as_typed(question)
        best, score = max(exact, key=lambda pair: (in_order(typed, as_typed(pair[0].revision.title)), pair[1]))
        return Answer(best, candidates, score)
    best, score = scored[0]
    if _means_the_same(found, best):
        return Answer(best, candidates, score)
    close = [pair for pair in scored[1:] if pair[1] * config["API_ANSWER_MARGIN"] > score]
    if close:
        best, score = _closest([(best, score), *close], asked[-1])
        if best is None:
            return Answer(None, candidates, None, "several answers match about as well")
    if coverage(found.groups, served_terms(best.revision), query.searcher()) < config["API_ANSWER_MIN_COVERAGE"]:
        return Answer(None, candidates, None, "the best match leaves out words of the question")
    return Answer(best, candidates, score)


def _means_the_same(found, best):
    """The best card answers in other words: close enough in meaning to the question, and clearly closer
    than any other candidate (the words-based rules refuse a paraphrase for the words it leaves out)."""
    config = current_app.config
    similarity = {s.card.id: hit.similarity for hit, s in found.items if hit.similarity is not None}
    mine = similarity.pop(best.card.id, None)
    if mine is None or mine < config["API_ANSWER_MIN_SIMILARITY"]:
        return False
    return mine - max(similarity.values(), default=0.0) >= config["API_ANSWER_SIMILARITY_LEAD"]


def _closest(close, asked):
    """Of cards scoring about the same, the one whose question holds the customer's words in their
    order, if one clearly does ("convert a string to a number" vs "… a number to a string")."""
    language = search_index.language()
    ranked = sorted(((in_order(asked, analysis.words(s.revision.title, language)), -n, s, score)
                     for n, (s, score) in enumerate(close)), key=lambda row: row[:2], reverse=True)
    first, second = ranked[0], ranked[1]
    if first[0] >= TITLE_MATCH and first[0] > second[0]:
        return first[2], first[3]
    return None, None

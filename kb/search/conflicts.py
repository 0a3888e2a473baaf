"""Possible conflicts: cards asking nearly the same question with different answers.

Two agents can find two such cards and tell customers two different things. "The same question" is judged
by meaning: the cosine similarity of the two titles' sentence embeddings, QUESTION_SAME or more (titles
alone: the answers of a conflict differ by definition). Title words misjudge both ways: "Do you ship
outside the US?" shares most of its words with "How do I return an order shipped outside the US?" (another
question), "When will I get my refund?" few with "How long does a refund take?" (the same one). The answers
differ when their text does (difflib): the same answer is a duplicate, not a conflict. Without a model (off
or refused) the rule is the one of title words, TITLE_SIMILARITY of overlap.

Candidates are bounded, so the page stays fast at 100,000 cards: pairs sharing an uncommon title stem (the
index's postings; the MAX_LEXICAL most shared), and the MEANING_K cards closest in wording (the vectors
search uses) to each of the newest MEANING_CARDS cards (~0.3 s at 100,000): a new card written beside an old
one its author did not find is how most conflicts start, and a stem on many cards ("refund" at 100,000)
proposes no pair by words; an older pair worded apart is missed once 200 newer cards exist. Titles are
embedded on demand (~1.5 ms each) and kept per process: a first computation embeds at most ~2,200 (312 for
the support FAQ's 460 cards), later ones only the titles that changed. Computed once per index and vectors
state. Thresholds: measured by bench/conflicts_threshold.py.
"""
from collections import Counter
from difflib import SequenceMatcher
from itertools import combinations

from kb.search import embedding, engine, query, vectors
from kb.search import index as search_index
from kb.verification import policy

# Titles this close in meaning ask the same question. Measured (bench/conflicts_threshold.py, the int8 model):
# a question asked again in other words scores 0.36-0.87 (8 of 34 pairs reach 0.80, none by title words);
# the demo's different questions reach 0.76, "ship outside the US" / "return an order shipped outside the
# US" 0.69; of the support FAQ's 105,570 pairs of different questions 106 reach 0.80 (290 reach 0.75).
QUESTION_SAME = 0.80
TITLE_SIMILARITY = 0.6  # without a model: the titles' normalised words overlap this much
ANSWERS_SAME = 0.9  # answers this similar are the same answer (a duplicate, not a conflict)
MAX_DF = 25  # title stems on more cards than this are too common to suggest a pair
MAX_LEXICAL = 500  # pairs by shared stems judged by meaning, the most shared first
MEANING_CARDS = 200  # the newest cards whose neighbours in wording are candidates
MEANING_K = 5
WORDING_FLOOR = 0.5  # neighbours less close in wording are no candidates (pairs at QUESTION_SAME: >= 0.51)
MAX_TITLES = 10_000  # title vectors kept per process (~15 MB)
_cache = {}
_titles = {}


def possible_conflicts(limit=50):
    """Up to `limit` pairs, most alike first: {"cards": [(id, title), (id, title)], "question_similarity",
    "by_meaning" (False: by title words), "answer_similarity"}."""
    try:
        s = query.searcher()
    except search_index.Rebuilding:  # back once the index is
        return []
    reader = s.reader()
    model = embedding.current()
    key = (id(reader), reader.doc_count_all(), reader.doc_count(), model and model.key,
           model and vectors.version())
    if key not in _cache:
        _cache.clear()
        _cache[key] = _compute(s, limit, model)
    return _cache[key]


def _compute(s, limit, model):
    by_words = _lexical_pairs(s)
    if model is None:
        return _judge(s, by_words, _word_overlap, TITLE_SIMILARITY, limit, stop_at_limit=True)
    candidates = [*by_words[:MAX_LEXICAL], *_meaning_pairs(s)]
    return _judge(s, candidates, lambda a, b: _question_similarity(model, a, b), QUESTION_SAME, limit)


def _lexical_pairs(s):
    """Pairs of documents sharing uncommon title stems, the most shared first."""
    reader = s.reader()
    shared = Counter()
    for term, info in reader.iter_field("title"):
        if 2 <= info.doc_frequency() <= MAX_DF:
            docs = [d for d in reader.postings("title", term).all_ids() if not reader.is_deleted(d)]
            shared.update(combinations(sorted(docs), 2))
    return [pair for pair, _ in shared.most_common()]


def _meaning_pairs(s):
    """Pairs of documents: the newest embedded cards and their closest cards in wording."""
    found = vectors.matrix()
    newest = sorted(found.embedded_ids(), reverse=True)[:MEANING_CARDS]
    near = found.neighbours(newest, MEANING_K, WORDING_FLOOR)
    docs = engine.documents_of(s, {*near, *(other for pairs in near.values() for other, _ in pairs)})
    return [(doc, other) for card_id, pairs in near.items() for doc in docs.get(card_id, ())
            for other_id, _ in pairs for other in docs.get(other_id, ())]


def _judge(s, candidates, alike, threshold, limit, stop_at_limit=False):
    """The candidate pairs asking the same question (`alike` >= `threshold`) with different answers, most
    alike first. `stop_at_limit`: stop at `limit` found, in the candidates' order (the rule by words)."""
    seen, pairs = set(), []
    for a, b in candidates:
        if (min(a, b), max(a, b)) in seen:
            continue
        seen.add((min(a, b), max(a, b)))
        first, second = s.stored_fields(a), s.stored_fields(b)
        if policy.ARCHIVED in (first.get("status"), second.get("status")):
            continue
        similarity = alike(first, second)
        if similarity < threshold:
            continue
        answers = SequenceMatcher(None, first.get("plain", ""), second.get("plain", "")).ratio()
        if answers >= ANSWERS_SAME:
            continue
        pairs.append({"cards": [(int(first["id"]), first["title"]), (int(second["id"]), second["title"])],
                      "question_similarity": round(similarity, 2), "by_meaning": alike is not _word_overlap,
                      "answer_similarity": round(answers, 2)})
        if stop_at_limit and len(pairs) >= limit:
            break
    return sorted(pairs, key=lambda p: -p["question_similarity"])[:limit]


def _word_overlap(first, second):
    words_a, words_b = set(first["title_key"].split()), set(second["title_key"].split())
    return len(words_a & words_b) / max(1, len(words_a | words_b))


def _question_similarity(model, first, second):
    return float(_title_vector(model, first["title"]) @ _title_vector(model, second["title"]))


def _title_vector(model, title):
    """A title's embedding, kept by (model, title): titles are short (~1.5 ms each) and change rarely."""
    key = (model.key, title)
    if key not in _titles:
        if len(_titles) >= MAX_TITLES:
            _titles.clear()
        _titles[key] = model.embed([title])[0]
    return _titles[key]

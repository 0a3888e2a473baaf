"""Possible conflicts: cards asking nearly the same question with different answers.

Two agents can find two such cards and tell customers two different things. Candidates come from the
index (cards sharing uncommon title stems); a pair is listed when the titles' normalised word sets
overlap by `TITLE_SIMILARITY` or more and the answers differ. Computed once per index state.
"""
from collections import Counter
from difflib import SequenceMatcher
from itertools import combinations

from kb.search import index as search_index
from kb.search import query
from kb.verification import policy

TITLE_SIMILARITY = 0.6
ANSWERS_SAME = 0.9  # answers this similar are the same answer (a duplicate, not a conflict)
MAX_DF = 25  # title stems on more cards than this are too common to suggest a pair
_cache = {}


def possible_conflicts(limit=50):
    try:
        s = query.searcher()
    except search_index.Rebuilding:  # back once the index is
        return []
    reader = s.reader()
    key = (id(reader), reader.doc_count_all(), reader.doc_count())
    if key not in _cache:
        _cache.clear()
        _cache[key] = _compute(s, limit)
    return _cache[key]


def _compute(s, limit):
    reader = s.reader()
    shared = Counter()
    for term, info in reader.iter_field("title"):
        if 2 <= info.doc_frequency() <= MAX_DF:
            docs = [d for d in reader.postings("title", term).all_ids() if not reader.is_deleted(d)]
            shared.update(combinations(sorted(docs), 2))
    pairs = []
    for (a, b), _ in shared.most_common():
        first, second = s.stored_fields(a), s.stored_fields(b)
        if policy.ARCHIVED in (first.get("status"), second.get("status")):
            continue
        words_a, words_b = set(first["title_key"].split()), set(second["title_key"].split())
        overlap = len(words_a & words_b) / max(1, len(words_a | words_b))
        if overlap < TITLE_SIMILARITY:
            continue
        answers = SequenceMatcher(None, first.get("plain", ""), second.get("plain", "")).ratio()
        if answers >= ANSWERS_SAME:
            continue
        pairs.append({"cards": [(int(first["id"]), first["title"]), (int(second["id"]), second["title"])],
                      "title_overlap": round(overlap, 2), "answer_similarity": round(answers, 2)})
        if len(pairs) >= limit:
            break
    return sorted(pairs, key=lambda p: -p["title_overlap"])

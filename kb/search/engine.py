"""Matching and BM25F ranking on arrays: the posting lists Whoosh stores, decoded once per segment.

Why not `Searcher.search`: Whoosh walks every matching posting in Python, several microseconds each,
and support queries are dense ("refund customer" matches most cards), so a query cost 20–300 ms at
10,000–100,000 cards. Here a term's postings in a segment are decoded once into numpy arrays (segments
never change, so this survives commits), and a query is a few vector operations over them: the same
BM25F formula, statistics and tie order as Whoosh's, exact totals, facet counts from the same arrays.

Phrases: among the cards holding every word, those where the words' positions follow each other, found
by intersecting (card, position − offset in the phrase) keys. A phrase is scored as its words.
(Indexing each pair of adjacent terms instead, as Elasticsearch's `index_phrases` does, made phrases
no faster here and a full rebuild 80% slower.)
"""
import hashlib
import os
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from kb.search import whoosh_internals as wi

B, K1 = 0.75, 1.2  # Whoosh's BM25F defaults
CONTENT, TITLE = "content", "title"
TITLE_BOOST = 2.0  # a title match counts this much more (see kb.search.index for the field layout)
_EMPTY = (np.zeros(0, np.int32), np.zeros(0, np.float64))


def _nbytes(value):
    if isinstance(value, tuple):
        return sum(_nbytes(part) for part in value)
    return getattr(value, "nbytes", 64 * len(value))  # a list of facet values: roughly


class _Arrays:
    """Bounded LRU of decoded arrays, shared by the threads of a worker. Keys start with the segment
    id, so a merged-away segment's arrays simply age out."""

    def __init__(self, budget):
        self.budget, self.used = budget, 0
        self.items = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, compute):
        with self.lock:
            value = self.items.get(key)
            if value is not None:
                self.items.move_to_end(key)
                return value
        value = compute()
        with self.lock:
            if key not in self.items:
                self.items[key] = value
                self.used += _nbytes(value)
                while self.used > self.budget and len(self.items) > 1:
                    self.used -= _nbytes(self.items.popitem(last=False)[1])
        return value

    def clear(self):
        with self.lock:
            self.items.clear()
            self.used = 0


arrays = _Arrays(256 * 1024 * 1024)  # the budget follows SEARCH_CACHE_MB (see query.searcher)


_sid = wi.segment_id


# -- Decoded once per host: long posting lists kept beside their segment, shared by every worker ---------

SHARED = ".decoded"  # in the generation's folder; Whoosh's own file cleaning skips names starting with "."
SHARE_MIN = 2048  # postings: a shorter list decodes faster than its files open


def _shared(seg, key, decode):
    """`decode()` (a pair of arrays) for `key` of a segment, read from the files a worker of this host
    wrote when it first decoded it. Decoding a long list costs ~1 µs a posting (12 ms for a common word
    at 100,000 cards); each of gunicorn's workers paid it again, and again after every restart
    (`max_requests`): a third of the server's CPU under issue 12's load. Segments never change, so the
    arrays never go stale; they are memory-mapped, so the workers share one copy in the page cache.
    Any failure to read or write only means decoding here."""
    folder = wi.storage_folder(seg)
    if folder is None:  # an index in memory
        return decode()
    name = hashlib.blake2b(repr(key).encode(), digest_size=12).hexdigest()
    base = os.path.join(folder, SHARED, _sid(seg), name)
    try:
        return tuple(np.load(f"{base}.{part}.npy", mmap_mode="r").view(np.ndarray) for part in "ab")
    except (OSError, ValueError):
        pass
    value = decode()
    if len(value[0]) >= SHARE_MIN:
        try:
            os.makedirs(os.path.dirname(base), exist_ok=True)
            for part, array in zip("ab", value, strict=True):
                temporary = f"{base}.{part}.{os.getpid()}.{threading.get_ident()}.tmp"
                with open(temporary, "wb") as f:
                    np.save(f, array)
                os.replace(temporary, f"{base}.{part}.npy")  # whole or absent: a crash leaves a .tmp only
        except OSError:
            pass
    return value


def prune_shared(folder, segment_ids):
    """Remove the decoded arrays of segments that are no longer in the index (merged away)."""
    root = os.path.join(folder, SHARED)
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in set(names) - set(segment_ids):
        shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def postings(seg, field, text):
    """(docnums, weights) of a term in one segment, deleted documents included (`alive` masks those)."""
    return arrays.get((_sid(seg), field, text), lambda: _shared(seg, ("postings", field, text),
                                                                 lambda: wi.postings(seg, field, text)))


def positions(seg, field, text):
    """(docnums, positions): one entry per occurrence of the term, in document then position order."""
    return arrays.get((_sid(seg), "positions", field, text),
                      lambda: _shared(seg, ("positions", field, text), lambda: wi.positions(seg, field, text)))


def phrase(seg, stems, candidates, field=CONTENT):
    """Documents among `candidates` where the stems occur one after the other in `field`."""
    keys = None
    for offset, stem in enumerate(stems):
        ids, where = positions(seg, field, stem)
        keep = candidates[ids]
        # The same key for every word of one occurrence: (card, where the phrase starts).
        found = (ids[keep].astype(np.int64) << 32) + where[keep] - offset
        keys = found if keys is None else np.intersect1d(keys, found, assume_unique=True)
        if not len(keys):
            break
    out = np.zeros(len(candidates), bool)
    out[keys >> 32] = True
    return out


def lengths(seg, field):
    """Each document's length in `field`, as Whoosh stores it (one byte, so approximate)."""
    return arrays.get((_sid(seg), "len", field), lambda: wi.field_lengths(seg, field))


def ranks(seg):
    """Each document's ranking multiplier (status and use; see kb.search.index)."""
    column = seg.schema["rank"].column_type
    return arrays.get((_sid(seg), "rank"), lambda: wi.numeric_column(seg, "rank", column, ">f4"))


def alive(seg):
    def compute():
        out = np.ones(seg.doc_count_all(), bool)
        deleted = wi.deleted_docs(seg)
        if deleted:
            out[deleted] = False
        return out
    return arrays.get((_sid(seg), "alive", seg.segment().deleted_count()), compute)


def holding(searcher, field, value):
    """Global numbers of the live documents holding `value` in an untokenised field."""
    out = []
    for seg, offset in searcher.reader().leaf_readers():
        ids = postings(seg, field, value)[0]
        out.extend((ids[alive(seg)[ids]] + offset).tolist())
    return out


def _card_ids(seg):
    """(card id of each document, -1 for the index's own documents; the documents in card-id order), read
    once per segment from the `id` field's terms (most hold one document, which the term itself names) and
    shared beside the segment like long posting lists: the hybrid ranking maps ~100 documents to cards
    and back per search, which by stored fields and postings cost ~1.7 ms."""
    def decode():
        by_doc = np.full(seg.doc_count_all(), -1, np.int64)
        for text, info in seg.iter_field("id"):
            text = text.decode() if isinstance(text, bytes) else text
            if not text.isdigit():
                continue
            if info.doc_frequency() == 1:
                by_doc[info.min_id()] = int(text)
            else:  # an updated card's deleted and live documents, in one segment
                by_doc[postings(seg, "id", text)[0]] = int(text)
        return by_doc, np.argsort(by_doc, kind="stable").astype(np.int64)
    return arrays.get((_sid(seg), "card ids"), lambda: _shared(seg, ("card ids",), decode))


def card_ids(searcher, docnums):
    """{global document number: card id} for `docnums` (the index's own documents left out)."""
    out = {}
    for seg, offset, local in _per_segment(searcher, docnums):
        by_doc = _card_ids(seg)[0]
        out.update({int(d) + offset: int(c) for d, c in zip(local, by_doc[local], strict=True) if c >= 0})
    return out


def documents_of(searcher, cards):
    """{card id: [global numbers of its live documents]} for the card ids `cards`, as `holding(…, "id", …)`."""
    wanted = np.array(sorted(set(cards)), np.int64)
    out = {}
    for seg, offset in searcher.reader().leaf_readers():
        by_doc, order = _card_ids(seg)
        ordered = by_doc[order]
        lo, hi = np.searchsorted(ordered, wanted, "left"), np.searchsorted(ordered, wanted, "right")
        live = alive(seg)
        for card, a, b in zip(wanted.tolist(), lo.tolist(), hi.tolist(), strict=True):
            docs = [int(d) + offset for d in order[a:b] if live[d]]
            if docs:
                out.setdefault(card, []).extend(docs)
    return out


def held(searcher, docnum, field, stems):
    """Which of `stems` the document `docnum` holds in `field`."""
    for seg, offset, local in _per_segment(searcher, [docnum]):
        return {stem for stem in stems if np.isin(local[0], postings(seg, field, stem)[0])}
    return set()


def _docs(seg, field, values):
    """Documents holding any of `values` in an untokenised field."""
    out = np.zeros(seg.doc_count_all(), bool)
    for value in values:
        out[postings(seg, field, value)[0]] = True
    return out


# -- One query ---------------------------------------------------------------------------------------

@dataclass
class Plan:
    """What to match: `groups` of alternatives ((stems…), boost); all groups (mode "all") or any;
    `fields`: the (content, title) pair scored, the agents' by default (kb.search.index has the others)."""

    groups: list
    mode: str = "all"
    excluded: tuple = ()
    filters: tuple = ()  # ((field, (values…)), …): a card must hold one of the values of each
    mask: tuple = ()  # ((field, value), …): cards holding any of these are left out
    fields: tuple = (CONTENT, TITLE)


@dataclass
class Outcome:
    top: list  # [(global docnum, final score, ranking multiplier)], best first
    total: int
    facets: dict | None = None


class _Stats:
    """Global statistics (all segments), as Whoosh's BM25F reads them from the top-level searcher."""

    def __init__(self, searcher):
        self.searcher = searcher
        self.avg = {}

    def avgfl(self, field):
        if field not in self.avg:
            self.avg[field] = self.searcher.avg_field_length(field) or 1
        return self.avg[field]

    def idf(self, field, text):
        return self.searcher.idf(field, text)


def _bm25(stats, seg, field, text, boost, out):
    """Add the term's BM25 score times `boost` into `out`; return the documents holding it."""
    ids, tf = postings(seg, field, text)
    if len(ids):
        fl = lengths(seg, field)[ids]
        avgfl = stats.avgfl(field)
        out[ids] += boost * stats.idf(field, text) * (tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl))
    return ids


def _alternative(stats, seg, stems, boost, score, matched, n, fields):
    content, title = fields
    if len(stems) == 1:
        matched[_bm25(stats, seg, content, stems[0], boost, score)] = True
        matched[_bm25(stats, seg, title, stems[0], boost * TITLE_BOOST, score)] = True
        return
    where = np.ones(n, bool)
    for stem in stems:
        where &= _docs(seg, content, [stem])
    if where.any():
        where = phrase(seg, stems, where, content)
    words = np.zeros(n)
    for stem in stems:
        _bm25(stats, seg, content, stem, boost, words)
    score += np.where(where, words, 0.0)
    matched |= where


def _segment(stats, seg, plan):
    """(score, matched) arrays for one segment."""
    n = seg.doc_count_all()
    score = np.zeros(n)
    matched = np.full(n, plan.mode == "all")
    for group in plan.groups:
        group_matched = np.zeros(n, bool)
        for stems, boost in group:
            _alternative(stats, seg, stems, boost, score, group_matched, n, plan.fields)
        if plan.mode == "all":
            matched &= group_matched
        else:
            matched |= group_matched
    return score, _allowed(seg, plan, matched)


def _allowed(seg, plan, matched):
    """`matched` (one flag per document of the segment) less what the plan leaves out whatever the words
    match: excluded words, filters, masks, deleted documents."""
    for stem in plan.excluded:
        matched[postings(seg, plan.fields[0], stem)[0]] = False
    for field, values in plan.filters:
        matched &= _docs(seg, field, values)
    for field, value in plan.mask:
        matched[postings(seg, field, value)[0]] = False
    matched &= alive(seg)
    return matched


def run(searcher, plan, limit, facets=()):
    """The `limit` best documents (score × ranking multiplier, ties by document number, as Whoosh
    orders them), the exact number of matches, and per-field counts of the matches for `facets`."""
    stats = _Stats(searcher)
    docs, finals, multipliers, total = [], [], [], 0
    counts = {field: {} for field in facets}
    for seg, offset in searcher.reader().leaf_readers():
        score, matched = _segment(stats, seg, plan)
        hits = np.flatnonzero(matched)
        total += len(hits)
        if not len(hits):
            continue
        rank = ranks(seg)[hits]
        final = score[hits] * rank
        if len(hits) > limit:
            best = np.argpartition(-final, limit - 1)[:limit] if limit else hits[:0]
            hits, final, rank = hits[best], final[best], rank[best]
        docs.append(hits + offset)
        finals.append(final)
        multipliers.append(rank)
        for field in facets:
            _count(seg, field, matched, counts[field])
    if not docs:
        return Outcome([], total, counts if facets else None)
    docs, finals, multipliers = np.concatenate(docs), np.concatenate(finals), np.concatenate(multipliers)
    order = np.lexsort((docs, -finals))[:limit]
    top = [(int(docs[i]), float(finals[i]), float(multipliers[i])) for i in order]
    return Outcome(top, total, counts if facets else None)


def _per_segment(searcher, docnums):
    """(segment, offset, its documents among `docnums` as local numbers) for each segment holding some."""
    wanted = sorted(set(docnums))
    for seg, offset in searcher.reader().leaf_readers():
        n = seg.doc_count_all()
        local = np.array([d - offset for d in wanted if offset <= d < offset + n], np.int64)
        if len(local):
            yield seg, offset, local


def admitted(searcher, plan, docnums):
    """{docnum: ranking multiplier} of those of `docnums` the plan's filters, exclusions and masks let
    through, whatever its words: the semantic candidates that did not match lexically."""
    out = {}
    for seg, offset, local in _per_segment(searcher, docnums):
        keep = _allowed(seg, plan, np.ones(seg.doc_count_all(), bool))[local]
        rank = ranks(seg)[local]
        out.update({int(d) + offset: float(r) for d, r, k in zip(local, rank, keep, strict=True) if k})
    return out


def count(searcher, docnums, facets, into):
    """Add the per-field counts of `docnums` into `into` ({field: {value: n}}), as `run` counts its matches."""
    for seg, _, local in _per_segment(searcher, docnums):
        matched = np.zeros(seg.doc_count_all(), bool)
        matched[local] = True
        for field in facets:
            _count(seg, field, matched, into[field])


def _facet(seg, field):
    """(values, value index per posting, document per posting) of an untokenised field in one segment: every
    value's postings laid end to end, so that counting the matches per value is one `bincount`, not a
    Python loop over the field's lexicon (hundreds of tags: 3% of the server's CPU under issue 12's load)."""
    def compute():
        values, index, docs = [], [], []
        for text in seg.lexicon(field):
            value = text.decode("utf-8") if isinstance(text, bytes) else text
            ids = postings(seg, field, value)[0]
            index.append(np.full(len(ids), len(values), np.int32))
            docs.append(ids)
            values.append(value)
        if not values:
            return values, _EMPTY[0], _EMPTY[0]
        return values, np.concatenate(index), np.concatenate(docs)
    return arrays.get((_sid(seg), "facet", field), compute)


def _count(seg, field, matched, into):
    values, index, docs = _facet(seg, field)
    if not values:
        return
    for i in np.flatnonzero(counts := np.bincount(index[matched[docs]], minlength=len(values))):
        into[values[i]] = into.get(values[i], 0) + int(counts[i])

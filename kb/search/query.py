"""Searching: what an agent types → a Whoosh query → ranked, highlighted, explained results.

No user input is an error. Text is read word by word: balanced "quotes" make phrases, a leading `-`
excludes a word (not a number: "-22" is minus twenty-two), a trailing `*` asks for a prefix; anything
else that looks like syntax (unbalanced quotes, AND/OR, `field:` prefixes, brackets) is treated as plain
words, and operators such as `//` or `+=` are terms like words (kb.search.analysis). All words must
match (AND); when that finds too little, any word may match (OR), best covered first. A word the index
has never seen is replaced by its nearest known spellings, and "Did you mean" offers the corrected query.

Agents search every card's current wording and notes (`AGENTS`); customers' channels search the
served public wording only (`CUSTOMERS`: its own fields, vocabulary and snippets), so that nobody finds
a card, or is offered a spelling, by words customers are not shown.
"""
import base64
import itertools
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import partial

from flask import current_app
from whoosh.reading import SegmentReader
from whoosh.searching import Searcher

from kb.models import CardChange
from kb.search import analysis, embedding, engine, snippets, vectors
from kb.search import index as search_index
from kb.search import whoosh_internals as wi
from kb.verification import policy

MIN_PREFIX = 3  # shorter prefixes expand to too many words to be useful or fast
FIELD_WORDS = {"title", "answer", "notes", "tag", "tags", "status", "collection", "owner", "id", "keywords"}
OPERATORS = {"AND", "OR", "NOT", "TO", "NEAR"}
FEW = 3  # an AND query finding fewer results than this is retried as OR
# Hybrid ranking (issue 13): the lexical top LEXICAL_K and the SEMANTIC_K cards nearest in meaning, each
# card scored SEMANTIC_WEIGHT x its similarity (over the best candidate's) + the rest x its BM25F (over the
# best's), then the trust and usage multiplier. A card only close in meaning needs SEMANTIC_FLOOR.
LEXICAL_K = 50
SEMANTIC_K = 50
SEMANTIC_WEIGHT = 0.7
# ... when some card holds every word of the query (a keyword search that found what it names), the
# words weigh more: "chargeback" finds the chargeback card first, not one merely close in meaning.
SEMANTIC_WEIGHT_ALL_WORDS = 0.5
SEMANTIC_FLOOR = 0.25
# Similarities count over the best candidate's, but never over less than this: when nothing is close in
# meaning (an order code, a word only one card holds), the nearest cards are not close, and counted over
# the best they outranked the one card holding the word.
SEMANTIC_FULL = 0.5  # only when some card holds every word (tuning half unchanged from 0.5 up to 0.6)
NAMED = 3  # when at most this many cards hold every word, the cards found by words lead those found by meaning
MAX_LIMIT = 50
SNIPPET_CHARS = 220


# -- Whose words ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Wording:
    """The index fields a search matches, corrects spellings from and filters tags on (kb.search.index)."""

    content: str
    title: str
    vocabulary: str
    tags: str
    customers: bool = False


AGENTS = Wording(engine.CONTENT, engine.TITLE, "vocabulary", "tags")
CUSTOMERS = Wording("public_content", "public_title", "public_vocabulary", "public_tags", customers=True)


# -- Reading what was typed -------------------------------------------------------------------------

@dataclass
class Group:
    """One unit of the query: a word, a phrase, or a prefix; `alternatives` after synonyms/typos."""

    kind: str  # "word" | "phrase" | "prefix"
    raw: str
    stems: tuple = ()
    alternatives: list = field(default_factory=list)  # lists of stem tuples
    correction: str | None = None
    weights: list | None = None  # per alternative, when not the default (a prefix's expansions)
    completion: str | None = None  # a prefix's likeliest whole word ("canc" → "cancel"), for its meaning


@dataclass
class Parsed:
    groups: list
    excluded: list
    notice: str | None = None


QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"'})
TOKEN = re.compile(r'"([^"]*)"|(-?)([^\s"]+)')


STARRED = re.compile(r"(?<=\w)\*+$")  # "refu*" asks for a prefix; "**" alone is an operator


def parse(text, language, max_chars=300, prefix_last=False):
    text = (text or "").translate(QUOTES)
    notice = None
    if len(text) > max_chars:
        text = text[:max_chars]
        notice = f"Only the first {max_chars} characters of the search were used."
    if text.count('"') % 2:
        text = text.replace('"', " ")  # an unbalanced quote: plain words
    groups, excluded = [], []
    matches = list(TOKEN.finditer(text))
    for i, match in enumerate(matches):
        phrase, minus, word = match.groups()
        if phrase is not None:
            stems = tuple(analysis.words(phrase, language))
            if len(stems) > 1:
                groups.append(Group("phrase", phrase, stems))
            elif stems:
                groups.append(Group("word", phrase, stems))
            continue
        if word in OPERATORS:
            continue
        excluding = bool(minus) and word[:1].isalpha()  # "-refund" excludes; "-22" and "->" are terms
        if minus and not excluding:
            word = minus + word
        head, sep, rest = word.partition(":")
        if sep and head.lower() in FIELD_WORDS:
            word = rest
        star = bool(STARRED.search(word))
        raws = [m.group() for m in analysis.tokens(STARRED.sub("", word))]
        last = i == len(matches) - 1
        star = star or (prefix_last and last and not text[-1:].isspace())
        for j, raw in enumerate(raws):
            folded = analysis.fold(raw.lower())
            stem = analysis.term(raw, language)
            if excluding and j == 0:
                if stem:
                    excluded.append(stem)
            elif star and j == len(raws) - 1 and analysis.is_word(raw) and len(folded) >= 2:
                groups.append(Group("prefix", raw, (stem or folded,), alternatives=[(folded,)]))
            elif stem:
                groups.append(Group("word", raw, (stem,)))
    return Parsed(groups, excluded, notice)


# -- Synonyms ---------------------------------------------------------------------------------------

class SynonymTable(dict):
    """A compiled table that knows which state of the synonym sets it came from (for the results cache)."""

    def __init__(self, table, version):
        super().__init__(table)
        self.version = version


def compile_synonyms(sets, language):
    """[["cancel", "cancellation", "void order"], …] → {stem tuple: [stem tuples of the set]}."""
    table = {}
    for terms in sets:
        alternatives = list(dict.fromkeys(
            tuple(analysis.words(term, language)) for term in terms if analysis.words(term, language)))
        for alt in alternatives:
            table.setdefault(alt, [])
            table[alt] = list(dict.fromkeys(table[alt] + alternatives))
    return table


def apply_synonyms(groups, table):
    """Replace each run of words that is a synonym term (longest first) by a group of alternatives."""
    if not table:
        return groups
    longest = max(len(k) for k in table)
    out, i = [], 0
    while i < len(groups):
        for size in range(min(longest, len(groups) - i), 0, -1):
            run = groups[i:i + size]
            if any(g.kind != "word" for g in run):
                continue
            key = tuple(s for g in run for s in g.stems)
            if key in table:
                raw = " ".join(dict.fromkeys(g.raw for g in run))
                out.append(Group("word", raw, key, alternatives=table[key]))
                i += size
                break
        else:
            out.append(groups[i])
            i += 1
    return out


# -- What to match ---------------------------------------------------------------------------------

def plan_groups(groups):
    """Each group's alternatives with their weight. A synonym or a guessed spelling counts a little
    less than the word as typed. (Weighing guesses lower still, 0.6, lost more typo queries of the
    relevance set than it saved paraphrases.)"""
    out = []
    for group in groups:
        alternatives = group.alternatives or [group.stems]
        if group.weights is not None:
            out.append([(tuple(alt), w) for alt, w in zip(alternatives, group.weights, strict=True)])
            continue
        out.append([(tuple(alt), 0.9 if group.correction or (n and alt != group.stems) else 1.0)
                     for n, alt in enumerate(alternatives)])
    return out


PREFIX_MIN_SHARE = 0.05  # a completion on fewer cards than this share of the likeliest one's is left out


def expand_prefix(reader, prefix, limit=8, wording=AGENTS):
    """The known words starting with `prefix`, likeliest first: [(stem, cards holding it, the shortest
    word of that stem)], from the unstemmed vocabulary (a stemmed index cannot answer "busin*", its term is
    "busi"). Completions far rarer than the likeliest are dropped: "arr" is "arrive" or "arrange", not
    the one card's "arraignment", which would otherwise rank first by its rarity."""
    if len(prefix) < MIN_PREFIX:
        return []
    language = search_index.language()
    words = [w.decode() if isinstance(w, bytes) else w
             for w in itertools.islice(reader.expand_prefix(wording.vocabulary, prefix), 200)]
    shortest = {}
    for w in sorted(words, key=len, reverse=True):
        stem = analysis.term(w, language)
        if stem is not None:
            shortest[stem] = w
    ranked = sorted(((s, reader.doc_frequency(wording.content, s), w) for s, w in shortest.items()),
                    key=lambda t: (-t[1], t[0]))
    ranked = [t for t in ranked if t[1]]
    if not ranked:
        return []
    return [t for t in ranked[:limit] if t[1] >= PREFIX_MIN_SHARE * ranked[0][1]]


def _idf(reader, wording, stem):
    """Whoosh's BM25F idf (log(N / (df + 1)) + 1), to weigh a prefix's expansions alike."""
    return math.log(reader.doc_count_all() / (reader.doc_frequency(wording.content, stem) + 1)) + 1


def _known(reader, stems, wording):
    return any(reader.doc_frequency(wording.content, s) for s in stems)


def correct_typos(reader, groups, language, wording=AGENTS):
    """Words the searched wording does not hold get their nearest known spellings (from its unstemmed
    vocabulary, so "Did you mean" shows real words). Returns True if anything was corrected."""
    corrected = False
    for group in groups:
        if group.kind == "prefix":
            expanded = expand_prefix(reader, group.alternatives[0][0], wording=wording)
            known = [group.stems] if _known(reader, group.stems, wording) else []
            # A partial word stands for the known words it starts (their stems: "busin" → "busi"); when
            # it starts none, it is a typo. Every expansion weighs as the likeliest one does, as a prefix
            # query scores in Lucene: by its own idf a rare completion would outrank the common one.
            group.kind, group.alternatives = "word", list(dict.fromkeys(known + [(t[0],) for t in expanded]))
            group.completion = group.raw if known else expanded[0][2] if expanded else ""
            if expanded:
                top = _idf(reader, wording, expanded[0][0])
                group.weights = [(1.0 if alt == group.stems else 0.9) * top / _idf(reader, wording, alt[0])
                                 for alt in group.alternatives]
        if group.kind != "word" or group.alternatives or _known(reader, group.stems, wording):
            continue
        word = analysis.fold(group.raw.lower())
        if len(word) < 3 or not word.isalpha() or word in real_words():
            continue
        suggestions = suggest(reader, word, wording=wording)
        if not suggestions:
            continue
        group.correction = suggestions[0]
        group.alternatives = list(dict.fromkeys(
            tuple(analysis.words(s, language)) for s in suggestions if analysis.words(s, language)))
        corrected = True
    return corrected


def real_words():
    """Words known to be real whatever the cards say (the embedding model's whole-word vocabulary), so a
    correction never replaces one; empty without a model (then only the cards' words count)."""
    model = embedding.current()
    return model.words if model is not None else frozenset()


def suggest(reader, word, limit=3, wording=AGENTS):
    """Known words nearest to `word`: fewest edits (a swap of two letters is one), then most used; only
    words some card's searched wording still holds (a vocabulary keeps the words of old versions).

    Whoosh's own corrector ranks by frequency within the maximum distance only, so "refnud" would
    get the more frequent "refunds" before "refund".
    """
    maxdist = 1 if len(word) < 5 else 2
    candidates = [t.decode() if isinstance(t, bytes) else t
                  for t in reader.terms_within(wording.vocabulary, word, maxdist, prefix=1)]
    language = search_index.language()
    ranked = sorted((edits(word, c), -reader.doc_frequency(wording.content, analysis.term(c, language) or c), c)
                    for c in candidates if c != word)
    return [c for d, used, c in ranked if d <= maxdist and used][:limit]


def edits(a, b):
    """Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    previous2, previous = None, list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[len(b)]


# -- Searchers, one per thread per worker -----------------------------------------------------------

_local = threading.local()


def searcher():
    """A warm searcher on the live generation: reopened when `kb reindex` swapped it, refreshed when
    another process committed, and first brought up to the feed if this process lacks a content change.
    A generation an older version wrote is rebuilt in the background meanwhile; so is a corrupt one, and
    until it is live this raises `search_index.Rebuilding`."""
    return _guarded(_searcher)


def _guarded(read):
    """`read()` at the boundary with Whoosh: what a damaged index raises becomes a rebuild (kb.search.index)."""
    return search_index.reading(read, search_index.index_dir(), reset=_drop_searcher)


def _drop_searcher():
    """Forget this thread's searcher, so the next read opens the index afresh."""
    held, _local.held = getattr(_local, "held", None), None
    if held is not None:
        try:
            held[2].close()
        except Exception:  # noqa: BLE001 — best effort: it was failing already
            pass


def _searcher():
    root = search_index.index_dir()
    s = held(root)
    meta = getattr(s, "_kb_meta", None)
    if meta is None:  # a commit gives a new searcher: its meta is read once, not per search
        meta = s._kb_meta = search_index.read_meta(s)
    search_index.upgrade_if_older(meta, root)
    # Pending usage rows alone wait (kb.search.usage).
    if meta["watermark"] < search_index.feed_head(kind=CardChange.CONTENT):
        result = search_index.apply_feed(root, timeout=current_app.config["SEARCH_CATCHUP_TIMEOUT"])
        if result.applied:
            s = held(root)
    return s


def held(root):
    """This thread's searcher on `root`'s live generation, refreshed to its latest commit (no catch-up
    with the feed)."""
    current = search_index.current_generation(root)
    kept = getattr(_local, "held", None)
    if kept is None or kept[0] != root or kept[1] != current or current is None:
        _drop_searcher()
        name, ix = search_index.open_index(root)
        kept = _local.held = [root, name, search_index.open_searcher(ix)]
    engine.arrays.budget = current_app.config["SEARCH_CACHE_MB"] * 1024 * 1024
    if not kept[2].up_to_date():
        kept[2] = refreshed(kept[2])
    return kept[2]


def held_as_is(root, name):
    """This thread's searcher if it is on `name` and up to date, else None. Never refreshed here: a
    refresh closes the readers it replaces, and a caller up the stack may still be using them."""
    kept = getattr(_local, "held", None)
    if kept is None or kept[0] != root or kept[1] != name or not kept[2].up_to_date():
        return None
    return kept[2]


def refreshed(old):
    """A searcher on the latest commit, reusing the segment readers that did not change.

    Not `Searcher.refresh()`: whoosh-reloaded 2.7.5 reuses a segment's reader even when documents in
    it were deleted since (an updated card then appears twice) and keeps merged-away segments.
    Segments are equal by id; one whose deletion count moved gets a new reader over the same open files.
    """
    ix = wi.index_of(old)
    for attempt in range(10):
        readers, reused, handed, closers = [], set(), [], []
        try:
            toc = wi.read_toc(ix)
            previous = {r.segment().segment_id(): r for r, _ in old.reader().leaf_readers()
                        if r.segment() is not None}
            for segment in toc.segments:
                reader = previous.get(segment.segment_id())
                if reader is not None and reader.segment().deleted_count() == segment.deleted_count():
                    reused.add(segment.segment_id())
                elif reader is not None:
                    handed.append(reader)
                    reader = wi.with_deletions(reader, segment, toc)
                    closers.append(partial(wi.close_deletions, reader))
                    wi.hold_files(reader)
                    reused.add(segment.segment_id())
                else:
                    reader = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation)
                    closers.append(reader.close)
                    wi.hold_files(reader)
                readers.append(reader)
            break
        except OSError:  # a writer removed a merged segment's files while we read the TOC: read it again
            for close in closers:  # the old readers are untouched, so the next attempt starts over
                close()
            if attempt == 9:
                raise
            time.sleep(0.05)
    for reader in handed:
        wi.hand_over(reader)
    reader = search_index.combined(readers, toc)
    for segment_id, stale in previous.items():
        if segment_id not in reused:
            stale.close()
    return Searcher(reader, weighting=old.weighting, fromindex=ix)


# -- Results cache: per index state, so it can never serve a result older than the index -------------

class _Recent(OrderedDict):
    """The values of the last `size` keys asked for, shared by a worker's threads (computed outside the lock)."""

    def __init__(self, size):
        super().__init__()
        self.size, self.lock = size, threading.Lock()

    def get_or_compute(self, key, compute):
        with self.lock:
            if key in self:
                self.move_to_end(key)
                return self[key]
        value = compute()
        with self.lock:
            self[key] = value
            while len(self) > self.size:
                self.popitem(last=False)
        return value


_cache = _Recent(512)


def _cached(key, compute):
    return _cache.get_or_compute(key, compute)


# -- Searching --------------------------------------------------------------------------------------


@dataclass
class Filters:
    collection: tuple = ()
    tag: tuple = ()
    status: tuple = ()
    owner: tuple = ()
    public_only: bool = False

    def terms(self, tags="tags"):
        """((field, (values…)), …): a card must hold one of the values of each field (`tags`: the
        wording's tags field, so that customers filter on the tags they are shown)."""
        parts = [(name, tuple(str(v).lower() if name == tags else str(v) for v in values))
                 for name, values in (("collection", self.collection), (tags, self.tag),
                                      ("status", self.status), ("owner", self.owner)) if values]
        if self.public_only:
            parts.append(("public", (True,)))
        return tuple(parts)


@dataclass
class Hit:
    """One result. `title` and `snippet` are of the searched wording (the current one for agents, the
    served one for customers); `served_title` and `served_snippet` are always the served (verified)
    wording, None for a card never verified."""

    id: int
    title: str
    snippet: str
    status: str
    reasons: list
    collection_id: int
    tags: list
    verified_at: str
    score: float
    explain: dict | None = None
    served_title: str | None = None
    served_snippet: str | None = None
    served_revision: int | None = None
    similarity: float | None = None  # closeness in meaning to the query (None: lexical only)


@dataclass
class Results:
    hits: list
    total: int
    did_you_mean: str | None = None
    next_cursor: str | None = None
    notice: str | None = None
    mode: str = "all"
    facets: dict | None = None
    groups: list = field(default_factory=list)  # the query as read: each word's alternatives (stem tuples)


def encode_cursor(offset):
    return base64.urlsafe_b64encode(f"o{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor):
    """An opaque cursor → offset; anything unreadable starts from the top."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        offset = int(raw[1:]) if raw.startswith("o") else 0
    except (ValueError, UnicodeDecodeError):
        return 0
    return offset if 0 <= offset <= 10_000 else 0


def search(text, filters=None, limit=10, offset=0, include_archived=False, facets=False, explain=False,
           prefix_last=False, synonyms=None, wording=AGENTS):
    """The one search every channel calls. `synonyms`: compiled table (see `compile_synonyms`);
    `wording`: AGENTS, or CUSTOMERS for what customer channels may find (kb.channels.finding). Raises
    `search_index.Rebuilding` while a corrupt index is rebuilt."""
    filters = filters or Filters()
    limit = max(1, min(int(limit), MAX_LIMIT))

    def read():
        s = _searcher()
        key = (id(s.reader()), s.reader().generation() if hasattr(s.reader(), "generation") else None,
               search_index.current_generation(search_index.index_dir()), text, repr(filters), limit, offset,
               include_archived, facets, explain, prefix_last,
               getattr(synonyms, "version", None) if synonyms else None, wording, vectors.version())
        return _cached(key, lambda: _as_typed_or_as_prefix(
            lambda as_prefix: _search(s, text, filters, limit, offset, include_archived, facets, explain,
                                      as_prefix, synonyms or {}, wording), text, prefix_last))

    return _guarded(read)


def _as_typed_or_as_prefix(run, text, prefix_last):
    """`run(prefix_last)`; when that finds nothing for a last word typed in part ("canc" and Enter), the
    words it starts, as as-you-type showed them a moment before."""
    results = run(prefix_last)
    if results.total or prefix_last or not text or text[-1:].isspace() or text.rstrip()[-1:] in '*"':
        return results
    started = run(True)
    if not started.total:
        return results
    word = text.split()[-1]
    started.notice = started.notice or f"Nothing has the word “{word}”: showing cards with words that start with it."
    return started


FACETS = {"collection": "collection", "status": "status", "tag": "tags", "owner": "owner"}


def read_query(reader, text, prefix_last=False, synonyms=None, wording=AGENTS):
    """(parsed, groups, did you mean) for `text`: its words, their synonyms, and the spellings the
    searched wording knows for the words it does not."""
    language = search_index.language()
    parsed = parse(text, language, current_app.config["SEARCH_MAX_QUERY_CHARS"], prefix_last)
    groups = apply_synonyms(parsed.groups, synonyms or {})
    corrected = correct_typos(reader, groups, language, wording)
    return parsed, groups, " ".join(g.correction or g.raw for g in groups) if corrected else None


def _search(s, text, filters, limit, offset, include_archived, facets, explain, prefix_last, synonyms, wording):
    language = search_index.language()
    if wording.content not in s.schema:  # a generation from before these fields, being rebuilt
        return Results([], 0, notice="Search is being updated; try again in a few minutes.")
    parsed, groups, did_you_mean = read_query(s.reader(), text, prefix_last, synonyms, wording)
    if not parsed.groups:
        message = parsed.notice or ("Type a word or two from the customer's question." if not (text or "").strip()
                                    else "Nothing to search for in that: try words from the customer's question.")
        return Results([], 0, notice=message)
    hidden = include_archived or policy.ARCHIVED in filters.status
    plan = engine.Plan(plan_groups(groups), "all", tuple(parsed.excluded), filters.terms(wording.tags),
                       () if hidden else (("status", policy.ARCHIVED),), (wording.content, wording.title))
    counted = tuple(FACETS.values()) if facets else ()
    meaning = _meaning(did_you_mean or meant(text, groups), wording)  # a correction's meaning, not the typo's
    depth = max(offset + limit, LEXICAL_K) if meaning is not None else offset + limit
    outcome = engine.run(s, plan, depth, counted)
    complete = []
    if outcome.total < FEW and len(groups) > 1:
        # Too few cards have every word: any word may match, ranked by BM25F (which favours cards
        # matching more of the words, and rarer ones).
        complete = [doc for doc, _, _ in outcome.top]
        plan.mode = "any"
        outcome = engine.run(s, plan, depth, counted)
    total, lexical_total = outcome.total, outcome.total
    close, added = {}, []
    if meaning is not None:
        weight = SEMANTIC_WEIGHT_ALL_WORDS if plan.mode == "all" and lexical_total else SEMANTIC_WEIGHT
        named = complete if plan.mode == "any" else outcome.top  # the cards holding every word
        outcome.top, close, added = _blend(s, plan, outcome.top, meaning, wording, weight,
                                           words_first=0 < len(named) <= NAMED)
        total += len(added)
        if facets:  # the cards added by meaning are counted too, so that the facets add up to the total
            engine.count(s, added, counted, outcome.facets)
    # Every group is a word or a phrase by now: a partial word became its expansions in correct_typos.
    read = [g.alternatives or [g.stems] for g in groups]
    stems = sorted({s for alternatives in read for alt in alternatives for s in alt})
    typed = {stem: g.correction or g.raw for g, alternatives in zip(groups, read, strict=True)
             for alt in alternatives for stem in alt} if explain else None
    by_meaning = set(added)
    hits = [_hit(s, doc, score, rank, explain, stems, language, wording, close.get(doc), typed, doc in by_meaning)
            for doc, score, rank in outcome.top[offset:offset + limit]]
    next_cursor = encode_cursor(offset + limit) if offset + limit < total else None
    facet_counts = None
    if facets:
        facet_counts = {name: sorted(((k, n) for k, n in outcome.facets[field].items() if k),
                                     key=lambda kv: (-kv[1], str(kv[0]))) for name, field in FACETS.items()}
    notice = parsed.notice
    if not lexical_total and total:
        notice = notice or "No card has these words; showing cards close in meaning."
    elif plan.mode == "any" and total and not complete:
        notice = notice or "No card matches every word; showing cards that match some of them."
    return Results(hits, total, did_you_mean, next_cursor, notice, plan.mode, facet_counts, read)


def meant(text, groups):
    """`text` as the model should read it: a partial word ("canc", typed as-you-type or as "canc*") as
    its likeliest whole word, or left out when it completes none (the model makes no sense of "canc":
    "What happens on my first day?" came first)."""
    for group in groups:
        if group.completion is None or group.completion == group.raw:
            continue
        at = text.rfind(group.raw)
        if at >= 0:
            end = at + len(group.raw)
            end += len(text[end:]) - len(text[end:].lstrip("*"))
            text = text[:at] + group.completion + text[end:]
    return text


def _meaning(text, wording):
    """The query's similarity to every card with a vector, or None when search is lexical (no model, or
    no vectors yet): (card ids, similarities, {card id: slot})."""
    model = embedding.current()
    if model is None:
        return None
    found = vectors.matrix()
    if not found.embedded():
        return None
    return found.scores(_query_vector(model, text[:current_app.config["SEARCH_MAX_QUERY_CHARS"]]),
                        "customers" if wording.customers else "agents")


_vectors_of_queries = _Recent(512)


def _query_vector(model, text):
    """The query's embedding, kept for the last 512 texts of this process: as-you-type sends the same
    meaning again and again ("refund arr", "refund arri" and "refund arriv" all read "refund arrive"), and
    the results cache misses them (other words), while an embedding is ~1.5 ms of CPU."""
    def embed():
        vector = model.embed([text])[0]
        vector.flags.writeable = False
        return vector
    return _vectors_of_queries.get_or_compute((model.key, text), embed)


def _blend(s, plan, top, meaning, wording, weight, words_first=False):
    """The lexical candidates `top` and the cards nearest in meaning, in one order (see SEMANTIC_WEIGHT).
    `words_first` (when a few cards hold every word, NAMED): the cards found only by meaning follow
    those found by words: the words name a card (an order code, a word only it has), and a card of a
    similar code is close in meaning but not the answer. (Putting those few ahead of every other card
    instead cost a keyword query of the support FAQ's tuning half its first place.)
    Returns (top as (docnum, final score, multiplier), {docnum: similarity}, the docnums added by meaning).
    A card added by meaning passes the plan's filters, and for customers must be public and live: the
    lexical plan has that from the customers' fields, which only public live cards have."""
    ids, sims, slot_of = meaning
    lexical = {doc: (final / rank if rank else 0.0, rank) for doc, final, rank in top}
    similarity = {}
    for doc, card_id in engine.card_ids(s, lexical).items():
        slot = slot_of.get(card_id)
        if slot is not None and sims[slot] > -1.5:
            similarity[doc] = float(sims[slot])
    nearest = [(card_id, sim) for card_id, sim in vectors.top(ids, sims, SEMANTIC_K) if sim >= SEMANTIC_FLOOR]
    documents = engine.documents_of(s, [card_id for card_id, _ in nearest])
    extra = {}
    for card_id, sim in nearest:
        for doc in documents.get(card_id, ()):
            if doc not in lexical:
                extra[doc] = sim
    if wording.customers:
        plan = replace(plan, filters=(*plan.filters, ("public", (True,))))
    admitted = engine.admitted(s, plan, extra)
    best_lexical = max((bm for bm, _ in lexical.values()), default=0.0) or 1.0
    best_similarity = max([*similarity.values(), *(extra[d] for d in admitted),
                           SEMANTIC_FULL if plan.mode == "all" else 0.0]) or 1.0
    blended = []
    for doc, (bm, rank) in lexical.items():
        words = bm / best_lexical
        meant = similarity[doc] / best_similarity if doc in similarity else words  # not embedded yet
        blended.append((doc, (weight * meant + (1 - weight) * words) * rank, rank))
    for doc, rank in admitted.items():
        similarity[doc] = extra[doc]
        blended.append((doc, weight * extra[doc] / best_similarity * rank, rank))
    after = set(admitted) if words_first else set()
    blended.sort(key=lambda item: (item[0] in after, -item[1], item[0]))
    return blended, similarity, list(admitted)


def warm_up(app):
    """Open this process's searcher, model, vector scan and vectors with one throwaway search (gunicorn's
    post_worker_init): opening them cost the first search ~0.7 s. A failure is logged, never raised."""
    import logging

    with app.app_context():
        try:
            search("warm up the search")
        except Exception:  # noqa: BLE001 — the first real search opens them instead
            logging.getLogger(__name__).exception("warming up search failed")


def same_question(texts):
    """Ids of the public cards whose served question has the same words as one of `texts`, in any order
    (folded stems, stop words out): the chatbot's exact matches, whatever their rank."""
    def read():
        s, language = _searcher(), search_index.language()
        if "public_title_key" not in s.schema:
            return []
        keys = {search_index.title_key(text, language) for text in texts} - {""}
        return sorted({int(s.stored_fields(doc)["id"]) for key in keys
                       for doc in engine.holding(s, "public_title_key", key)})

    return _guarded(read)


def _hit(s, docnum, score, rank, explain, stems, language, wording, similarity=None, words=None,
         by_meaning=False):
    stored = s.stored_fields(docnum)
    snippet = snippets.snippet(stored.get("plain", ""), stems, language, SNIPPET_CHARS)
    served_title, served_snippet = stored.get("served_title"), None
    if served_title is not None:  # the served wording is the current one unless it is stored apart
        served_snippet = snippet if "served_plain" not in stored else snippets.snippet(
            stored["served_plain"], stems, language, SNIPPET_CHARS)
    info = None
    if explain:
        info = {"relevance": round(score / rank, 4) if rank else score, "rank_multiplier": round(rank, 4),
                "similarity": None if similarity is None else round(similarity, 3),
                "status_factor": search_index.STATUS_FACTOR.get(stored["status"], 1.0),
                "matched": {} if by_meaning else matched_fields(
                    stored, stems, language, engine.held(s, docnum, wording.content, stems))}
        info["why"] = in_plain_words(info, stored["status"], words or {})
    title = served_title if wording.customers else stored["title"]
    tags = stored.get(wording.tags, "")
    return Hit(
        id=int(stored["id"]), title=title, snippet=served_snippet if wording.customers else snippet,
        status=stored["status"], reasons=[r for r in (stored.get("reasons") or "").split(",") if r],
        collection_id=int(stored["collection"]), tags=[t for t in tags.split(",") if t],
        verified_at=stored.get("verified_at") or None, score=round(score, 4), explain=info,
        served_title=served_title, served_snippet=served_snippet, served_revision=stored.get("served_revision"),
        similarity=None if similarity is None else round(similarity, 4))


CLOSE_IN_MEANING = 0.5  # similarity an expert reads as "close in meaning" (0.35: "related")


def in_plain_words(info, status, typed):
    """Why a card ranks where it does, for the experts who keep cards findable: which of the question's
    words it holds and where, whether it is close in meaning, and what its status does to its place."""
    parts = []
    for part, stems in info["matched"].items():
        words = list(dict.fromkeys(typed.get(stem, stem) for stem in stems))
        listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
        parts.append(f"matched the {part} word{'s' if len(words) > 1 else ''} {listed}")
    similarity = info["similarity"]
    if similarity is not None:
        if similarity >= CLOSE_IN_MEANING:
            parts.append("close in meaning to the question")
        elif similarity >= 0.35:
            parts.append("related in meaning to the question")
        if not info["matched"]:
            parts.append("found by meaning alone (no word in common)")
    factor = info["status_factor"]
    label = policy.LABELS.get(status, status.replace("_", " "))
    if factor > 1:
        parts.append(f"{label.lower()} (ranked ahead)")
    elif factor < 1:
        parts.append(f"{label.lower()} (ranked lower)")
    if info["rank_multiplier"] > factor + 1e-6:
        parts.append("often opened or copied by agents (ranked ahead)")
    text = "; ".join(parts) or "matched the question"
    return text[0].upper() + text[1:] + "."


def matched_fields(stored, stems, language, held):
    """Which parts of a card the query's terms were found in (title weighs ×3, tags and collection ×2);
    `held`: the terms the card's searched text holds, so that a term named nowhere visible is said to be
    in the notes or collection name only when it is (not every query word the card lacks)."""
    parts = {"title": stored.get("title", ""), "answer": stored.get("plain", ""),
             "tags": " ".join(stored.get("tags", "").split(","))}
    wanted, found, matched = set(stems), set(), {}
    for name, text in parts.items():
        terms = set(analysis.words(text, language)) & wanted
        if terms:
            matched[name] = sorted(terms)
            found |= terms
    elsewhere = (wanted & set(held)) - found
    if elsewhere:
        matched["notes or collection"] = sorted(elsewhere)
    return matched


def timed(fn, *args, **kwargs):
    """(result, milliseconds): the search log records how long the agent waited."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, (time.perf_counter() - started) * 1000

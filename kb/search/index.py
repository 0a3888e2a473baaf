"""The index as a projection of the database: schema, the feed applier, rebuilds and status.

Layout of `INDEX_DIR`: one folder per generation (`gen-…`) and a `CURRENT` file naming the live one.
`kb reindex` builds a new generation and replaces `CURRENT` atomically; searchers notice and reopen,
answering from the old generation meanwhile. Each generation stores its watermark (the last change-feed
row it applied) in a meta document written in the same Whoosh commit as the changes, so index and
watermark can never disagree. Applying a change twice is harmless (documents are replaced by id).
"""
import fcntl
import json
import logging
import math
import os
import pickle
import re
import shutil
import struct
import threading
import time
import traceback
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, selectinload
from whoosh import columns, fields, index
from whoosh.filedb.filetables import FileFormatError
from whoosh.index import LockError
from whoosh.reading import EmptyReader, MultiReader, SegmentReader
from whoosh.searching import Searcher
from whoosh.writing import MERGE_SMALL, SegmentWriter

from kb import markup
from kb.dates import utcnow
from kb.deferred import later
from kb.extensions import db
from kb.models import Card, CardChange, CardState, CardUsage, Revision
from kb.search import analysis, engine, vectors
from kb.search import whoosh_internals as wi
from kb.verification import policy

log = logging.getLogger(__name__)

META_ID = "__meta__"
# The layout of a generation's documents. A live generation written by an older version is rebuilt at
# once, in the background (see `upgrade_if_older`): 2 added the served wording's fields and made
# operators and signed numbers terms.
SCHEMA_VERSION = 2
BATCH = 1000
# A hole in the feed's sequence younger than this may be a transaction that took its number and has
# not committed yet (PostgreSQL); the watermark waits below it. Older holes are rollbacks.
GAP_GRACE = timedelta(seconds=60)

# Ranking multipliers applied after BM25F (see query.RankedBM25F): verified cards ahead of equally
# relevant ones that need a look, drafts after those; archived cards only appear when asked for.
# A draft's factor times the most that use can add (×1.3) stays below every card verified once, and
# halves its score: a short draft otherwise outranked a longer verified card on the same words (BM25
# favours short texts by up to ~1.5×). Measured on the relevance set (bench/relevance.py): drafts ×0.7
# MRR 0.879, ×0.6 0.879, ×0.5 0.882, ×0.4 0.860 (recall@3 0.917 but 0.900 at ×0.4).
STATUS_FACTOR = {
    policy.VERIFIED: 1.0,
    policy.DUE_SOON: 1.0,
    policy.NEEDS_VERIFICATION: 0.8,
    policy.DRAFT: 0.5,
    policy.ARCHIVED: 0.35,
}
USAGE_STEP = 0.03  # per doubling of use: a card used 1,000 times ranks ~30% higher, never more


def usage_level(views, copies):
    """Use on a log scale (copies count triple: an answer sent to a customer). Changes rarely, so a
    view only touches the index when it moves a card to the next level."""
    return min(10, int(math.log2(1 + views + 3 * copies)))


# Field weights. A word is looked up in two posting lists: the title's (short, so cheap) and one
# `content` field holding the title once, tags and collection name twice, the answer and the notes.
# (One list per field, as in Whoosh's usual multi-field query, cost 2.5x more per search; one content
# field alone, with the title repeated, lost relevance: a title match must add to, not saturate with,
# the answer's occurrences.) The query weighs title matches ×2 on top of their place in `content`.
KEYWORDS_REPEAT = 2
# Between parts, so that a phrase cannot run from the end of one part into the next.
SEPARATOR = " kbsep "


def schema(language):
    text = analysis.analyzer(language)
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        content=fields.TEXT(analyzer=text),  # title, tags and collection name ×2, answer, internal notes
        title=fields.TEXT(analyzer=text, stored=True, phrase=False),
        plain=fields.STORED(),  # the answer as text (see `plain`): snippets are cut from it
        # The words as typed (folded, unstemmed): what "Did you mean" may suggest. Each word once in the
        # whole index, in a few "__vocab__" documents, not once per card: that halved the postings.
        vocabulary=fields.KEYWORD(),
        # What customers are matched on: a public card's served (verified) wording, with the same layout
        # as `content` and `title` but never its notes or a pending edit. Only public, live cards that
        # have a verified revision hold these; customers' "Did you mean" draws on their own vocabulary.
        public_content=fields.TEXT(analyzer=text),
        public_title=fields.TEXT(analyzer=text, phrase=False),
        public_tags=fields.KEYWORD(stored=True, commas=True, lowercase=True),
        public_title_key=fields.ID(),
        public_vocabulary=fields.KEYWORD(),
        # The served wording of every card verified once (public or not), to show beside results:
        # `served_plain` only where it differs from `plain` (an edit awaits verification).
        served_title=fields.STORED(),
        served_plain=fields.STORED(),
        served_revision=fields.STORED(),
        collection=fields.ID(stored=True),
        tags=fields.KEYWORD(stored=True, commas=True, lowercase=True),
        status=fields.ID(stored=True),
        owner=fields.ID(stored=True),
        public=fields.BOOLEAN(stored=True),
        reasons=fields.STORED(),
        verified_at=fields.STORED(),
        # Normalised title (stems, sorted, no stop words): cards sharing it are possible duplicates.
        title_key=fields.ID(stored=True),
        rank=fields.COLUMN(columns.NumericColumn("f", default=1.0)),  # ranking multiplier, read per hit
        meta=fields.STORED(),
    )


def title_key(title, language):
    return " ".join(sorted(set(analysis.words(title, language))))


_CODE = re.compile(r"^(?:```|~~~)[^\n]*\n(.*?)^(?:```|~~~)[ \t]*$|(`+)(.+?)\2", re.M | re.S)


def plain(markdown):
    """An answer as searchable text: Markdown marks out, but code kept as written, so that `2 ** 3` or
    `a // b` keep their operators (stripping emphasis marks would take `**` and `*` out of code too)."""
    out, at = [], 0
    for match in _CODE.finditer(markdown or ""):
        out.append(markup.strip_markdown(markdown[at:match.start()]))
        out.append(match.group(1) if match.group(1) is not None else match.group(3))
        at = match.end()
    out.append(markup.strip_markdown((markdown or "")[at:]))
    return " ".join(" ".join(out).split())


# -- Generations ------------------------------------------------------------------------------------

def index_dir():
    return current_app.config["INDEX_DIR"]


def language():
    return current_app.config["SEARCH_LANGUAGE"]


@contextmanager
def _swap_lock(root):
    """Serialises creating and swapping generations between processes (not searches, not writers)."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".swap.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def current_generation(root):
    try:
        with open(os.path.join(root, "CURRENT")) as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def _new_generation(root, lang):
    name = f"gen-{utcnow():%Y%m%d%H%M%S%f}"
    path = os.path.join(root, name)
    os.makedirs(path)
    ix = index.create_in(path, schema(lang))
    with ix.writer(compound=COMPOUND) as writer:
        writer.add_document(id=META_ID, meta=json.dumps(new_meta(0, lang)))
    return name, ix


def new_meta(watermark, lang, vocab_docs=0):
    return {"watermark": watermark, "language": lang, "vocab_docs": vocab_docs, "schema": SCHEMA_VERSION}


def _point_to(root, name):
    """Atomically make `name` the live generation; keep the one before it for searchers still on it."""
    tmp = os.path.join(root, "CURRENT.tmp")
    with open(tmp, "w") as handle:
        handle.write(name)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, os.path.join(root, "CURRENT"))
    keep = {name, *sorted(n for n in os.listdir(root) if n.startswith("gen-") and n < name)[-1:]}
    for old in os.listdir(root):
        if old.startswith("gen-") and old not in keep:
            shutil.rmtree(os.path.join(root, old), ignore_errors=True)


def open_index(root=None, create=True):
    """The live generation, created empty (watermark 0) on first use."""
    root = root or index_dir()
    name = current_generation(root)
    if name is None:
        if not create:
            return None, None
        with _swap_lock(root):
            name = current_generation(root)
            if name is None:
                name, ix = _new_generation(root, language())
                _point_to(root, name)
                return name, ix
    return name, _open_dir(os.path.join(root, name))


def _open_dir(path, attempts=10):
    """`whoosh.index.open_dir`, read again when a writer in another thread or process replaced the TOC
    between listing it and opening it (Whoosh retries this in `reader()`, not when opening an index)."""
    for attempt in range(attempts):
        try:
            return index.open_dir(path)
        except FileNotFoundError:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)
        except TypeError as error:  # an empty TOC file (Whoosh reads its first byte with ord())
            raise index.IndexError(f"unreadable table of contents in {path}: {error}") from error


def read_meta(searcher):
    stored = searcher.document(id=META_ID)
    return json.loads(stored["meta"]) if stored else {"watermark": 0}


# -- Documents --------------------------------------------------------------------------------------

@dataclass
class Loaded:
    """A batch of cards and what their documents read besides: stored states, use, verified revisions."""

    cards: list
    states: dict
    usage: dict
    verified: dict


def _load_cards(session, card_ids):
    """One query per kind of row for the whole batch."""
    cards = session.scalars(
        select(Card).where(Card.id.in_(card_ids)).options(selectinload(Card.tags), selectinload(Card.collection))
    ).all()
    states = dict(session.execute(select(CardState.card_id, CardState).where(CardState.card_id.in_(card_ids))).all())
    usage = {row.card_id: usage_level(row.views, row.copies)
             for row in session.scalars(select(CardUsage).where(CardUsage.card_id.in_(card_ids)))}
    verified = dict(session.execute(
        select(Revision.card_id, Revision)
        .join(Card, (Card.id == Revision.card_id) & (Card.verified_revision_number == Revision.number))
        .where(Revision.card_id.in_(card_ids))).all())
    return Loaded(cards, states, usage, verified)


def _served(card, revision, current_plain, lang):
    """The fields of the served wording: stored for every card verified once, searchable by customers
    only for a public, live card."""
    if revision is None:
        return {}
    served_plain = current_plain if revision.number == card.revision_number else plain(revision.answer)
    out = {"served_title": revision.title, "served_revision": revision.number}
    if served_plain != current_plain:
        out["served_plain"] = served_plain
    if card.is_public and not card.is_archived:
        tags = revision.tags
        public = [revision.title] + [" ".join(tags)] * KEYWORDS_REPEAT + [served_plain]
        out.update(public_content=SEPARATOR.join(public),
                   public_title=revision.title, public_tags=",".join(t.lower() for t in tags),
                   public_title_key=title_key(revision.title, lang))
    return out


def documents(loaded, lang):
    for card in loaded.cards:
        yield card.id, document(card, loaded.states.get(card.id), loaded.usage.get(card.id, 0), lang,
                                loaded.verified.get(card.id))


def document(card, state, usage, lang, verified=None):
    """The indexed form of a card (`verified`: its verified revision). Status comes from the stored state
    (kept current at every commit, and by the checker for lapses, both of which write feed rows)."""
    if card.is_archived:
        status = policy.ARCHIVED
    elif state is not None:
        status = state.status
    else:
        status = policy.VERIFIED if card.verified_revision_number else policy.DRAFT
    tags = [t.name for t in card.tags]
    keywords = " ".join(tags + [card.collection.name])
    text = plain(card.answer)
    content = SEPARATOR.join([card.title] + [keywords] * KEYWORDS_REPEAT + [text, card.internal_notes or ""])
    return {
        "id": str(card.id),
        "content": content,
        "title": card.title,
        "plain": text,
        "collection": str(card.collection_id),
        "tags": ",".join(t.lower() for t in tags),
        "status": status,
        "owner": str(card.owner_id),
        "public": bool(card.is_public),
        "reasons": state.reasons if state is not None and not card.is_archived else "",
        "verified_at": card.verified_at.isoformat() if card.verified_at else "",
        "title_key": title_key(card.title, lang),
        "rank": STATUS_FACTOR.get(status, 1.0) * (1 + USAGE_STEP * usage),
        **_served(card, verified, text, lang),
    }


# The two spelling vocabularies: the agents' (every card's current wording) and the customers' (served
# public wording only), each in documents of its own.
VOCABULARIES = {"vocabulary": "__vocab__", "public_vocabulary": "__pvocab__"}


def words_of(doc):
    """{vocabulary field: the words of `doc` it offers}."""
    out = {"vocabulary": analysis.vocabulary(doc["title"], doc["plain"], doc["tags"].replace(",", " "))}
    if "public_title" in doc and "served_plain" not in doc and (doc["public_title"], doc["public_tags"]) == (
            doc["title"], doc["tags"]):
        out["public_vocabulary"] = out["vocabulary"]  # the served wording is the current one
    elif "public_title" in doc:
        out["public_vocabulary"] = analysis.vocabulary(doc["public_title"], doc.get("served_plain", doc["plain"]),
                                                       doc["public_tags"].replace(",", " "))
    return out


def add_vocabulary(writer, words, name, chunk=5000):
    """Index words the correctors have not seen yet ({field: words}), in a few documents per field;
    returns how many documents."""
    count = 0
    for field, prefix in VOCABULARIES.items():
        ordered = sorted(words.get(field, ()))
        if not ordered or field not in writer.schema:
            continue
        for n, start in enumerate(range(0, len(ordered), chunk)):
            writer.add_document(id=f"{prefix}{name}-{n}", **{field: " ".join(ordered[start:start + chunk])})
        count += -(-len(ordered) // chunk)
    return count


def _fit(doc, schema_):
    """The fields a generation's schema knows (one written by an older version, until it is rebuilt)."""
    return {k: v for k, v in doc.items() if k in schema_}


def _write_cards(writer, session, card_ids, lang, searcher, new_words, recorder=None):
    loaded = _load_cards(session, card_ids)
    if recorder is not None:
        recorder.add(loaded, asked=card_ids)
    found, reader = set(), searcher.reader()
    for card_id, doc in documents(loaded, lang):
        found.add(card_id)
        for field, words in words_of(doc).items():
            if field in writer.schema:
                new_words.setdefault(field, set()).update(w for w in words if (field, w) not in reader)
        _replace(writer, searcher, _fit(doc, writer.schema))
    for gone in set(card_ids) - found:
        writer.delete_by_term("id", str(gone), searcher=searcher)


def _replace(writer, searcher, doc):
    """`writer.update_document(**doc)`, finding the old document through `searcher` (the committed state):
    Whoosh's own opens a reader of every segment for each call."""
    for docnum in searcher.document_numbers(id=doc["id"]):
        writer.delete_document(docnum)
    writer.add_document(**doc)


# -- Applying the feed ------------------------------------------------------------------------------

@dataclass
class SyncResult:
    applied: int = 0  # feed rows consumed
    watermark: int = 0
    deferred: bool = False  # another process held the lock past the timeout: its feed rows wait


def _pending(session, watermark, limit):
    rows = session.execute(
        select(CardChange.seq, CardChange.card_id, CardChange.changed_at)
        .where(CardChange.seq > watermark).order_by(CardChange.seq).limit(limit)
    ).all()
    if not rows:
        return [], watermark
    # Advance the watermark only over a contiguous run, unless the hole is old enough to be a rollback.
    new_mark, horizon = watermark, utcnow() - GAP_GRACE
    for seq, _, changed_at in rows:
        if seq != new_mark + 1 and changed_at > horizon:
            break
        new_mark = seq
    return rows, new_mark


# Segments stay as separate files. Whoosh reads a sub-file of a compound segment through a BytesIO over
# its memory map, which copies the sub-file: opening a reader of a 100,000-card segment copied ~150 MB
# (~190 ms of CPU), and every worker opens one after each edit deletes a document from it (28% of the
# server's CPU under issue 12's load). A plain file is read where it lies.
COMPOUND = False


def open_searcher(ix, attempts=10):
    """A searcher on `ix`'s latest commit whose readers hold all their files (`whoosh_internals.hold_files`),
    read again if a merge removed a segment meanwhile. Not `ix.searcher()`: a segment failing to open left
    the readers opened before it to the garbage collector, files open."""
    for attempt in range(attempts):
        readers = []
        try:
            toc = wi.read_toc(ix)
            for segment in toc.segments:
                readers.append(SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation))
                wi.hold_files(readers[-1])
            break
        except OSError:
            for reader in readers:
                reader.close()
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)
    return Searcher(combined(readers, toc), fromindex=ix)


def combined(readers, toc):
    """One reader over the segment readers of the commit `toc`, as Whoosh would make it."""
    if not readers:
        return EmptyReader(toc.schema)
    if len(readers) == 1:
        return readers[0]
    return MultiReader(readers, generation=toc.generation)


def _writer(ix, timeout):
    """A writer that waits for the lock up to `timeout` seconds; None if it is still held."""
    try:
        return SegmentWriter(ix, timeout=timeout, delay=0.05, compound=COMPOUND)
    except LockError:
        return None


MERGE_LEVELS = 3  # segments of up to 999 documents are merged by feed commits; larger ones by Whoosh's policy
MAX_SEGMENTS = 6  # beyond this many, Whoosh's own policy merges the small ones too


def _level(doc_count):
    """A segment's size class: 1 for under 10 documents, 2 under 100, 3 under 1,000, …"""
    return len(str(max(doc_count, 1)))


def merge_small_segments(writer, segments):
    """Merge policy for feed commits. Each edit commits a segment of a card or two, and searching seven
    segments cost 40% more than one (measured at 10,000 cards), so commits merge; but merging every small
    segment into each commit rewrote ~150 documents an edit (~250 ms of CPU at 20,000 cards), the largest
    CPU cost of an edit under load. So small segments merge like a counter's digits: the commit takes
    the smallest segment while it is of no higher size class than the documents gathered so far, and
    the next one on the same terms. A document is rewritten about once per class, the index keeps the
    largest segment and at most one small segment per class, and merges beyond 999 documents are left
    to Whoosh's policy and `kb index-status --optimize`."""
    if len(segments) > MAX_SEGMENTS:
        return MERGE_SMALL(writer, segments)
    ordered = sorted(segments, key=lambda seg: seg.doc_count_all())
    gathered, merged = writer.doc_count(), 0
    for seg in ordered[:-1]:  # never the largest
        size = seg.doc_count_all()
        if _level(size) > min(_level(gathered), MERGE_LEVELS):
            break
        reader = SegmentReader(writer.storage, writer.schema, seg)
        writer.add_reader(reader)
        reader.close()
        gathered, merged = gathered + size, merged + 1
    return ordered[merged:]


def _committed(writer, root, name):
    """The index as committed, for a writer holding the lock: this thread's search reader when it is on
    the latest commit, or a new reader otherwise. Opening every segment afresh copies all its postings
    into memory (whoosh-reloaded's BufferFile): ~36 ms per edit at 20,000 cards."""
    from kb.search import query  # query reads the index through this module

    searcher = query.held_as_is(root, name)
    if searcher is None or searcher.reader().generation() != writer.generation - 1:
        return writer.searcher()
    return nullcontext(searcher)  # the thread's own: left open


def apply_feed(root=None, timeout=None, session=None, max_rounds=None):
    """Bring the live generation up to the feed head. Never raises for a busy lock: returns deferred."""
    root = root or index_dir()
    if is_rebuilding(root):  # the feed keeps the changes; the rebuild replays them into the new generation
        return SyncResult(deferred=True)
    timeout = current_app.config["SEARCH_WRITER_TIMEOUT"] if timeout is None else timeout
    own_session = session is None
    session = session or Session(db.engine)
    result = SyncResult()
    lang = language()
    try:
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            rounds += 1
            name, ix = open_index(root)
            writer = _writer(ix, timeout)
            if writer is None:
                result.deferred = True
                return result
            try:
                with _committed(writer, root, name) as searcher:  # the committed state, read under the lock
                    meta = read_meta(searcher)
                    rows, new_mark = _pending(session, meta["watermark"], BATCH * 5)
                    result.watermark = meta["watermark"]
                    if not rows:
                        writer.cancel()
                        break
                    card_ids = sorted({card_id for _, card_id, _ in rows})
                    new_words = {}
                    recorder = vectors.Recorder()
                    try:
                        for start in range(0, len(card_ids), BATCH):
                            _write_cards(writer, session, card_ids[start:start + BATCH], lang, searcher,
                                         new_words, recorder)
                    finally:
                        recorder.done(new_mark)
                    vocab_docs = meta.get("vocab_docs", 0) + add_vocabulary(writer, new_words, f"{new_mark}")
                    _replace(writer, searcher, {"id": META_ID, "meta": json.dumps(
                        {**meta, "watermark": new_mark, "vocab_docs": vocab_docs})})
                writer.commit(mergetype=merge_small_segments)
            except BaseException:
                writer.cancel()  # a failed write must not leave the lock held
                raise
            _prune_shared(ix)
            result.applied += len(rows)
            result.watermark = new_mark
            if new_mark == meta["watermark"] or len(rows) < BATCH * 5:
                break
        _sync_vectors(session)
        return result
    finally:
        if own_session:
            session.close()


def _sync_vectors(session):
    """The semantic layer follows the same feed (the index recorded the wordings it loaded): embed them,
    after the index's commit and outside its lock. A failure is logged, never raised: search falls back to
    lexical for what it lacks."""
    try:
        vectors.sync(session)
    except Exception:  # noqa: BLE001
        log.exception("bringing the vectors up to the change feed failed")


def feed_head(session=None, kind=None):
    """The newest feed row; of one `kind` if given (CONTENT: what changes what a search finds or shows,
    since usage rows can wait)."""
    query = select(func.max(CardChange.seq))
    if kind is not None:
        query = query.where(CardChange.kind == kind)
    return (session or db.session).scalar(query) or 0


# -- Rebuilding -------------------------------------------------------------------------------------

def reindex(root=None, procs=1, progress=None):
    """Build a new generation from the database, swap it in, then apply what changed meanwhile.

    Searches keep using the old generation until the swap; writes during the build land in the old
    one and in the feed, which the new generation replays from the head it started at.
    """
    root = root or index_dir()
    lang = language()
    started = time.perf_counter()
    os.makedirs(root, exist_ok=True)
    with Session(db.engine) as session:
        head = feed_head(session)
        name = f"gen-{utcnow():%Y%m%d%H%M%S%f}"
        path = os.path.join(root, name)
        os.makedirs(path)
        ix = index.create_in(path, schema(lang))
        # Postings are pooled in memory up to `limitmb` per process, then spilled to sorted runs on disk
        # (pickled and merged: slow). SEARCH_INDEX_MEMORY_MB sets it; 100,000 cards need ~1.5 GB a process.
        limit = current_app.config["SEARCH_INDEX_MEMORY_MB"]
        kwargs = {"procs": procs, "limitmb": limit, "multisegment": True} if procs > 1 else {"limitmb": limit}
        kwargs["compound"] = COMPOUND
        writer = ix.writer(**kwargs)
        count, vocabulary = 0, {}
        recorder = vectors.Recorder()  # the semantic layer's wordings from the same loads
        try:
            ids = session.scalars(select(Card.id).order_by(Card.id)).all()
            for start in range(0, len(ids), BATCH):
                loaded = _load_cards(session, ids[start:start + BATCH])
                recorder.add(loaded)
                for _, doc in documents(loaded, lang):
                    for field, words in words_of(doc).items():
                        vocabulary.setdefault(field, set()).update(words)
                    writer.add_document(**doc)
                count += len(loaded.cards)
                session.expunge_all()
                if progress:
                    progress(count, len(ids))
            vocab_docs = add_vocabulary(writer, vocabulary, "0")
            writer.add_document(id=META_ID, meta=json.dumps(new_meta(head, lang, vocab_docs)))
            # One segment from one process; with several, one each (merging them would rewrite it all).
            writer.commit(optimize=procs == 1)
            recorder.done(head, complete=True)
        except BaseException:
            writer.cancel()
            shutil.rmtree(path, ignore_errors=True)
            raise
        finally:
            recorder.done(0)
    with _swap_lock(root):
        _point_to(root, name)
    caught_up = apply_feed(root)
    return {"generation": name, "documents": count, "seconds": time.perf_counter() - started,
            "caught_up": caught_up.applied}


def optimize(root=None, timeout=None):
    """Merge the live generation into one segment (faster searches after many small commits)."""
    _, ix = open_index(root or index_dir())
    writer = _writer(ix, current_app.config["SEARCH_WRITER_TIMEOUT"] if timeout is None else timeout)
    if writer is None:
        return False
    try:
        writer.commit(optimize=True)
    except BaseException:
        writer.cancel()
        raise
    _prune_shared(ix)
    return True


def _prune_shared(ix):
    """After a commit: the decoded arrays of merged-away segments go (see engine.SHARED)."""
    try:
        engine.prune_shared(ix.storage.folder, wi.segment_ids(ix))
    except OSError:  # the next commit tries again
        log.warning("could not prune decoded postings in %s", ix.storage.folder, exc_info=True)


# -- Rebuilding in the background: an older generation, or a corrupted one ------------------------------

def is_older(meta):
    return meta.get("schema", 1) < SCHEMA_VERSION


_upgrading = threading.Lock()  # one rebuild thread per process
upgrade_thread = None  # the last one started (`wait_for_rebuild` waits for it)
UPGRADE_RETRY_SECONDS = 600  # after a failed upgrade, before the next search tries again
REPAIR_RETRY_SECONDS = 30  # after a failed repair (the database down?): searches answer nothing meanwhile
_failed_at = {}  # {job name: when its last run failed}


def _in_background(job, retry_seconds, root):
    """Run `job(root)` in a thread unless one of this process's rebuilds is running, or `job` failed less
    than `retry_seconds` ago. Returns the thread, or None."""
    global upgrade_thread
    failed = _failed_at.get(job.__name__)
    if failed and time.monotonic() - failed < retry_seconds:
        return None
    if not _upgrading.acquire(blocking=False):
        return None
    app = current_app._get_current_object()

    def run():
        try:
            with app.app_context():
                job(root)
            _failed_at.pop(job.__name__, None)
        except Exception:  # noqa: BLE001 — searches go on meanwhile; a later one retries
            _failed_at[job.__name__] = time.monotonic()
            log.exception("rebuilding the search index (%s) failed", job.__name__)
        finally:
            _upgrading.release()

    upgrade_thread = threading.Thread(target=run, name=f"kb-index-{job.__name__}", daemon=True)
    upgrade_thread.start()
    return upgrade_thread


def wait_for_rebuild(timeout=None):
    """Wait for this process's background rebuild, if any; True once none is running."""
    thread = upgrade_thread
    if thread is not None:
        thread.join(timeout)
    return thread is None or not thread.is_alive()


def upgrade_if_older(meta, root=None):
    """After a deployment upgrade the live generation may have been written by an older version: rebuild
    it in a background thread (one process at a time), while searches answer from it as it is (customers'
    searches find nothing there until the swap: their fields are new). Returns the thread, or None."""
    if not is_older(meta):
        return None
    return _in_background(upgrade, UPGRADE_RETRY_SECONDS, root or index_dir())


@contextmanager
def _rebuild_lock(root):
    """The host's one rebuild at a time, across processes: yields False when another one holds it."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".upgrade.lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_rebuild_running(root=None):
    """Whether a process on this host holds the rebuild lock (`kb index-status` asks from outside)."""
    with _rebuild_lock(root or index_dir()) as mine:
        return not mine


def upgrade(root=None):
    """Rebuild the live generation if an older version wrote it; True if this call rebuilt it. Another
    process holding the upgrade lock is doing it already: then nothing happens here."""
    root = root or index_dir()
    with _rebuild_lock(root) as mine:
        if not mine:
            return False
        _, ix = open_index(root)
        with open_searcher(ix) as searcher:
            if not is_older(read_meta(searcher)):
                return False  # rebuilt by another process meanwhile
        result = reindex(root)
        log.info("search index rebuilt for schema %s: %s cards in %.1f s", SCHEMA_VERSION,
                 result["documents"], result["seconds"])
        return True


# What Whoosh raises reading a damaged generation: a truncated, garbage, empty or missing segment file, a
# garbage or empty TOC (see `_open_dir`), a CURRENT naming a missing generation; a term dictionary with a
# garbage header (FileFormatError).
CORRUPTION = (struct.error, EOFError, ValueError, OSError, index.IndexError, pickle.UnpicklingError, KeyError,
              IndexError, FileFormatError)
REBUILDING_NOTICE = "Search is being rebuilt after a problem with the index; results are back in a minute."
RETRY_AFTER_SECONDS = 60
RETRY_PAUSE = 0.1  # before reading a failed generation again, freshly opened
# A generation this process built failing this soon is a bug in reading it, not new damage: raised, not
# rebuilt again and again.
REBUILT_GRACE_SECONDS = 600
_broken = {}  # {index root: the generation this process found corrupt}
_built = {}  # {index root: (generation, when)} built by `repair`


class Rebuilding(Exception):
    """The live generation is corrupt and a new one is being built from the database: nothing to search yet."""

    def __init__(self):
        super().__init__(REBUILDING_NOTICE)


def is_rebuilding(root=None):
    """True while the live generation is one this process found corrupt (until a rebuild swaps it out, here
    or in another process)."""
    root = root or index_dir()
    broken = _broken.get(root)
    if broken is None:
        return False
    if current_generation(root) != broken:
        _broken.pop(root, None)
        return False
    return True


def reading(read, root=None, reset=None, repair=True):
    """`read()`, which reads the live generation, with damage told apart from a race. A read failing with one
    of CORRUPTION is tried once more after a pause (`reset` first drops what it had open, so the index is
    opened afresh); failing again, the generation is corrupt: it is rebuilt in the background and this
    raises Rebuilding, as it does at once while that rebuild runs. (Races on the TOC are retried further
    down, in `_open_dir` and `query.refreshed`: those are not damage.) `repair` False only reports."""
    root = root or index_dir()
    if is_rebuilding(root):
        if repair:
            repair_in_background(root)
        raise Rebuilding()
    for attempt in range(2):
        name = current_generation(root)
        try:
            return read()
        except CORRUPTION as error:
            if not _raised_by_whoosh(error):
                raise  # a KeyError or ValueError of kb's own is a bug to see, not damage to rebuild
            # Whoosh leaves the files it opened before failing to the frames of the traceback: free them now.
            traceback.clear_frames(error.__traceback__)
            if reset is not None:
                reset()
            if attempt:
                found_corrupt(error, root, name, repair)
            time.sleep(RETRY_PAUSE)


_WHOOSH = os.path.dirname(index.__file__) + os.sep
_KB = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _raised_by_whoosh(error):
    """Whether `error` (or the error it was raised from) came out of Whoosh's own code: the innermost
    frame of Whoosh or kb is Whoosh's (a missing file is raised by the standard library under Whoosh)."""
    while error is not None:
        tb, last = error.__traceback__, None
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if filename.startswith((_WHOOSH, _KB)):
                last = filename
            tb = tb.tb_next
        if last is not None and last.startswith(_WHOOSH):
            return True
        error = error.__cause__
    return False


def found_corrupt(error, root, name, repair=True):
    """Mark generation `name` corrupt and start rebuilding it (`repair` False: only raise); raises
    Rebuilding, or `error` itself when this process built that generation minutes ago (then the fault is
    not in the files)."""
    built = _built.get(root)
    if built and built[0] == name and time.monotonic() - built[1] < REBUILT_GRACE_SECONDS:
        raise error
    if not repair:
        raise Rebuilding() from error
    if _broken.get(root) != name:
        log.error("search index generation %s is unreadable (%s: %s); rebuilding it from the database", name,
                  type(error).__name__, error)
    _broken[root] = name
    repair_in_background(root)
    raise Rebuilding() from error


_repair_tried_at = {}
REPAIR_START_EVERY = 5  # seconds: while another process rebuilds, searches ask again no more often


def repair_in_background(root=None):
    """Start rebuilding a corrupt generation (one rebuild per host: the others find the lock taken)."""
    root = root or index_dir()
    now = time.monotonic()
    if now - _repair_tried_at.get(root, -REPAIR_START_EVERY) < REPAIR_START_EVERY:
        return None
    _repair_tried_at[root] = now
    return _in_background(repair, REPAIR_RETRY_SECONDS, root)


def repair(root=None):
    """Rebuild the live generation from the database if it is still the one found corrupt; True if this
    call rebuilt it. The corrupt generation is removed once the new one is live."""
    root = root or index_dir()
    with _rebuild_lock(root) as mine:
        broken = _broken.get(root)
        if not mine or broken is None or current_generation(root) != broken:
            return False
        result = reindex(root)
        _built[root] = (result["generation"], time.monotonic())
        _repair_tried_at.pop(root, None)
        if broken:
            shutil.rmtree(os.path.join(root, broken), ignore_errors=True)
        log.info("search index repaired: %s cards in %.1f s", result["documents"], result["seconds"])
        return True


# -- Status -----------------------------------------------------------------------------------------

def status(root=None, repair=True):
    """The live generation's counts, and `state`: "ok", "rebuilding", or (`repair` False, as from the CLI,
    whose process would not live to finish a rebuild) "corrupt" when nobody is rebuilding it."""
    root = root or index_dir()
    head = feed_head()
    try:
        info = reading(lambda: _status(root, head), root, repair=repair)
    except Rebuilding:
        info = None
    if info is None:
        state = "rebuilding" if repair or is_rebuilding(root) or is_rebuild_running(root) else "corrupt"
        return {"state": state, "generation": current_generation(root), "documents": None, "watermark": None,
                "feed_head": head, "lag": None, "usage_waiting": None, "segments": None, "language": language(),
                "schema": None}
    return info


def _status(root, head):
    """`lag`: content changes the index has not applied; `usage_waiting`: usage-level rows, which wait
    for the next content change or the index-feed job on purpose (kb.search.usage)."""
    name, ix = open_index(root, create=False)
    if ix is None:
        return {"state": "ok", "generation": None, "documents": 0, "watermark": 0, "feed_head": head, "lag": head,
                "usage_waiting": 0, "segments": 0, "language": language(), "schema": SCHEMA_VERSION}
    with open_searcher(ix) as searcher:
        meta = read_meta(searcher)
        documents = searcher.doc_count() - 1 - meta.get("vocab_docs", 0)  # cards only
        segments = len(wi.segment_ids(ix))
    waiting = dict(db.session.execute(select(CardChange.kind, func.count()).where(
        CardChange.seq > meta["watermark"]).group_by(CardChange.kind)).all())
    return {"state": "ok", "generation": name, "documents": documents, "watermark": meta["watermark"],
            "feed_head": head, "lag": waiting.get(CardChange.CONTENT, 0), "segments": segments,
            "usage_waiting": waiting.get(CardChange.USAGE, 0),
            "language": meta.get("language", language()), "schema": meta.get("schema", 1)}


# -- Keeping up after commits -----------------------------------------------------------------------

_local = threading.local()


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    """A commit that wrote feed rows applies them soon, so the editor finds their change: after the
    response in a request (nobody waits for the index lock another process may hold), at once in a
    command. The next search also catches up (`query.searcher`) if it comes first.
    """
    if not session.info.pop("kb.feed_written", False) or not has_app_context():
        return
    if not current_app.config.get("SEARCH_SYNC_ON_COMMIT", True) or getattr(_local, "syncing", False):
        return
    later(sync_quietly)


def sync_quietly():
    """Apply the feed; a failure or a busy lock is logged, never raised: the commit stands, and the feed
    still holds the change for the next search or the index job. Runs on a session of its own."""
    if getattr(_local, "syncing", False):
        return
    _local.syncing = True
    try:
        result = apply_feed()
        if result.deferred:
            log.info("index busy; changes left to the feed (watermark %s)", result.watermark)
    except Exception:  # noqa: BLE001 — the database commit stands; the feed keeps the change
        log.exception("applying the change feed to the search index failed")
    finally:
        _local.syncing = False


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session, previous_transaction):
    if not session.in_transaction():
        session.info.pop("kb.feed_written", None)

"""The semantic layer: a vector per card wording, a projection beside the Whoosh index, kept per host.

Why this shape. Like the index, the vectors are derived data that follow the change feed and can be
rebuilt from the database, so each host keeps its own, in a small SQLite file of its own (VECTORS_DIR):
several worker processes share it safely, a crash loses nothing the feed cannot replay, and it needs no
service. Vectors are keyed by a hash of the model and the text, so a rebuild re-embeds nothing unchanged
and a card whose served and current wordings are the same has one vector. Two wordings per card:
`served` (the verified title and answer: what customers are matched on) and `agents` (the current title
and answer, pending edits included; internal notes are found by their words only). A change embeds at
once when it is small (an edit: findable by meaning within the commit's second); a rebuild's 100,000
cards wait in `wanted` and are embedded in the background (`backfill`), while search stays lexical for
the cards not yet embedded.

Each process scans its own copy of the vectors (`Matrix`): uint8 rows, 384 bytes a wording, scored
against the query with onnxruntime's integer matrix product (~2 ms for 100,000 rows on one core).
"""
import atexit
import hashlib
import logging
import os
import sqlite3
import threading
import time
from contextlib import closing

import numpy as np
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from kb.extensions import db
from kb.models import Card, CardChange
from kb.search import embedding

log = logging.getLogger(__name__)

FILE = "vectors.sqlite"
INLINE = 32  # wordings embedded inside the feed's commit; more wait for the background backfill
SCALE = 127.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS vector (hash TEXT PRIMARY KEY, data BLOB NOT NULL, scale REAL NOT NULL);
CREATE TABLE IF NOT EXISTS wanted (hash TEXT PRIMARY KEY, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS card (id INTEGER PRIMARY KEY, served TEXT, agents TEXT, seq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS card_seq ON card (seq);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def folder():
    return current_app.config["VECTORS_DIR"]


def connect(path=None):
    """The host's vector file (created on first use). Durability is the feed's: NORMAL sync is enough."""
    path = path or os.path.join(folder(), FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.executescript(SCHEMA)
    return conn


def text_hash(model_key, text):
    return hashlib.sha256(f"{model_key}\0{text}".encode()).hexdigest()[:32]


def wordings(card, verified):
    """(served, agents) texts of a card, title and answer: served is None for a card never verified, and
    the same text as agents' unless an edit awaits verification (then one vector serves both). Internal
    notes are not embedded: agents find them by their words (the index), customers never; a vector of
    notes as well would double the vectors of a knowledge base whose cards all have notes (77 MB at
    100,000 cards instead of 38)."""
    served = None
    if verified is not None:
        served = f"{verified.title}\n{_plain(verified.answer)}"
    return served, f"{card.title}\n{_plain(card.answer)}"


def _plain(markdown):
    from kb.search.index import plain

    return plain(markdown)


def _meta(conn, key, default=None):
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def record(conn, model_key, rows, gone=()):
    """Write the wanted wordings of cards: rows of (card id, served text or None, agents text). Texts with
    no vector yet go to `wanted`. One transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        seq = int(_meta(conn, "seq", "0"))
        for card_id, served, agents in rows:
            seq += 1
            hashes = [text_hash(model_key, t) if t is not None else None for t in (served, agents)]
            for h, t in zip(hashes, (served, agents), strict=True):
                if h is not None:
                    conn.execute("INSERT OR IGNORE INTO wanted (hash, text) SELECT ?, ? WHERE NOT EXISTS "
                                 "(SELECT 1 FROM vector WHERE hash = ?)", (h, t, h))
            conn.execute("INSERT OR REPLACE INTO card (id, served, agents, seq) VALUES (?, ?, ?, ?)",
                         (card_id, hashes[0], hashes[1], seq))
        for card_id in gone:
            seq += 1
            conn.execute("INSERT OR REPLACE INTO card (id, served, agents, seq) VALUES (?, NULL, NULL, ?)",
                         (card_id, seq))
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('seq', ?)", (str(seq),))
        # The key every card was recorded with: set by the first recording, then only by a full one
        # (`claim`), so that a change of model is seen by `sync` until every card is re-recorded.
        conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('model', ?)", (model_key,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def record_loaded(conn, model_key, loaded, asked=()):
    """`record` the cards of a kb.search.index.Loaded batch; those of `asked` it lacks are gone."""
    rows = [(c.id, *wordings(c, loaded.verified.get(c.id))) for c in loaded.cards]
    record(conn, model_key, rows, gone=set(asked) - {c.id for c in loaded.cards})


def _int8(vectors):
    """Float vectors -> (int8 rows, scale per row): value = byte * scale, each row's peak at 127."""
    peak = np.maximum(np.abs(vectors).max(axis=1), 1e-12)
    scale = (peak / SCALE).astype(np.float32)
    return np.clip(np.rint(vectors / scale[:, None]), -127, 127).astype(np.int8), scale


def quantise(vectors):
    """Unit float vectors -> (uint8 rows, scale per row): value = (byte - 128) * scale."""
    rows, scale = _int8(vectors)
    return (rows.astype(np.int16) + 128).astype(np.uint8), scale


def embed_wanted(conn, model, limit=None, stop=None):
    """Embed waiting texts (at most `limit`), committing in small batches; returns how many."""
    done = 0
    while limit is None or done < limit:
        batch = conn.execute("SELECT hash, text FROM wanted LIMIT ?",
                             (16 if limit is None else min(16, limit - done),)).fetchall()
        if not batch or (stop is not None and stop.is_set()):
            break
        rows, scales = quantise(model.embed([t for _, t in batch]))
        conn.execute("BEGIN IMMEDIATE")
        try:
            for (h, _), row, scale in zip(batch, rows, scales, strict=True):
                conn.execute("INSERT OR IGNORE INTO vector (hash, data, scale) VALUES (?, ?, ?)",
                             (h, row.tobytes(), float(scale)))
                conn.execute("DELETE FROM wanted WHERE hash = ?", (h,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        done += len(batch)
    return done


# -- Following the feed -------------------------------------------------------------------------------

class Recorder:
    """Records the wordings of cards the index has just loaded (no second database read): `add(loaded)`
    per batch, then `done(watermark)`. It runs under the index's writer lock, so it never loads the model
    (~1 s the first time: every search waiting on the lock would answer from the old index meanwhile) and
    never fails the index's write: on an error it stops recording, logs, and `sync` catches up from the
    feed later (the vectors' watermark stays where it was)."""

    def __init__(self):
        self.key = embedding.key()  # None: no model, or one refused
        self.conn = None
        self.seen = set()
        if self.key is not None:
            try:
                self.conn = connect()
            except (OSError, sqlite3.Error):
                log.exception("cannot open the vectors; they catch up later")

    def add(self, loaded, asked=()):
        """`loaded`: kb.search.index.Loaded; `asked`: the ids looked for, those not found are gone."""
        if self.conn is None:
            return
        try:
            record_loaded(self.conn, self.key, loaded, asked)
        except sqlite3.Error:
            log.exception("recording wordings failed; the vectors catch up from the feed later")
            self._stop()
            return
        self.seen.update(c.id for c in loaded.cards)

    def done(self, watermark, complete=False):
        """Feed rows up to `watermark` are recorded; `complete`: every card was added (a rebuild), so the
        cards not seen are gone."""
        if self.conn is None:
            return
        try:
            if complete:
                known = [row[0] for row in self.conn.execute("SELECT id FROM card WHERE agents IS NOT NULL")]
                record(self.conn, self.key, [], gone=[i for i in known if i not in self.seen])
                _claim(self.conn, self.key)
            _advance(self.conn, watermark)
        except sqlite3.Error:
            log.exception("recording wordings failed; the vectors catch up from the feed later")
        finally:
            self._stop()

    def _stop(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def _claim(conn, key):
    """Every card is recorded with `key` now."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('model', ?)", (key,))


def _advance(conn, watermark):
    conn.execute("INSERT INTO meta (key, value) VALUES ('watermark', ?) ON CONFLICT (key) DO UPDATE SET "
                 "value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))", (str(watermark),))


def sync(session=None):
    """Bring the vectors up to the change feed: record the wordings of cards changed since their watermark
    (when the index did not just do it), then embed what waits, now when it is little, else in the
    background. Does nothing without a model."""
    model = embedding.current()
    if model is None:
        return 0
    from kb.search.index import _load_cards, feed_head

    own = session is None
    session = session or Session(db.engine)
    try:
        with closing(connect()) as conn:
            key = model.key
            mark = int(_meta(conn, "watermark", "0"))
            head = feed_head(session, kind=CardChange.CONTENT)
            recorded_with = _meta(conn, "model")
            renew = recorded_with not in (None, key)
            if renew:  # another model: every card's wording again, and nothing of the old waits
                conn.execute("DELETE FROM wanted")
                card_ids = list(session.scalars(select(Card.id).order_by(Card.id)))
                known = set(card_ids)
                card_ids += [i for (i,) in conn.execute("SELECT id FROM card") if i not in known]
            elif head > mark:
                card_ids = sorted(set(session.scalars(
                    select(CardChange.card_id).where(CardChange.seq > mark, CardChange.seq <= head,
                                                     CardChange.kind == CardChange.CONTENT))))
            else:
                card_ids = None
            if card_ids is not None:
                for start in range(0, len(card_ids), 500):
                    chunk = card_ids[start:start + 500]
                    record_loaded(conn, key, _load_cards(session, chunk), chunk)
                    session.expunge_all()
                if renew:
                    _claim(conn, key)
                _advance(conn, head)
            waiting = conn.execute("SELECT count(*) FROM wanted").fetchone()[0]
            if waiting and waiting <= INLINE:
                embed_wanted(conn, model)
            elif waiting:
                start_backfill()
            return waiting
    finally:
        if own:
            session.close()


_backfill = {"thread": None, "stop": threading.Event()}


@atexit.register
def stop_backfill(timeout=30):
    """Stop this process's background embedding between two batches (what waits is embedded by the next
    sync): a thread inside onnxruntime when the interpreter exits aborts the process, and `kb worker` must
    stop promptly on SIGTERM. Returns whether it stopped within `timeout`."""
    _backfill["stop"].set()
    thread = _backfill["thread"]
    if thread is not None:
        thread.join(timeout)
    stopped = thread is None or not thread.is_alive()
    if stopped:
        _backfill["thread"] = None
        _backfill["stop"].clear()
    return stopped


def start_backfill(app=None):
    """Embed what waits in a background thread of this process, one process per host at a time (a file
    lock): searching goes on lexically for the cards not yet embedded."""
    thread = _backfill["thread"]
    if thread is not None and thread.is_alive():
        return
    app = app or current_app._get_current_object()
    thread = threading.Thread(target=_run_backfill, args=(app,), name="kb-vector-backfill", daemon=True)
    _backfill["thread"] = thread
    thread.start()


def _run_backfill(app):
    import fcntl

    with app.app_context():
        try:  # below the web workers: Linux gives a thread its own niceness, and ORT's threads inherit it
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        model = embedding.current(threads=app.config["SEARCH_EMBED_THREADS"] or os.cpu_count() or 1)
        if model is None:
            return
        lock_path = os.path.join(folder(), "backfill.lock")
        os.makedirs(folder(), exist_ok=True)
        with open(lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # another process of this host is embedding
            try:
                with closing(connect()) as conn:
                    started, done = time.monotonic(), 0
                    while not _backfill["stop"].is_set():
                        n = embed_wanted(conn, model, limit=256, stop=_backfill["stop"])
                        if not n:
                            break
                        done += n
                    log.info("embedded %s wordings in %.0f s", done, time.monotonic() - started)
                    if done and not _backfill["stop"].is_set():
                        _compact(conn)
            except Exception:  # noqa: BLE001 — the next sync starts it again; search stays lexical meanwhile
                log.exception("embedding in the background failed")


def _compact(conn):
    """Give back the pages of the texts that waited (a rebuild of 100,000 cards left a 197 MB file around
    39 MB of vectors). VACUUM waits for other connections' writes like any write; a failure is harmless."""
    try:
        if conn.execute("PRAGMA freelist_count").fetchone()[0]:
            conn.execute("VACUUM")
    except sqlite3.Error:
        log.warning("could not compact the vectors file", exc_info=True)


def wait_for_backfill(timeout=None):
    """Wait for this process's background embedding; True once it is over (or none runs)."""
    thread = _backfill["thread"]
    if thread is not None:
        thread.join(timeout)
        return not thread.is_alive()
    return True


def status():
    """Counts for `kb index-status` and the admin page: wordings embedded, waiting, cards covered."""
    model = embedding.status()
    out = {"model": model["model"], "model_state": model["state"], "reason": model["reason"],
           "vectors": 0, "waiting": 0, "cards": 0, "watermark": 0}
    path = os.path.join(folder(), FILE)
    if not os.path.exists(path):
        return out
    with closing(connect(path)) as conn:
        out["vectors"] = conn.execute("SELECT count(*) FROM vector").fetchone()[0]
        out["waiting"] = conn.execute("SELECT count(*) FROM wanted").fetchone()[0]
        out["cards"] = conn.execute("SELECT count(*) FROM card WHERE agents IS NOT NULL").fetchone()[0]
        out["watermark"] = int(_meta(conn, "watermark", "0"))
    return out


# -- Scanning -------------------------------------------------------------------------------------------

class Matrix:
    """This process's copy of the host's vectors, brought up to the file's latest writes before each scan:
    new vectors by rowid, changed cards by sequence number, nothing read when no one wrote (data_version)."""

    def __init__(self, path):
        self.path = path
        self.conn = None
        self.version = None
        self.seq = self.vrow = 0
        self.rows = np.zeros((0, 0), np.uint8)
        self.scales = np.zeros(0, np.float32)
        self.row_of = {}  # hash -> row
        self.slot_of = {}  # card id -> slot
        self.ids = np.zeros(0, np.int64)
        self.at = np.zeros((0, 2), np.int64)  # per slot: served row, agents row (-1: none or not embedded)
        self.hashes = []  # per slot: (served hash, agents hash)
        self.waiting = {}  # hash -> slots whose wording waits for its vector
        self.lock = threading.Lock()

    def refresh(self):
        with self.lock:
            if self.conn is None:
                self.conn = connect(self.path)
            version = self.conn.execute("PRAGMA data_version").fetchone()[0]
            if version == self.version:
                return
            self.conn.execute("BEGIN")  # one snapshot for both reads
            try:
                vectors = self.conn.execute("SELECT rowid, hash, data, scale FROM vector WHERE rowid > ? "
                                            "ORDER BY rowid", (self.vrow,)).fetchall()
                cards = self.conn.execute("SELECT id, served, agents, seq FROM card WHERE seq > ? ORDER BY seq",
                                          (self.seq,)).fetchall()
            finally:
                self.conn.execute("COMMIT")
            self.version = version
            if vectors:
                self._add_vectors(vectors)
            if cards:
                self._set_cards(cards)

    def _add_vectors(self, vectors):
        base = len(self.scales)
        add = np.frombuffer(b"".join(v[2] for v in vectors), np.uint8).reshape(len(vectors), -1)
        self.rows = add.copy() if base == 0 else np.vstack([self.rows, add])
        self.scales = np.concatenate([self.scales, np.array([v[3] for v in vectors], np.float32)])
        for k, (rowid, h, _, _) in enumerate(vectors):
            self.row_of[h] = base + k
            for slot, col in self.waiting.pop(h, ()):
                if self.hashes[slot][col] == h:
                    self.at[slot, col] = base + k
        self.vrow = vectors[-1][0]

    def _set_cards(self, cards):
        new = [c[0] for c in cards if c[0] not in self.slot_of]
        if new:
            n = len(self.hashes)
            self.ids = np.concatenate([self.ids, np.array(new, np.int64)])
            self.at = np.vstack([self.at, np.full((len(new), 2), -1, np.int64)])
            for k, card_id in enumerate(new):
                self.slot_of[card_id] = n + k
                self.hashes.append((None, None))
        for card_id, served, agents, seq in cards:
            slot = self.slot_of[card_id]
            self.hashes[slot] = (served, agents)
            for col, h in enumerate((served, agents)):
                row = self.row_of.get(h, -1) if h else -1
                self.at[slot, col] = row
                if h and row < 0:
                    self.waiting.setdefault(h, set()).add((slot, col))
            self.seq = max(self.seq, seq)

    def similarities(self, query_vector):
        """Cosine similarity of the query to every stored wording (row order)."""
        q, scale = _int8(query_vector[None, :])
        return _scan(self.rows, q[0]).astype(np.float32) * self.scales * scale[0]

    def nearest(self, query_vector, channel, k=50):
        """The `k` cards closest in meaning, best first: [(card id, similarity)]."""
        ids, score, _ = self.scores(query_vector, channel)
        return top(ids, score, k)

    def scores(self, query_vector, channel):
        """Per card (this copy's slots): similarity to the query, -2 where the card has no vector; agents are
        matched on the closer of a card's served and current wordings, customers on the served one only.
        Returns (card ids, scores, {card id: slot})."""
        with self.lock:
            if not len(self.scales) or not len(self.ids):
                return self.ids[:0], np.zeros(0, np.float32), {}
            pad = np.append(self.similarities(query_vector), np.float32(-2.0))  # row -1: no vector
            score = pad[self.at[:, 0]]
            if channel == "agents":
                score = np.maximum(score, pad[self.at[:, 1]])
            return self.ids, score, self.slot_of  # a refresh replaces `ids`, never changes it

    def _with_vector(self):
        """Per slot: the card has at least one wording embedded, in this copy."""
        return (self.at[:, 0] >= 0) | (self.at[:, 1] >= 0)

    def embedded(self):
        """Cards with at least one wording embedded, in this copy."""
        return int(self._with_vector().sum()) if len(self.at) else 0

    def embedded_ids(self):
        """Ids of the cards with at least one wording embedded, in this copy."""
        with self.lock:
            return self.ids[self._with_vector()].tolist() if len(self.at) else []

    def neighbours(self, card_ids, k, floor, batch=32):
        """For each of `card_ids`, the `k` other cards whose wording is closest to its own (the current one,
        else the served one), those at `floor` or more: {card id: [(other card id, similarity)]}, best
        first. The asked cards are scanned `batch` at a time, one integer product each: 200 cards of
        100,000 in ~0.3 s, where `nearest` per card takes ~2 s. Outside the lock (searches go on): the
        arrays it reads are replaced, never changed, by a refresh, except `at`, copied."""
        with self.lock:
            rows, scales, ids, at = self.rows, self.scales, self.ids, self.at.copy()
            asked = [(c, self.slot_of[c]) for c in card_ids if c in self.slot_of]
        row = np.where(at[:, 1] >= 0, at[:, 1], at[:, 0])
        asked = [(c, slot) for c, slot in asked if row[slot] >= 0]
        out = {}
        for start in range(0, len(asked), batch):
            chunk = asked[start:start + batch]
            own = row[[slot for _, slot in chunk]]
            q = (rows[own].astype(np.int16) - 128).astype(np.int8)  # the stored bytes, as queries
            pad = np.vstack([_scan(rows, np.ascontiguousarray(q.T)).astype(np.float32)
                             * scales[:, None] * scales[own][None, :],
                             np.full((1, len(chunk)), -2.0, np.float32)])  # row -1: no vector
            sims = pad[row]  # per slot
            for col, (card_id, slot) in enumerate(chunk):
                score = sims[:, col]
                score[slot] = -2.0
                near = np.flatnonzero(score >= floor)
                out[card_id] = top(ids[near], score[near], k)
        return out


def top(ids, score, k):
    """[(card id, score)] of the `k` best scores, best first (cards without a vector never)."""
    if not len(score):
        return []
    k = min(k, len(score))
    best = np.argpartition(-score, k - 1)[:k]
    best = best[np.argsort(-score[best], kind="stable")]
    return [(int(ids[i]), float(score[i])) for i in best if score[i] > -1.5]


_scan_session = {}


def _scan(rows, q):
    """rows (n x d, uint8 with zero point 128) . q (d, or d x b queries; int8) as int32, on onnxruntime's
    integer kernels (numpy has no int8 product: casting 100,000 rows to float costs ~13 ms, this ~2 ms)."""
    session = _scan_session.get("s")
    if session is None:
        import onnxruntime
        from onnx import TensorProto, helper

        graph = helper.make_graph(
            [helper.make_node("MatMulInteger", ["rows", "q", "zero"], ["out"])], "kb-vector-scan",
            [helper.make_tensor_value_info("rows", TensorProto.UINT8, [None, None]),
             helper.make_tensor_value_info("q", TensorProto.INT8, [None, None])],
            [helper.make_tensor_value_info("out", TensorProto.INT32, [None, None])],
            [helper.make_tensor("zero", TensorProto.UINT8, [], [128])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
        model.ir_version = 8
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = _scan_session["s"] = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    out = session.run(None, {"rows": rows, "q": q.reshape(len(q), -1)})[0]
    return out[:, 0] if q.ndim == 1 else out


_matrices = {}


def matrix():
    """This process's vectors of the configured folder, refreshed to the file's latest writes."""
    path = os.path.join(folder(), FILE)
    m = _matrices.get(path)
    if m is None:
        m = _matrices[path] = Matrix(path)
    if os.path.exists(path):
        m.refresh()
    return m


def version():
    """What a cached search result depends on here: the model in use and how far this copy has read."""
    name = current_app.config.get("SEARCH_EMBEDDING_MODEL")
    if not name:
        return None
    m = matrix()
    return name, m.seq, m.vrow

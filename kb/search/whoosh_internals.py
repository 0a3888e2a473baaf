"""Every read of Whoosh's internals, in one place, for the one release they were checked against.

kb goes below Whoosh's public API where that API is too slow or wrong for it: posting lists and field
lengths are decoded in bulk into numpy arrays (`kb.search.engine`), a reader holds all its files at once
so a merge in another process cannot pull them away (`hold_files`), and a refreshed searcher reuses the
segment readers that did not change (`with_deletions`). Each of these reads private attributes laid out
as whoosh-reloaded 2.7.5 lays them out, so importing this module refuses any other version, and
tests/test_scorer_equivalence.py checks the array scorer's scores against Whoosh's own BM25F.
The rest of kb.search uses Whoosh's public API only.
"""
import secrets
import weakref

import numpy as np
import whoosh
from whoosh.codec.base import Segment
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3LeafMatcher, W3PerDocReader, _lenfield
from whoosh.matching import FilterMatcher
from whoosh.reading import SegmentReader
from whoosh.util import IDCHARS
from whoosh.util.numeric import byte_to_length

WHOOSH_VERSION = (2, 7, 5)


def check_whoosh(installed=whoosh.__version__):
    """Refuse, at import, a Whoosh whose internals kb has not been checked against."""
    if tuple(installed[:3]) != WHOOSH_VERSION:
        found = ".".join(map(str, installed))
        raise ImportError(f"kb's search needs whoosh-reloaded {'.'.join(map(str, WHOOSH_VERSION))} (it reads its "
                          f"internals); {found} is installed: pip install whoosh-reloaded==2.7.5")


check_whoosh()

_EMPTY_IDS = np.zeros(0, np.int32)
_BYTE_TO_LENGTH = np.array([byte_to_length(b) for b in range(256)], np.float64)


# -- Segments ----------------------------------------------------------------------------------------

def segment_id(segment_reader):
    return segment_reader.segment().segment_id()


def storage_folder(segment_reader):
    """The folder of a segment reader's files (None for an index in memory)."""
    return getattr(getattr(segment_reader, "_storage", None), "folder", None)


def deleted_docs(segment_reader):
    return list(segment_reader.segment().deleted_docs() or ())


def read_toc(ix):
    """The index's latest table of contents, read from its files now (not the one `ix` opened with)."""
    return ix._read_toc()


def segment_ids(ix):
    return [seg.segment_id() for seg in ix._segments()]


def index_of(searcher):
    return searcher._ix


def _random_segment_id(cls, size=16):
    """A new segment's name from the operating system's randomness. Whoosh draws it from the `random`
    module's shared state, which anything in the process may seed: Hypothesis seeds it for every example,
    the same names came back, and a new segment's plain files overwrote a live segment's."""
    return "".join(secrets.choice(IDCHARS) for _ in range(size))


Segment._random_id = classmethod(_random_segment_id)


# -- Postings, positions, columns ---------------------------------------------------------------------

def _matcher(seg, field, text):
    """The stored posting list, deleted documents included (the caller masks those, once per segment)."""
    matcher = seg.postings(field, text)
    return matcher.child if isinstance(matcher, FilterMatcher) else matcher


def postings(seg, field, text):
    """(docnums int32, weights float64) of a term in one segment, deleted documents included, decoded
    block by block (not posting by posting)."""
    if (field, text) not in seg:
        return _EMPTY_IDS, np.zeros(0, np.float64)
    matcher = _matcher(seg, field, text)
    if isinstance(matcher, W3LeafMatcher) and not matcher._byteids:
        return _blocks(matcher)
    ids, weights = [], []
    while matcher.is_active():  # short lists are stored inline with the term
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.array(ids, np.int32), np.array(weights, np.float64)


def _blocks(matcher):
    """A whole posting list, a block at a time: Whoosh stores each block as a pickled tuple of id deltas
    (from 0) and weights (None when all 1, one number when all equal), so numpy undoes it in bulk."""
    ids, weights = [], []
    while matcher.is_active():
        matcher._read_data()
        deltas, stored = matcher._data[0], matcher._data[1]
        ids.append(np.cumsum(np.asarray(deltas, np.int64)))
        n = len(deltas)
        if stored is None:
            weights.append(np.ones(n))
        elif isinstance(stored, (int, float)):
            weights.append(np.full(n, float(stored)))
        else:
            weights.append(np.asarray(stored, np.float64))
        matcher._next_block()
    if not ids:
        return _EMPTY_IDS, np.zeros(0, np.float64)
    return np.concatenate(ids).astype(np.int32), np.concatenate(weights)


def positions(seg, field, text):
    """(docnums, positions): one entry per occurrence of the term, in document then position order."""
    if (field, text) not in seg:
        return _EMPTY_IDS, _EMPTY_IDS
    matcher = _matcher(seg, field, text)
    decoder = seg.schema[field].format.decoder("positions")
    ids, where = [], []
    if isinstance(matcher, W3LeafMatcher):
        while matcher.is_active():
            matcher._read_ids()
            matcher._read_values()
            for doc, value in zip(matcher._ids, matcher._values, strict=True):
                found = decoder(value)
                ids.extend([doc] * len(found))
                where.extend(found)
            matcher._next_block()
    else:
        while matcher.is_active():
            found = decoder(matcher.value())
            ids.extend([matcher.id()] * len(found))
            where.extend(found)
            matcher.next()
    return np.array(ids, np.int32), np.array(where, np.int32)


def numeric_column(seg, name, column, dtype):
    """A numeric column as a float array, read in one piece: Whoosh stores one big-endian value per
    document, omitting trailing defaults (reading it value by value cost 5 ms per 1,000 documents)."""
    n = seg.doc_count_all()
    if not seg._perdoc.has_column(name):
        return np.full(n, float(column._default))
    reader = seg._perdoc.column_reader(name, column)
    count = min(reader._count, n)
    raw = reader._dbfile.get(reader._basepos, count * reader._fixedlen)
    values = np.frombuffer(raw, dtype).astype(np.float64)
    if count < n:
        values = np.concatenate([values, np.full(n - count, float(reader._default))])
    return values


def field_lengths(seg, field):
    """Each document's length in `field` as Whoosh stores it (one byte, so approximate), decoded."""
    encoded = numeric_column(seg, _lenfield(field), LENGTHS_COLUMN, ">u1").astype(np.uint8)
    return _BYTE_TO_LENGTH[encoded]


# -- Readers that hold their files --------------------------------------------------------------------

def hold_files(reader):
    """Open now every column file of `reader`'s segments (stored fields, field lengths, numeric columns),
    which Whoosh opens on first use. A merge in another process removes a segment's files once no commit
    lists it; an open file stays readable, so a reader holding all of its files is a snapshot, where one
    opening them later found them gone (stored fields None: 500s under load). Raises OSError when the
    files went before they could be opened: read the TOC again."""
    for leaf, _ in reader.leaf_readers():
        perdoc = getattr(leaf, "_perdoc", None)
        if not isinstance(perdoc, W3PerDocReader) or getattr(perdoc, "kb_held", False):
            continue
        names = ["_stored"] + [_lenfield(n) for n, f in leaf.schema.items() if f.scorable] + \
            [n for n, f in leaf.schema.items() if f.column_type]
        for name in names:
            if name not in perdoc._colfiles and (name == "_stored" or perdoc.has_column(name)):
                perdoc._colfiles[name] = perdoc._get_column_file(name)  # OSError if gone
        held = set(perdoc._colfiles)
        if not perdoc._storage.file_exists(W3Codec.column_filename(perdoc._segment, "_stored")):
            raise FileNotFoundError(f"segment {perdoc._segment.segment_id()} was removed while opened")
        perdoc.has_column, perdoc.kb_held = held.__contains__, True
        weakref.finalize(perdoc, _close_quietly, [f for f, _, _ in perdoc._colfiles.values()])
        terms = getattr(leaf, "_terms", None)  # shared with the readers that take this segment over
        if terms is not None and not getattr(terms, "kb_held", False):
            terms.kb_held = True
            files = [getattr(terms, name, None) for name in ("_dbfile", "_postfile")]
            weakref.finalize(terms, _close_quietly, [f for f in files if f is not None])
    return reader


def _close_quietly(files):
    """A reader dropped without `close` (a searcher given up mid-refresh): its files close with it."""
    for f in files:
        try:
            if not f.is_closed:
                f.close()
        except Exception:  # noqa: BLE001 — closed already
            pass


def with_deletions(old, segment, toc):
    """A reader of `segment` sharing `old`'s open files and terms, with a per-document reader for the
    segment's new deletions. A segment's files never change after its commit, only its deletion list in
    the TOC; opening them again re-read its term index each commit and, for a compound segment,
    copied every posting into memory (see kb.search.index.COMPOUND).
    `old` stays usable until `hand_over(old)`; `close_deletions(new)` undoes this one."""
    reader = SegmentReader.__new__(SegmentReader)
    reader.schema, reader.is_closed = toc.schema, False
    reader._segment, reader._segid, reader._gen = segment, segment.segment_id(), toc.generation
    reader._storage, reader._codec, reader._terms = old._storage, old._codec, old._terms
    reader._perdoc = old._codec.per_document_reader(old._storage, segment)
    return reader


def close_deletions(reader):
    """Close what `with_deletions` opened for `reader` (its own per-document reader), not the shared files."""
    reader._perdoc.close()


def hand_over(old):
    """`old` gave its files to a new reader: closed, without closing them."""
    old._perdoc.close()
    old.is_closed = True

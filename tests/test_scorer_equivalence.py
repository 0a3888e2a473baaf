"""The array scorer (kb.search.engine) gives Whoosh's own BM25F scores: the same documents and the same
score for each, on the same index, so a Whoosh upgrade or an engine change that departs from it fails here."""
import pytest
from whoosh import scoring
from whoosh.query import And, Or, Term

from kb.extensions import db
from kb.search import engine, query
from kb.search import index as search_index

QUERIES = [["refund"], ["ship"], ["order"], ["refund", "day"], ["order", "cancel"], ["parcel", "track", "day"],
           ["gift", "card", "refund"], ["christma"], ["custom"], ["address", "chang"]]


@pytest.fixture
def cards(app):
    """The demo knowledge base, indexed (lexical only: the vectors play no part here)."""
    from kb import demo

    app.config["SEARCH_EMBEDDING_MODEL"] = None
    with app.app_context():
        demo.seed()
        db.session.commit()


def whoosh_scores(ix, stems):
    """Whoosh's own BM25F (its defaults) over the same fields, the title boosted as the engine boosts it."""
    words = [Or([Term(engine.CONTENT, stem), Term(engine.TITLE, stem, boost=engine.TITLE_BOOST)]) for stem in stems]
    with ix.searcher(weighting=scoring.BM25F()) as searcher:
        hits = searcher.search(And(words) if len(words) > 1 else words[0], limit=None, optimize=False)
        return {hit.docnum: hit.score for hit in hits}


def engine_scores(searcher, stems):
    plan = engine.Plan([[((stem,), 1.0)] for stem in stems], "all")
    outcome = engine.run(searcher, plan, 10_000)
    return {doc: final / rank for doc, final, rank in outcome.top}


def test_the_array_scorer_gives_whooshs_bm25f_scores(app, cards):
    with app.app_context():
        _, ix = search_index.open_index()
        searcher = query.searcher()
        compared = 0
        for stems in QUERIES:
            ours, theirs = engine_scores(searcher, stems), whoosh_scores(ix, stems)
            assert set(ours) == set(theirs), stems
            for doc, score in theirs.items():
                assert ours[doc] == pytest.approx(score, rel=1e-6), (stems, doc)
            compared += len(theirs)
        assert compared > 50  # the queries match enough cards to mean something


def test_another_whoosh_release_is_refused_at_import_with_a_clear_message():
    from kb import search

    search.check_whoosh((2, 7, 5))
    with pytest.raises(ImportError, match=r"needs whoosh-reloaded 2\.7\.5 .* 2\.7\.6 is installed"):
        search.check_whoosh((2, 7, 6))

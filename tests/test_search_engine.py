"""The array engine (kb.search.engine): exact totals, phrases by position, pages, facets, segments."""
from collections import Counter

import pytest

from kb.cards import operations
from kb.extensions import db
from kb.models import Card
from kb.search import engine, query
from kb.search import index as search_index


@pytest.fixture(autouse=True)
def lexical(app):
    """The lexical engine alone: the semantic layer's blend is tests/test_hybrid.py's."""
    app.config["SEARCH_EMBEDDING_MODEL"] = None


def search(text, **kwargs):
    query._cache.clear()
    return query.search(text, **kwargs)


def test_totals_count_every_match_and_the_pages_cover_them_once(app, make_team, make_user, make_collection,
                                                                  make_card):
    team = make_team()
    expert = make_user("expert", teams=[team])
    coll = make_collection(team)
    # Dense words, many small commits (so several segments): Whoosh's pruning once counted 192 of 828.
    made = [make_card(coll, expert, title=f"Parcel question {i}",
                      answer="parcel " * (1 + i % 7) + "customer order team", tags=[f"t{i % 3}"])
            for i in range(45)]
    with app.app_context():
        for card in made[:5]:
            operations.set_archived(db.session.get(Card, card.id), db.session.get(Card, card.id).owner, True)
        db.session.commit()
        first = search("parcel customer", limit=10)
        assert first.total == 40 and first.mode == "all"
        seen, cursor, scores = [], None, []
        while True:
            page = search("parcel customer", limit=10, offset=query.decode_cursor(cursor))
            seen += [h.id for h in page.hits]
            scores += [h.score for h in page.hits]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert sorted(seen) == sorted(c.id for c in made[5:])  # each live card once, archived ones not
        assert scores == sorted(scores, reverse=True)
        assert search("parcel customer", include_archived=True).total == 45
        # Facets count every match, not just the page shown.
        tags = dict(search("parcel", facets=True).facets["tag"])
        assert tags == Counter(f"t{i % 3}" for i in range(5, 45)) and sum(tags.values()) == 40


def test_phrases_need_the_words_next_to_each_other_within_one_part(app, make_team, make_user, make_collection,
                                                                   make_card):
    team = make_team()
    expert = make_user("expert", teams=[team])
    coll = make_collection(team)
    together = make_card(coll, expert, title="Missing parcel", answer="Ask the carrier for proof of delivery.")
    apart = make_card(coll, expert, title="Delivery photos", answer="Delivery drivers take a photo as proof.")
    across = make_card(coll, expert, title="What counts as proof", answer="Delivery to a neighbour counts.")
    with app.app_context():
        words = {h.id for h in search("proof delivery").hits}
        assert words == {together.id, apart.id, across.id}
        quoted = search('"proof of delivery"')
        assert [h.id for h in quoted.hits] == [together.id] and quoted.total == 1
        assert search('"delivery proof"').total == 0
        # A phrase typed without "of" still finds it: stop words are out on both sides.
        assert [h.id for h in search('"proof delivery"').hits] == [together.id]


def test_ranking_is_bm25f_times_the_card_multiplier_and_follows_edits(app, make_team, make_user,
                                                                       make_collection, make_card):
    team = make_team()
    expert = make_user("expert", teams=[team])
    coll = make_collection(team)
    title_hit = make_card(coll, expert, title="Gift wrapping", answer="We wrap presents for 3 pounds.")
    body_hit = make_card(coll, expert, title="Presents", answer="Gift wrapping costs 3 pounds per item.")
    with app.app_context():
        results = search("gift wrapping", explain=True)
        assert [h.id for h in results.hits] == [title_hit.id, body_hit.id]  # a title match counts more
        for hit in results.hits:
            assert abs(hit.explain["relevance"] * hit.explain["rank_multiplier"] - hit.score) < 1e-3
        card = db.session.get(Card, body_hit.id)
        operations.edit_card(card, author=card.owner, title="Gift wrapping with ribbon",
                             answer="Gift wrapping with a ribbon costs 3 pounds.")
        db.session.commit()
        assert [h.id for h in search("ribbon").hits] == [body_hit.id]
        assert [h.id for h in search("presents").hits] == [title_hit.id]  # the old title is gone
        assert search("gift wrapping").total == 2  # and so is the old version of the edited card


def test_decoded_postings_are_reused_until_the_segment_changes(app, make_team, make_user, make_collection,
                                                               make_card):
    team = make_team()
    expert = make_user("expert", teams=[team])
    coll = make_collection(team)
    make_card(coll, expert, title="Store credit", answer="Store credit never expires.")
    with app.app_context():
        engine.arrays.clear()
        assert search("credit").total == 1
        cached = len(engine.arrays.items)
        assert cached and search("credit expires").total == 1
        make_card(coll, expert, title="Credit notes", answer="A credit note goes with every refund.")
        assert search("credit").total == 2  # the new segment is read; the old one's arrays are kept
        assert search_index.status()["lag"] == 0

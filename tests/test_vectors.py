"""The semantic layer as a projection: vectors follow the change feed, per wording, keyed by their text."""
import os

from kb.cards import operations
from kb.extensions import db
from kb.models import Card
from kb.search import embedding, vectors


def nearest(text, channel="agents", k=3):
    return [card_id for card_id, _ in close(text, channel, k)]


def close(text, channel="agents", k=3):
    return vectors.matrix().nearest(embedding.current().embed([text])[0], channel, k)


def test_vectors_follow_create_edit_verify_and_delete_through_the_feed(app, world):
    with app.app_context():
        refund, shipping = world["billing_card"].id, world["shipping_card"].id
        assert vectors.status()["cards"] == 2 and vectors.status()["waiting"] == 0
        assert nearest("my money back has not come yet")[0] == refund  # no shared word, same meaning
        card = db.session.get(Card, shipping)
        assert nearest("when will my parcel be delivered", "customers", 1) == []  # a draft: nothing served
        operations.verify_card(card, card.owner)
        db.session.commit()
        assert nearest("when will my parcel be delivered", "customers", 1) == [shipping]
        operations.edit_card(card, author=card.owner, title="Can I bring my dog to the store?",
                             answer="Dogs on a lead are welcome in every shop.")
        db.session.commit()
        # Agents are matched on the current wording at once; customers on the verified one until it is verified.
        (agents_id, agents_sim), = close("are pets allowed inside", "agents", 1)
        (customers_id, customers_sim), = close("are pets allowed inside", "customers", 1)
        assert agents_id == customers_id == shipping  # the only card with a served wording
        assert agents_sim > customers_sim + 0.2  # customers still meet the verified shipping answer
        assert nearest("when will my parcel be delivered", "customers", 1) == [shipping]
        operations.verify_card(card, card.owner)
        db.session.commit()
        assert close("are pets allowed inside", "customers", 1)[0][1] > customers_sim + 0.2
        db.session.delete(db.session.get(Card, refund))
        db.session.commit()
        assert refund not in nearest("my money back has not come yet")


def test_internal_notes_are_never_embedded(app, world):
    """Agents find notes by their words (the index); a vector never carries them, so customers are never
    matched on them by meaning."""
    with app.app_context():
        card = db.session.get(Card, world["shipping_card"].id)
        operations.edit_card(card, author=card.owner,
                             internal_notes="Escalate lost parcels to the courier's claims desk after ten days.")
        operations.verify_card(card, card.owner)
        db.session.commit()
        from kb.search.index import _load_cards

        loaded = _load_cards(db.session, [card.id])
        served, agents = vectors.wordings(card, loaded.verified[card.id])
        assert "claims desk" not in served and "claims desk" not in agents and served == agents
        assert vectors.status()["vectors"] == 2  # one per card: served and current wordings are the same


def test_a_rebuild_re_embeds_nothing_unchanged(app, world, runner):
    with app.app_context():
        before = vectors.status()
        result = runner.invoke(args=["reindex"])
        assert result.exit_code == 0, result.output
        after = vectors.status()
        assert after["vectors"] == before["vectors"] and after["waiting"] == 0 and after["cards"] == 2


def test_the_neighbours_of_cards_in_wording_are_what_a_search_for_their_wording_finds(app, world, make_card):
    titles = ["How long do refunds take?", "Can I pay with PayPal?", "Do you ship abroad?", "Is PayPal accepted?"]
    for title in titles:
        make_card(world["billing_coll"], world["expert"], title=title, answer=f"About: {title.lower()}")
    with app.app_context():
        m = vectors.matrix()
        cards = db.session.scalars(db.select(Card)).all()  # drafts: one wording each, the agents' one
        found = m.neighbours([c.id for c in cards], k=3, floor=0.2, batch=4)  # batches of 4 and of 2
        for card in cards:
            text = vectors.wordings(card, None)[1]
            expected = [(i, s) for i, s in close(text, k=4) if i != card.id and s >= 0.2][:3]
            assert [i for i, _ in found[card.id]] == [i for i, _ in expected]
            assert all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(found[card.id], expected, strict=True))
        paypal = [c.id for c in cards if "PayPal" in c.title]
        assert found[paypal[0]][0][0] == paypal[1]


def test_many_cards_are_embedded_in_the_background_while_search_goes_on(app, world, make_card):
    with app.app_context():
        for n in range(vectors.INLINE + 8):
            make_card(world["billing_coll"], world["expert"], title=f"Question number {n} about invoices",
                      answer=f"Answer {n}.")
        vectors.wait_for_backfill(120)
        info = vectors.status()
        assert info["waiting"] == 0 and info["cards"] == vectors.INLINE + 10
        assert vectors.matrix().embedded() == vectors.INLINE + 10
        from contextlib import closing

        with closing(vectors.connect()) as conn:  # the texts that waited leave no free pages behind
            assert conn.execute("PRAGMA freelist_count").fetchone()[0] == 0


def test_without_a_model_no_vectors_are_kept(make_app):
    from kb.accounts import operations as accounts

    app = make_app("no-model", SEARCH_EMBEDDING_MODEL="")
    with app.app_context():
        team = accounts.create_team(name="Billing")
        user = accounts.create_user(email="e@example.com", name="E", role="expert", password="a long passphrase 42",
                                    teams=[team])
        coll = operations.create_collection(name="Billing", team=team)
        operations.create_card(collection=coll, owner=user, verifier_team=team, author=user, title="Refunds",
                               answer="Five days.")
        db.session.commit()
        assert not os.path.exists(os.path.join(app.config["VECTORS_DIR"], vectors.FILE))
        assert vectors.status()["model_state"] == "off"


def test_admins_see_the_embedding_progress_and_others_may_not(app, world, auth, client):
    auth.login("admin@example.com")
    page = client.get("/admin/search").get_data(as_text=True)
    assert "all-MiniLM-L6-v2 (ready)" in page and "Wordings embedded" in page and "complete" in page
    auth.login("bianca@example.com")
    assert client.get("/admin/search").status_code == 403


def test_vectors_of_another_model_are_never_mixed_with_this_ones(app, world):
    """Pointed at another model, every card is embedded again by it (a similarity between two models'
    vectors means nothing), and nothing the old model still had waiting is embedded."""
    from contextlib import closing

    with app.app_context():
        with closing(vectors.connect()) as conn:  # as another model left the file
            conn.execute("UPDATE meta SET value = 'other-model/0000' WHERE key = 'model'")
            conn.execute("UPDATE card SET served = CASE WHEN served IS NULL THEN NULL ELSE 'old-' || id END, "
                         "agents = 'old-' || id")
            conn.execute("INSERT INTO wanted (hash, text) VALUES ('old-text', 'left by the other model')")
        vectors.sync()
        vectors.wait_for_backfill(60)
        key = embedding.current().key
        with closing(vectors.connect()) as conn:
            assert conn.execute("SELECT value FROM meta WHERE key = 'model'").fetchone()[0] == key
            hashes = [h for (h,) in conn.execute("SELECT agents FROM card WHERE agents IS NOT NULL")]
            assert len(hashes) == 2 and not any(h.startswith("old-") for h in hashes)
            assert conn.execute("SELECT count(*) FROM wanted").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM vector WHERE hash = 'old-text'").fetchone()[0] == 0
        assert nearest("my money back has not come yet")[0] == world["billing_card"].id


def test_kb_reindex_says_what_waits_for_a_vector_and_embed_waits_for_it(app, world, runner):
    from contextlib import closing

    with app.app_context():
        result = runner.invoke(args=["reindex"])
        assert result.exit_code == 0, result.output
        assert "Vectors (all-MiniLM-L6-v2): 2 wordings of 2 cards, 0 waiting." in result.output
        with closing(vectors.connect()) as conn:  # as after a change of model: nothing embedded yet
            conn.execute("DELETE FROM vector")
        vectors.INLINE, inline = 0, vectors.INLINE  # so that the rebuild leaves them to the background
        try:
            result = runner.invoke(args=["reindex", "--embed"])
        finally:
            vectors.INLINE = inline
        assert result.exit_code == 0, result.output
        assert "2 wordings of 2 cards, 0 waiting." in result.output
        assert nearest("my money back has not come yet")[0] == world["billing_card"].id
    app.config["SEARCH_EMBEDDING_MODEL"] = ""
    with app.app_context():
        result = runner.invoke(args=["reindex"])
        assert result.exit_code == 0 and "Vectors: none (search is lexical" in result.output, result.output

"""Possible conflicts on the experts' dashboard: the same question (by meaning) with different answers."""
import re

import pytest

from kb.cards import operations
from kb.extensions import db
from kb.models import Collection, User
from kb.search import conflicts

SHIP = ("Do you ship outside the US?", "Yes, we ship to Canada, the UK and the EU in 7 to 14 business days.")
RETURN = ("How do I return an order shipped outside the US?",
          "Send the parcel to our Reno warehouse with a tracked service and mark it Returned goods.")
REFUND = ("When will I get my refund?", "Refunds reach your card within 5 business days of the return arriving.")
REFUND_AGAIN = "How long does a refund take?"  # the same question, hardly a word in common (0.82 alike)
CONTRADICTING = "Refunds can take up to 30 days, and only as store credit."


@pytest.fixture
def expert_and_collection(make_team, make_user, make_collection):
    team = make_team("Care")
    return make_user("expert", teams=[team], email="expert@example.com"), make_collection(team, name="Help")


def listed(client):
    """The dashboard's conflicts section, as the expert reads it."""
    page = client.get("/verification/dashboard")
    assert page.status_code == 200
    return page.get_data(as_text=True).split("Possible conflicts")[1].split("</section>")[0]


def add_cards(app, collection_id, owner_id, cards):
    """Create the (title, answer) cards in one commit, so they are embedded together as an import's are."""
    with app.app_context():
        coll, user = db.session.get(Collection, collection_id), db.session.get(User, owner_id)
        for title, answer in cards:
            operations.create_card(collection=coll, owner=user, verifier_team=coll.team, author=user,
                                   title=title, answer=answer)
        db.session.commit()


def test_a_question_sharing_most_title_words_with_another_is_not_a_conflict(app, auth, client,
                                                                            expert_and_collection):
    expert, coll = expert_and_collection
    add_cards(app, coll.id, expert.id, [SHIP, RETURN])
    auth.login("expert@example.com")
    section = listed(client)
    assert SHIP[0] not in section and RETURN[0] not in section  # title words (0.6 overlap) listed them


def test_the_same_question_in_other_words_with_another_answer_is_a_conflict(app, auth, client,
                                                                           expert_and_collection):
    expert, coll = expert_and_collection
    add_cards(app, coll.id, expert.id, [REFUND, (REFUND_AGAIN, CONTRADICTING)])
    auth.login("expert@example.com")
    section = listed(client)
    assert REFUND[0] in section and REFUND_AGAIN in section  # title words: 0.25 overlap, not listed
    assert re.search(r"questions (8\d|9\d)% alike, answers \d+% alike", section)


def test_the_same_question_with_the_same_answer_is_a_duplicate_not_a_conflict(app, auth, client,
                                                                             expert_and_collection):
    expert, coll = expert_and_collection
    add_cards(app, coll.id, expert.id, [REFUND, (REFUND_AGAIN, REFUND[1])])
    auth.login("expert@example.com")
    section = listed(client)
    assert REFUND_AGAIN not in section and "None found." in section


def test_a_pair_found_by_meaning_when_its_one_shared_word_is_on_too_many_cards(app, auth, client,
                                                                              expert_and_collection):
    # "refund" on more titles than MAX_DF: words propose no pair of them, the neighbours in wording do.
    expert, coll = expert_and_collection
    topics = ["a gift card", "a sale item", "a faulty kettle", "a late parcel", "a cancelled order", "shoes",
              "a Klarna order", "a PayPal payment", "an exchange", "a missing item", "a damaged box", "swimwear",
              "earrings", "a bundle", "a pre-order", "a voucher", "a company order", "a subscription",
              "a marketplace order", "a price match", "a duplicate charge", "a lost return", "a gift",
              "a split shipment", "a personalised item", "a rug"]
    fillers = [(f"Refund rules for {topic}", f"How the refund of {topic} is handled by the payments team.")
               for topic in topics]
    assert len(fillers) > conflicts.MAX_DF
    add_cards(app, coll.id, expert.id, [*fillers, REFUND, (REFUND_AGAIN, CONTRADICTING)])
    auth.login("expert@example.com")
    section = listed(client)
    assert REFUND[0] in section and REFUND_AGAIN in section


def test_without_a_model_the_page_renders_and_title_words_decide(make_app, auth_for):
    app = make_app("no-model", SEARCH_EMBEDDING_MODEL="")
    with app.app_context():
        from kb.accounts import operations as accounts

        team = accounts.create_team(name="Care")
        expert = accounts.create_user(email="e@example.com", name="E", role="expert",
                                      password="a long passphrase 42", teams=[team])
        coll = operations.create_collection(name="Help", team=team)
        db.session.commit()
        coll_id, expert_id = coll.id, expert.id
    add_cards(app, coll_id, expert_id, [SHIP, RETURN, REFUND, (REFUND_AGAIN, CONTRADICTING)])
    client = app.test_client()
    auth_for(client).login("e@example.com", password="a long passphrase 42")
    section = listed(client)
    assert SHIP[0] in section and RETURN[0] in section and "titles 60% alike" in section
    assert REFUND_AGAIN not in section

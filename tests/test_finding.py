"""What customers can find (kb.channels.finding): one public search for the FAQ, the public API and the
chatbot, matching only the served wording; and the chatbot's one answer."""
import re
from datetime import timedelta

import pytest

from kb.cards import operations
from kb.channels import finding, serving, tokens
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, User
from kb.search import query, synonyms
from kb.verification import flags

NOTE, PENDING, INTERNAL = "zebracorn", "quokkaword", "walrusword"  # words customers must never find


@pytest.fixture
def shop(app, make_team, make_user, make_collection, make_card):
    team = make_team("Python help")
    expert = make_user("expert", teams=[team], email="expert@example.com")
    public = make_collection(team, name="Numbers and strings", public=True)
    now = utcnow()
    cards = dict(
        to_number=make_card(public, expert, title="How do I convert a string to a number?",
                            answer="Use `int('144')` for integers and `float('1.5')` for floats.", verified_at=now),
        to_string=make_card(public, expert, title="How do I convert a number to a string?",
                            answer="Use `str(144)`, or a format string such as `f'{x:.2f}'`.", verified_at=now),
        floor=make_card(public, expert, title="Why does -22 // 10 return -3?",
                        answer="Floor division rounds down: `-22 // 10 == -3`, so that `i % j` keeps the sign of `j`.",
                        verified_at=now),
        power=make_card(public, expert, title="How do I raise a number to a power?",
                        answer="Write `2 ** 10` or call `pow(2, 10)`.", verified_at=now),
        refund=make_card(public, expert, title="When will I get my refund?", tags=["refunds"],
                         answer="Refunds reach your card within 5 business days.",
                         internal_notes=f"Escalate with override {NOTE}.", verified_at=now),
        password=make_card(public, expert, title="How do I reset my password?",
                           answer="Click *Forgot password* on the sign-in page.", verified_at=now),
        internal=make_card(public, expert, title="Chargeback playbook", is_public=False,
                           answer=f"Call the bank hotline and quote {INTERNAL}.", verified_at=now),
        draft=make_card(public, expert, title="Can I pay in instalments?", answer="Not yet: instalments are coming."),
    )
    with app.app_context():  # an unverified edit: its words are the agents' only
        card = db.session.get(Card, cards["password"].id)
        operations.edit_card(card, author=db.session.get(User, expert.id), tags=["accounts"],
                             answer=f"Click *Forgot password*, then type {PENDING} into the box.")
        _, secret = tokens.create("chatbot", [tokens.PUBLIC_READ])
        db.session.commit()
    return dict(team=team, expert=expert, public=public, token=f"Bearer {secret}", **cards)


def public_ids(text, channel=serving.FAQ, **kwargs):
    query._cache.clear()
    return [s.card.id for s in finding.public_search(text, channel, synonyms=synonyms.table(), **kwargs).served]


def agents_ids(text):
    query._cache.clear()
    return [h.id for h in query.search(text, synonyms=synonyms.table()).hits]


def answer(text):
    query._cache.clear()
    return finding.answer(text, synonyms.table())


def api_search(client, shop, **args):
    query._cache.clear()
    return client.get("/api/v1/search", query_string=args, headers={"Authorization": shop["token"]}).get_json()


# -- Public search matches what customers are shown, and nothing else -------------------------------

@pytest.mark.parametrize("word, card", [(NOTE, "refund"), (PENDING, "password"), (INTERNAL, "internal")])
def test_public_search_never_finds_a_card_by_its_notes_its_pending_edit_or_an_internal_card(app, shop, word, card):
    with app.app_context():
        assert shop[card].id in agents_ids(word)  # the index holds the word: agents find it
        for channel in (serving.FAQ, serving.CHATBOT):
            query._cache.clear()
            found = finding.public_search(word, channel)
            assert found.items == [] and found.total == 0 and found.did_you_mean is None


@pytest.mark.parametrize("typo", ["zebracron", "quokkawrod", "walruswrod"])
def test_a_typo_of_a_hidden_word_finds_nothing_and_suggests_nothing(app, shop, typo):
    with app.app_context():
        query._cache.clear()
        found = finding.public_search(typo, serving.FAQ)
        assert found.items == [] and found.did_you_mean is None
        assert answer(typo).candidates == []
    if typo == "quokkawrod":  # the agents' corrector knows the pending word (so this test can fail)
        with app.app_context():
            query._cache.clear()
            assert query.search(typo).did_you_mean == PENDING


def test_public_did_you_mean_offers_only_served_words(app, shop):
    with app.app_context():
        query._cache.clear()
        found = finding.public_search("refnud", serving.FAQ)
        assert found.did_you_mean == "refund" and [s.card.id for s in found.served][:1] == [shop["refund"].id]


def test_synonyms_reach_served_words_only(app, shop):
    with app.app_context():
        synonyms.add_set(f"ferret, {NOTE}", None)
        synonyms.add_set("money back, refund", None)
        db.session.commit()
        assert shop["refund"].id in agents_ids("ferret")  # through the note, for agents
        assert public_ids("ferret") == []
        assert public_ids("money back") == [shop["refund"].id]


def test_customers_see_the_served_wording_and_agents_see_both(app, shop):
    with app.app_context():
        query._cache.clear()
        (hit, served), = finding.public_search("forgot password", serving.FAQ).items
        assert PENDING not in hit.snippet and "sign-in page" in hit.snippet and served.revision.number == 1
        query._cache.clear()
        agents = {h.id: h for h in query.search("password").hits}
        pending = agents[shop["password"].id]
        assert PENDING in pending.snippet and PENDING not in pending.served_snippet
        assert pending.served_title == "How do I reset my password?"
        query._cache.clear()
        draft = query.search("instalments").hits[0]
        assert draft.id == shop["draft"].id and draft.served_title is None and draft.served_snippet is None


def test_faq_search_and_public_api_search_give_the_same_cards(client, shop):
    for words in ("convert", "number", "refund", "password", "-22 // 10", NOTE, "instalments"):
        query._cache.clear()
        page = client.get("/faq/", query_string={"q": words}).get_data(as_text=True)
        faq = [int(i) for i in re.findall(r'<h2><a href="/faq/cards/(\d+)-', page)]
        api = [r["id"] for r in api_search(client, shop, q=words)["results"]]
        assert faq == api, words
    shown = api_search(client, shop, q="convert")
    assert shown["total"] == len(shown["results"])  # every card counted is on the page, those close in meaning too


def test_public_filters_are_on_what_customers_see(client, shop):
    assert api_search(client, shop, q="password", tag="accounts")["results"] == []  # a pending edit's tag
    assert [r["id"] for r in api_search(client, shop, q="refund", tag="refunds")["results"]] == [shop["refund"].id]
    assert api_search(client, shop, q="instalments", status="draft")["results"] == []  # never served


def test_withheld_cards_leave_no_hole_in_a_page_and_are_not_counted(app, client, shop, make_card):
    now = utcnow()
    parcels = [make_card(shop["public"], shop["expert"], title="Where is my parcel?" if n == 0 else f"Delivery {n}",
                         answer="Tracking your parcel. " + "Couriers, depots and lockers. " * n, verified_at=now)
               for n in range(3)]
    with app.app_context():
        flags.flag_card(db.session.get(Card, parcels[0].id), db.session.get(User, shop["expert"].id), "outdated")
        db.session.commit()
        assert agents_ids("parcel") == [p.id for p in parcels]  # the flagged card ranks first in the index
    first = api_search(client, shop, q="parcel", limit=1)
    assert [r["id"] for r in first["results"]] == [parcels[1].id] and first["total"] == 2  # the flagged one is out
    second = api_search(client, shop, q="parcel", limit=1, cursor=first["next_cursor"])
    assert [r["id"] for r in second["results"]] == [parcels[2].id] and second["next_cursor"] is None
    with app.app_context():  # the FAQ still serves a flagged card (CHANNEL_WITHHOLD_FLAGGED is the chatbot)
        assert public_ids("parcel")[0] == parcels[0].id


# -- Numbers and operators are searchable -----------------------------------------------------------

def test_minus_before_a_number_is_a_sign_not_an_exclusion(app, shop):
    with app.app_context():
        assert agents_ids("-22") == [shop["floor"].id]
        assert public_ids("-22") == [shop["floor"].id]
        assert shop["floor"].id not in agents_ids("floor -division")  # before a word it still excludes


@pytest.mark.parametrize("text, card", [("//", "floor"), ("**", "power"), ("2 ** 10", "power"),
                                        ("i % j", "floor"), ("-22 // 10", "floor")])
def test_an_operator_finds_the_card_that_holds_it(app, shop, text, card):
    with app.app_context():
        assert agents_ids(text)[0] == shop[card].id
        assert public_ids(text)[0] == shop[card].id


# -- The chatbot's answer ---------------------------------------------------------------------------

@pytest.mark.parametrize("question, card", [
    ("How do I convert a string to a number?", "to_number"),
    ("How do I convert a number to a string?", "to_string"),
    ("how do i convert a string to a number", "to_number"),  # case and punctuation
    ("So, how do I convert a number into a string?", "to_string"),  # stop words
    ("HOW DO I CONVERT A STRNG TO A NUMBER", "to_number"),  # a typo, corrected
    ("Why does -22 // 10 return -3?", "floor"),
    ("why does -22//10 return -3", "floor"),
])
def test_a_question_that_is_a_served_cards_question_is_answered_with_it(app, shop, question, card):
    with app.app_context():
        found = answer(question)
        assert found.served is not None, found.why
        assert found.served.card.id == shop[card].id


def test_word_order_decides_a_close_call(app, shop):
    with app.app_context():
        assert answer("convert string to number").served.card.id == shop["to_number"].id
        assert answer("convert number to string").served.card.id == shop["to_string"].id


def test_an_exact_question_is_answered_even_when_another_card_ranks_first(app, shop, make_card):
    twin = make_card(shop["public"], shop["expert"], title="Reset password",
                     answer="Reset password: reset password, reset password.", verified_at=utcnow())
    with app.app_context():
        assert agents_ids("reset password")[0] == twin.id
        assert answer("Reset password").served.card.id == twin.id
        query._cache.clear()
        assert answer("How do I reset my password?").served.card.id == shop["password"].id


@pytest.mark.parametrize("question", ["do you sell bicycles", "what is the weather tomorrow", NOTE, PENDING,
                                      f"refund {NOTE}", "Chargeback playbook"])
def test_off_topic_and_hidden_questions_are_handed_over(app, shop, question):
    with app.app_context():
        assert answer(question).served is None


def test_suggestions_never_reveal_notes_or_pending_words(client, shop):
    for question in (f"refund {NOTE} override", f"forgot password {PENDING}", f"{INTERNAL} chargeback"):
        query._cache.clear()
        response = client.get("/api/v1/answer", query_string={"q": question}, headers={"Authorization": shop["token"]})
        body = response.get_json()
        assert response.status_code == 404 and body["error"]["code"] == "no_verified_answer"
        text = str(body)
        assert NOTE not in text.replace(question, "") and PENDING not in text.replace(question, "")
        titles = {s["title"] for s in body["error"]["suggestions"]}
        assert "Chargeback playbook" not in titles
        assert titles <= {"When will I get my refund?", "How do I reset my password?"}


def test_a_lapsed_card_is_no_answer_after_the_grace_period(app, shop, make_card):
    old = make_card(shop["public"], shop["expert"], title="Do you ship to the moon?", answer="Lunar shipping is free.",
                    verified_at=utcnow() - timedelta(days=400))
    with app.app_context():
        assert agents_ids("moon") == [old.id]
        assert answer("Do you ship to the moon?").served is None and public_ids("moon") == []


def test_a_pending_edit_of_tags_alone_gives_customers_no_new_word(app, shop):
    with app.app_context():
        card = db.session.get(Card, shop["refund"].id)
        operations.edit_card(card, author=db.session.get(User, shop["expert"].id), tags=["refunds", "narwhalized"])
        db.session.commit()
        query._cache.clear()
        assert query.search("narwhalizd").did_you_mean == "narwhalized"  # the agents' corrector knows it
        assert public_ids("narwhalized") == []
        query._cache.clear()
        assert finding.public_search("narwhalizd", serving.FAQ).did_you_mean is None

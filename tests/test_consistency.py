"""The reason kb exists: the FAQ, the chatbot API, a public token's card and the agent's card page give
the customer exactly the same words, and an unverified edit reaches none of the customer channels."""
import re

from markupsafe import Markup
from sqlalchemy import select

from kb import demo, markup
from kb.cards import operations
from kb.channels import serving, tokens
from kb.extensions import db
from kb.models import Card, User


def text_of(html):
    """What a reader sees of some HTML: tags (and the agents' placeholder highlights) gone, spaces folded."""
    return " ".join(Markup(html).striptags().split())


def inner(page, element_id):
    found = re.search(rf'id="{element_id}">(.*?)</div>', page, re.S)
    return found.group(1) if found else None


def channels(client, card_id, token):
    """The customer-facing words of one card as each channel shows them."""
    faq = client.get(f"/faq/cards/{card_id}", follow_redirects=True)
    api = client.get(f"/api/v1/cards/{card_id}", headers={"Authorization": token})
    page = client.get(f"/cards/{card_id}").get_data(as_text=True)
    agent = inner(page, "customer-answer") or inner(page, "answer")
    return faq, api, agent


def test_every_public_demo_card_reads_the_same_everywhere(app, client, auth):
    with app.app_context():
        demo.seed()
        _, secret = tokens.create("consistency", [tokens.PUBLIC_READ])
        db.session.commit()
        cards = db.session.scalars(select(Card).where(Card.is_public).order_by(Card.id)).all()
        served = {c.id: serving.serve(c, serving.FAQ) for c in cards}
        bot = {c.id: serving.serve(c, serving.CHATBOT) for c in cards}
        expected = {i: (s.revision.title, s.revision.answer) for i, s in served.items() if s.ok}
        pending = [c.id for c in cards if served[c.id].ok and c.revision_number != c.verified_revision_number]
    token = f"Bearer {secret}"
    assert len(expected) >= 10 and pending  # the demo has public cards, some with edits not yet verified
    email, password = next((e, p) for e, p, role in demo.demo_accounts() if role == "agent")
    auth.login(email, password=password)
    answered = 0
    for card_id, (title, answer) in expected.items():
        html = str(markup.render(answer))
        faq, api, agent = channels(client, card_id, token)
        faq_answer = re.search(r'class="faq-answer">(.*?)</div>', faq.get_data(as_text=True), re.S)
        assert faq.status_code == 200 and text_of(faq_answer.group(1)) == text_of(html), card_id
        if not bot[card_id].ok:  # flagged: the FAQ keeps the verified answer, the chatbot stops at once
            assert api.status_code == 404
        else:
            body = api.get_json()
            assert body["answer_markdown"] == answer and body["title"] == title
            assert text_of(body["answer_html"]) == text_of(html)
        assert agent is not None and text_of(agent) == text_of(html), card_id
        copied = client.get(f"/cards/{card_id}/answer.json").get_json()  # what "Copy answer" puts on the clipboard
        faq_text = markup.text_of_html(faq_answer.group(1))
        assert copied["text"] == faq_text and not copied["draft"], card_id
        if bot[card_id].ok:
            assert copied["text"] == api.get_json()["answer_text"], card_id
        if bot[card_id].ok:
            reply = client.get("/api/v1/answer", query_string={"q": title}, headers={"Authorization": token})
            if reply.status_code == 200 and reply.get_json()["id"] == card_id:
                answered += 1
                assert reply.get_json()["answer_markdown"] == answer
                assert text_of(reply.get_json()["answer_html"]) == text_of(html)
                assert "/cards/" not in reply.get_json()["answer_text"].replace("/faq/cards/", "")
    assert answered >= 0.8 * sum(1 for i in expected if bot[i].ok)  # a card's own question finds it
    # Cards the customer channels withhold are 404 on every public channel.
    with app.app_context():
        withheld = [i for i in db.session.scalars(select(Card.id).order_by(Card.id)) if i not in expected]
    for card_id in withheld:
        assert client.get(f"/faq/cards/{card_id}").status_code == 404
        assert client.get(f"/api/v1/cards/{card_id}", headers={"Authorization": token}).status_code == 404


def test_an_edit_reaches_the_customers_only_when_verified_and_everywhere_at_once(app, client, auth, make_team,
                                                                                make_user, make_collection,
                                                                                make_card):
    from datetime import timedelta

    from kb.dates import utcnow

    team = make_team("Logistics")
    expert = make_user("expert", teams=[team], email="expert@example.com")
    coll = make_collection(team, name="Shipping", public=True)
    card = make_card(coll, expert, title="How long does standard delivery take?",
                     answer="Standard delivery takes **3 to 5 working days**.",
                     verified_at=utcnow() - timedelta(days=2))
    with app.app_context():
        _, secret = tokens.create("bot", [tokens.PUBLIC_READ])
        db.session.commit()
    token = f"Bearer {secret}"
    auth.login("expert@example.com")
    old, new = "3 to 5 working days", "2 to 4 working days"

    def everywhere():
        faq, api, agent = channels(client, card.id, token)
        reply = client.get("/api/v1/answer?q=standard+delivery+take", headers={"Authorization": token}).get_json()
        return faq.get_data(as_text=True), api.get_json()["answer_text"], reply["answer_text"], text_of(agent)

    assert all(old in text for text in everywhere())
    with app.app_context():
        operations.edit_card(db.session.get(Card, card.id), author=db.session.get(User, expert.id),
                             answer=f"Standard delivery takes **{new}**.")
        db.session.commit()
    faq, api, bot, agent_served = everywhere()
    assert old in faq and old in api and old in bot and old in agent_served  # the verified words, still
    assert new not in faq + api + bot
    assert new in client.get(f"/cards/{card.id}").get_data(as_text=True)  # the agent sees the edit too
    with app.app_context():
        operations.verify_card(db.session.get(Card, card.id), db.session.get(User, expert.id))
        db.session.commit()
    assert all(new in text and old not in text for text in everywhere())


def test_no_customer_of_the_demo_ever_reads_a_raw_placeholder(app, client):
    """Every FAQ page of the demo and its FAQPage JSON-LD: no `{placeholder}` anywhere."""
    import json

    from kb.models import Collection

    with app.app_context():
        demo.seed()
        db.session.commit()
        slugs = list(db.session.scalars(select(Collection.slug).where(Collection.is_public)))
        card_ids = list(db.session.scalars(select(Card.id).where(Card.is_public)))
        with_placeholders = [c.id for c in db.session.scalars(select(Card).where(~Card.is_public))
                             if markup.placeholders(c.answer)]
    assert with_placeholders  # the demo still has agents' templates with placeholders, internal ones
    pages = [client.get("/faq/")] + [client.get(f"/faq/{slug}") for slug in slugs]
    fetched = (client.get(f"/faq/cards/{i}", follow_redirects=True) for i in card_ids)
    pages += [r for r in fetched if r.status_code == 200]
    assert len(pages) > len(slugs) + 10
    for response in pages:
        html = response.get_data(as_text=True)
        assert not markup.PLACEHOLDER.search(html), response.request.path
        for block in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S):
            for entry in json.loads(block)["mainEntity"]:
                assert not markup.PLACEHOLDER.search(entry["name"] + entry["acceptedAnswer"]["text"])

"""The public FAQ as a customer meets it: only public, served cards in their verified wording, nothing
internal anywhere (pages, JSON-LD, search), stable URLs, cache headers, and no 500 for odd input."""
import json
import re
from datetime import timedelta

import pytest

from kb import markup
from kb.cards import operations
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, User
from kb.search import query

NOTE = "zanzibarnote"  # a word only the internal notes hold
JSON_LD = re.compile(r'<script type="application/ld\+json">(.*?)</script>', re.S)


@pytest.fixture
def faq(app, make_team, make_user, make_collection, make_card):
    team = make_team("Care")
    expert = make_user("expert", teams=[team], email="expert@example.com")
    public = make_collection(team, name="Returns & refunds", public=True)
    private = make_collection(team, name="Fraud desk")
    now = utcnow()
    cards = dict(
        refund=make_card(public, expert, title="How do refunds work?",
                         answer="Refunds reach your card within **5 business days**.",
                         internal_notes=f"Escalate to Bob. {NOTE} override code 4471.", verified_at=now),
        internal=make_card(public, expert, title="Chargeback playbook for agents", answer="Call the bank hotline.",
                           is_public=False, verified_at=now),
        draft=make_card(public, expert, title="Do you price match?", answer="Price matching is coming soon."),
        archived=make_card(public, expert, title="Do you sell gift wrap?", answer="Gift wrap costs $3.",
                           verified_at=now),
        lapsed=make_card(public, expert, title="Do you ship to the moon?", answer="Lunar shipping is free.",
                         verified_at=now - timedelta(days=400)),
        private_only=make_card(private, expert, title="Which orders need a fraud review?",
                               answer="Orders above $5000.", verified_at=now),
    )
    with app.app_context():
        operations.set_archived(db.session.get(Card, cards["archived"].id), db.session.get(User, expert.id), True)
        db.session.commit()
    return dict(team=team, expert=expert, public=public, private=private, **cards)


def text(response):
    return response.get_data(as_text=True)


def card_page(client, card):
    """The card's FAQ page, following the redirect to its canonical URL."""
    return client.get(f"/faq/cards/{card.id}", follow_redirects=True)


def json_ld(html):
    scripts = JSON_LD.findall(html)
    assert len(scripts) == 1, "one FAQPage block per page"
    return json.loads(scripts[0])


def faq_search(client, words):
    query._cache.clear()
    return text(client.get("/faq/", query_string={"q": words}))


def test_public_card_shows_its_served_answer_without_login(client, faq):
    response = card_page(client, faq["refund"])
    assert response.status_code == 200 and response.request.path.startswith("/faq/cards/")
    page = text(response)
    assert "How do refunds work?" in page
    assert "<strong>5 business days</strong>" in page
    assert "Last reviewed" in page and "<time datetime=" in page


def test_faq_pages_use_their_own_customer_layout(client, faq):
    page = text(client.get("/faq/"))
    assert "/static/faq.css" in page and "/static/kb.css" not in page
    assert "Sign in" not in page and "csrf-token" not in page and "Help centre" in page


def test_home_lists_public_collections_with_served_questions_only(client, faq):
    page = text(client.get("/faq/"))
    assert "Returns &amp; refunds" in page and "How do refunds work?" in page
    for hidden in ("Fraud desk", "Chargeback playbook", "Do you price match?", "Do you sell gift wrap?",
                   "Do you ship to the moon?", "fraud review"):
        assert hidden not in page


def test_collection_page_lists_served_cards_only(client, faq):
    page = text(client.get("/faq/returns-refunds"))
    assert "How do refunds work?" in page
    for hidden in ("Chargeback playbook", "Do you price match?", "Do you sell gift wrap?", "Do you ship to the moon?"):
        assert hidden not in page


@pytest.mark.parametrize("name", ["internal", "draft", "archived", "lapsed"])
def test_card_that_is_not_served_is_a_404(client, faq, name):
    card = faq[name]
    assert client.get(f"/faq/cards/{card.id}").status_code == 404
    assert client.get(f"/faq/cards/{card.id}-{operations.slugify(card.title)}").status_code == 404


def test_non_public_collection_and_unknown_slug_are_404(client, faq):
    assert client.get("/faq/fraud-desk").status_code == 404
    response = client.get("/faq/no-such-topic")
    assert response.status_code == 404 and "find that page" in text(response)


def test_internal_notes_appear_nowhere_on_the_faq(app, client, faq):
    with app.app_context():  # agents' search does find the card by its notes...
        query._cache.clear()
        assert faq["refund"].id in [h.id for h in query.search(NOTE, filters=query.Filters(public_only=True)).hits]
    pages = [text(client.get("/faq/")), text(client.get("/faq/returns-refunds")),
             text(card_page(client, faq["refund"])), faq_search(client, "refunds")]
    assert "How do refunds work?" in pages[-1]
    for page in pages:
        assert NOTE not in page and "Escalate to Bob" not in page and "4471" not in page
        assert "Expert" not in page and "Care" not in page  # no owner, no verifying team
    # ...the FAQ's does not: what a customer would see of the card does not hold the word.
    page = faq_search(client, NOTE)
    assert "How do refunds work?" not in page and "No answers found" in page


def test_search_shows_served_public_cards_only(client, faq):
    assert "How do refunds work?" in faq_search(client, "refund")
    for words, title in [("chargeback bank hotline", "Chargeback playbook"), ("price match", "Do you price match?"),
                         ("gift wrap", "Do you sell gift wrap?"), ("lunar shipping moon", "Do you ship to the moon?"),
                         ("fraud review orders", "Which orders need a fraud review?")]:
        page = faq_search(client, words)
        assert title not in page  # customers may meet other cards close in meaning, never these


def test_unverified_edit_is_not_shown_until_it_is_verified(app, client, faq):
    card = faq["refund"]
    with app.app_context():
        row, expert = db.session.get(Card, card.id), db.session.get(User, faq["expert"].id)
        operations.edit_card(row, author=expert, answer="NEW policy: refunds take 30 days, quasarword.")
        db.session.commit()
    pages = [text(card_page(client, card)), text(client.get("/faq/returns-refunds"))]
    for page in pages:
        assert "NEW policy" not in page and "5 business days" in page
        assert json_ld(page)["mainEntity"][0]["acceptedAnswer"]["text"].startswith("Refunds reach your card")
    assert "How do refunds work?" not in faq_search(client, "quasarword")

    with app.app_context():
        operations.verify_card(db.session.get(Card, card.id), db.session.get(User, faq["expert"].id))
        db.session.commit()
    page = text(card_page(client, card))
    assert "NEW policy" in page and "5 business days" not in page
    assert "How do refunds work?" in faq_search(client, "quasarword")


def test_unverified_title_edit_never_reaches_the_url(app, client, faq):
    card = faq["refund"]
    with app.app_context():
        operations.edit_card(db.session.get(Card, card.id), author=db.session.get(User, faq["expert"].id),
                             title="Secret restructuring of refunds")
        db.session.commit()
    response = client.get(f"/faq/cards/{card.id}")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/faq/cards/{card.id}-how-do-refunds-work"
    page = text(client.get(response.headers["Location"]))
    assert "Secret restructuring" not in page and "secret-restructuring" not in page


@pytest.mark.parametrize("slug", ["", "-wrong-slug", "-How-Do-Refunds-Work"])
def test_card_url_without_its_slug_redirects_permanently_to_the_canonical_one(client, faq, slug):
    card = faq["refund"]
    response = client.get(f"/faq/cards/{card.id}{slug}")
    assert response.status_code == 301
    assert response.headers["Location"] == f"/faq/cards/{card.id}-how-do-refunds-work"
    assert "max-age=300" in response.headers["Cache-Control"]  # a slug can change: no redirect kept for ever
    assert client.get(response.headers["Location"]).status_code == 200


def test_card_json_ld_is_a_faq_page_with_the_served_text(client, faq):
    page = text(card_page(client, faq["refund"]))
    data = json_ld(page)
    assert data["@context"] == "https://schema.org" and data["@type"] == "FAQPage"
    [question] = data["mainEntity"]
    assert question["@type"] == "Question" and question["name"] == "How do refunds work?"
    assert question["acceptedAnswer"] == {"@type": "Answer",
                                          "text": "Refunds reach your card within 5 business days."}
    assert NOTE not in json.dumps(data)


def test_collection_json_ld_lists_every_served_question(client, faq, make_card):
    make_card(faq["public"], faq["expert"], title="Can I return a sale item?", answer="Yes, within *14 days*.",
              verified_at=utcnow())
    data = json_ld(text(client.get("/faq/returns-refunds")))
    assert data["@type"] == "FAQPage"
    assert {q["name"]: q["acceptedAnswer"]["text"] for q in data["mainEntity"]} == {
        "How do refunds work?": "Refunds reach your card within 5 business days.",
        "Can I return a sale item?": "Yes, within 14 days.",
    }


def test_json_ld_cannot_close_its_script_tag(client, faq, make_card):
    answer = "Type `</script><script>alert(1)</script>` & press <Enter>."
    card = make_card(faq["public"], faq["expert"], title="What if I see </script> in a page?", answer=answer,
                     verified_at=utcnow())
    page = text(card_page(client, card))
    [raw] = JSON_LD.findall(page)
    assert "<" not in raw and ">" not in raw and "&" not in raw
    data = json.loads(raw)
    assert data["mainEntity"][0]["name"] == "What if I see </script> in a page?"
    assert data["mainEntity"][0]["acceptedAnswer"]["text"] == markup.plain_text(answer)
    assert "<script>alert(1)" not in page


def test_links_to_cards_become_faq_links_or_plain_text(client, faq, make_card):
    """Links between cards point at the FAQ's public address (EXTERNAL_URL), so that the chatbot's text,
    the FAQ and what an agent copies carry the same link whichever host served them."""
    client.application.config["EXTERNAL_URL"] = "https://help.example.com/"
    with client.application.app_context():
        internal_key = db.session.get(Card, faq["internal"].id).link_key
    card = make_card(faq["public"], faq["expert"], title="Where is my refund?", verified_at=utcnow(),
                     answer=f"See [how refunds work](/cards/{faq['refund'].id}) and "
                            f"[the playbook](/cards/by-key/{internal_key}).")
    page = text(card_page(client, card))
    assert (f'<a href="https://help.example.com/faq/cards/{faq["refund"].id}-how-do-refunds-work">how refunds work</a>'
            in page)
    assert "the playbook" in page and internal_key not in page and 'href="/cards/' not in page


def test_pages_carry_cache_headers_and_answer_304(client, faq):
    url = f"/faq/cards/{faq['refund'].id}-how-do-refunds-work"
    first = client.get(url)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, max-age=300"
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    assert "Set-Cookie" not in first.headers  # a shared cache must never store someone's session
    assert "Cookie" not in first.headers.get("Vary", "")  # the same page for everyone, so shareable
    assert "Content-Security-Policy" in first.headers  # security headers still set
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200


@pytest.mark.parametrize("url", ["/faq/", "/faq/returns-refunds", "/faq/?q=refund", "/faq/theme.css"])
def test_every_faq_page_answers_conditional_requests(client, faq, url):
    first = client.get(url)
    assert first.status_code == 200 and first.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def test_a_verified_change_changes_the_etag(app, client, faq):
    url = f"/faq/cards/{faq['refund'].id}-how-do-refunds-work"
    etag = client.get(url).headers["ETag"]
    with app.app_context():
        row, expert = db.session.get(Card, faq["refund"].id), db.session.get(User, faq["expert"].id)
        operations.edit_card(row, author=expert, answer="Refunds now take 2 business days.", verifying=True)
        operations.verify_card(row, expert)
        db.session.commit()
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 200 and "2 business days" in text(response)


def test_brand_name_colour_and_logo_come_from_settings(make_app):
    app = make_app("branded", FAQ_BRAND_NAME="Northwind Help", FAQ_BRAND_COLOR="#AA3300",
                   FAQ_LOGO_URL="https://img.example.com/logo.svg")
    client = app.test_client()
    page = text(client.get("/faq/"))
    assert "Northwind Help" in page and '<img class="faq-logo" src="https://img.example.com/logo.svg"' in page
    assert "--faq-brand: #AA3300" in text(client.get("/faq/theme.css"))
    assert client.get("/faq/theme.css").mimetype == "text/css"


def test_a_brand_colour_that_is_not_a_colour_is_not_written_into_css(make_app):
    app = make_app("odd", FAQ_BRAND_COLOR="red; } body { display: none")
    css = text(app.test_client().get("/faq/theme.css"))
    assert "display" not in css and "--faq-brand: #1f6feb" in css


def test_did_you_mean_offers_a_word_from_the_served_answers(client, faq):
    page = faq_search(client, "refnds")
    assert "How do refunds work?" in page
    assert re.search(r'Did you mean <a href="/faq/\?q=refunds?">refunds?</a>', page)


@pytest.mark.parametrize("words", [
    "x" * 5000, '"unbalanced quote', "title:refund AND OR NOT", "-", "*", "***", "💸 remboursement",
    "(((", "refund*", "-refund", "</script>", "%s %d {0}", "   ",
])
def test_odd_searches_never_fail(client, faq, words):
    # A NUL ("a\x00b") is refused with a 400 before any query: tests/test_hostile_input.py.
    response = client.get("/faq/", query_string={"q": words})
    assert response.status_code == 200
    assert "Search" in text(response)


def test_long_search_is_cut_and_the_customer_told(client, faq):
    page = faq_search(client, "refund " * 100)
    assert "Only the first 300 characters" in page and "How do refunds work?" in page


@pytest.mark.parametrize("url", ["/faq/cards/0", "/faq/cards/987654", "/faq/cards/9223372036854775807",
                                 "/faq/cards/99999999999999999999999999", "/faq/cards/12-", "/faq/cards/abc",
                                 "/faq/" + "x" * 3000, "/faq/%00", "/faq/cards/-1"])
def test_unknown_or_huge_ids_and_slugs_are_404(client, faq, url):
    response = client.get(url)
    assert response.status_code == 404 and "Set-Cookie" not in response.headers
    assert 'class="faq-' in response.get_data(as_text=True)  # the customers' layout, not the agents' page

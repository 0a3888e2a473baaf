"""DESIGN.md principle 3 for agents, in real Chromium: every "Copy answer" (card page, as-you-type list,
results page) puts on the real clipboard the words the chatbot API and the FAQ give customers, the card's
verified revision, and never the pending edit the card page shows beside it. Drafts copy only after a
confirmation, placeholders are filled before anything is copied, and links to internal cards are announced.

The expected words come from the customer channels themselves, asked over HTTP by a signed-out client: the
chatbot's `answer_text` (`/api/v1/cards/<id>`, a `public:read` token), the agents' API for internal cards
(`internal:read`), and the FAQ page's `.faq-answer` turned into text as the API does (`kb.markup.text_of_html`).
Fixtures (a live server with the demo data for this module alone, Chromium, pages, `customer`, `sign_in`,
`clipboard`) and the skip/fail rule are in conftest.py next to this file. The tests add cards and tokens of
their own and change no demo card, so any order passes.
"""
import re
from types import SimpleNamespace
from urllib.parse import quote

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the `browser` fixture skips, or fails when CI is set
    expect = None

pytestmark = pytest.mark.browser

UNTOUCHED = "nothing copied yet (browser test)"
# What the agent types into each placeholder field the copy panel offers.
FILLED = {"order_number": "NW-4821937", "customer_name": "Maria", "item": "wool coat", "length": "12"}

# Demo cards (kb/demo_content.py).
DRAFT_KEY = "order-confirmation-missing"        # public, never verified
RETURN_WINDOW_KEY = "return-window"             # public, verified: the FAQ serves it
RETURN_WINDOW_SLUG = "how-long-do-i-have-to-return-something"
INTERNAL_TARGET_KEY = "tone-saying-no"          # internal: customers cannot open it
ETIQUETTE_KEY = "onboarding-chat-etiquette"     # internal, links to the internal "tone of voice" card
ETIQUETTE_LINK_WORDS = "tone of voice"
LEO = "leo@example.com"                         # expert of Support leads, who verify the "orders" collection


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def api_tokens(live_app):
    """Secrets of a chatbot token (`public`, public:read) and an agents' one (`internal`, internal:read)."""
    from kb.channels import tokens
    from kb.extensions import db

    with live_app.app_context():
        _, public = tokens.create("browser consistency: chatbot", [tokens.PUBLIC_READ])
        _, internal = tokens.create("browser consistency: agents' tools", [tokens.INTERNAL_READ])
        db.session.commit()
    return SimpleNamespace(public=public, internal=internal)


def api_card(customer, card_id, token):
    """The card as `/api/v1/cards/<id>` gives it to the holder of `token`, or None when it is not served."""
    response = customer.request.get(f"/api/v1/cards/{card_id}", headers={"Authorization": f"Bearer {token}"})
    if response.status == 404:
        return None
    assert response.ok, (card_id, response.status, response.text())
    return response.json()


def faq_text(customer, card_id):
    """The answer of the card's FAQ page as text (`text_of_html` of `.faq-answer`), or None when withheld."""
    from kb import markup

    response = customer.goto(f"/faq/cards/{card_id}")
    assert response is not None
    if response.status == 404:
        return None
    assert response.ok, (card_id, response.status)
    return markup.text_of_html(customer.locator(".faq-answer").inner_html())


def filled(text, values):
    """`text` with each `{name}` of `values` replaced, as the agent fills the copy panel's fields."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def demo_cards_with_pending_edit(app):
    """Ids of the demo cards whose current revision awaits verification: (public cards the chatbot
    serves, internal cards)."""
    from sqlalchemy import select

    from kb.channels import serving
    from kb.demo_content import CARDS
    from kb.extensions import db
    from kb.models import Card

    with app.app_context():
        cards = db.session.scalars(select(Card).where(
            Card.external_id.in_([spec["key"] for spec in CARDS]), ~Card.is_archived,
            Card.verified_revision_number.is_not(None), Card.revision_number != Card.verified_revision_number,
        ).order_by(Card.id)).all()
        public = [c.id for c in cards if c.is_public and serving.serve(c, serving.CHATBOT).ok]
        internal = [c.id for c in cards if not c.is_public]
    return public, internal


def create_verified_card(app, key, title, answer, is_public):
    """A card of the "orders" collection, written and verified by Leo in the live app's database; its id."""
    from sqlalchemy import select

    from kb.accounts.operations import find_team, find_user
    from kb.cards import operations
    from kb.extensions import db
    from kb.models import Collection

    with app.app_context():
        leo = find_user(LEO)
        card = operations.create_card(
            collection=db.session.scalar(select(Collection).filter_by(slug="orders")), owner=leo,
            verifier_team=find_team("Support leads"), author=leo, title=title, answer=answer,
            is_public=is_public, external_id=key)
        operations.verify_card(card, leo, note="Written for a browser test.")
        db.session.commit()
        return card.id


def open_card(page, card_id):
    """Open the card page; its "Customer-facing answer" region, once kb.js (deferred) wires the buttons."""
    page.goto(f"/cards/{card_id}")
    page.wait_for_load_state("load")
    return page.get_by_role("region", name="Customer-facing answer")


def copy_from(page, clipboard, holder, values):
    """Click the Copy button in `holder` (the card page's answer, a row of the as-you-type list, a hit of the
    results page), fill in exactly the placeholder fields `values` names, and return the clipboard."""
    clipboard.write(UNTOUCHED)
    button = holder.locator("button.copy-answer")
    expect(button).to_have_text("Copy answer")
    with page.expect_response(re.compile(r"/cards/\d+/copied$")) as copied:
        button.click()
        if values:
            form = holder.locator(".copy-panel .placeholder-form")
            expect(form.locator("input[data-placeholder]")).to_have_count(len(values))
            for name, value in values.items():
                form.locator(f'input[data-placeholder="{name}"]').fill(value)
            form.get_by_role("button", name="Copy", exact=True).click()
    assert copied.value.ok
    expect(button).to_have_text("Copied ✓")
    return clipboard.read()


def copy_from_list(page, clipboard, title, values):
    """Type the card's title into the top-bar box and copy from its row of the as-you-type list."""
    page.locator("#site-search").fill(title)
    row = page.locator("#search-suggest .suggest-item").filter(has=page.get_by_role("link", name=title, exact=True))
    expect(row).to_have_count(1)
    return copy_from(page, clipboard, row, values)


def copy_from_results(page, clipboard, title, values):
    """Search for the card's title on the results page and copy from its hit."""
    page.goto(f"/search?q={quote(title)}")
    page.wait_for_load_state("load")
    hit = page.locator("ol.hits > li.hit").filter(has=page.get_by_role("link", name=title, exact=True))
    expect(hit).to_have_count(1)
    return copy_from(page, clipboard, hit, values)


def pending_shown(page, agents):
    """Check that the card page shows the agents' API's pending edit, marked as such; its text."""
    from kb import markup

    pending = agents["pending"]
    assert pending is not None and pending["revision"] == agents["current_revision"] != agents["verified_revision"]
    section = page.get_by_test_id("pending-change")
    expect(section.get_by_role("heading", level=2)).to_contain_text(
        f"Pending change, not verified yet revision {pending['revision']} by {pending['author']}")
    text = markup.text_of_html(section.locator("#pending-answer").inner_html())
    assert text == pending["answer_text"], agents["id"]
    return text


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

def test_agents_copy_what_the_chatbot_and_the_faq_serve_never_the_pending_edit(
        page, live_app, sign_in, clipboard, customer, api_tokens):
    public, _ = demo_cards_with_pending_edit(live_app)
    assert len(public) >= 3, public  # the demo has public cards with edits awaiting verification
    sign_in(page)
    for card_id in public:
        bot = api_card(customer, card_id, api_tokens.public)
        agents = api_card(customer, card_id, api_tokens.internal)
        assert bot is not None, f"the chatbot does not serve card {card_id}"
        faq = faq_text(customer, card_id)
        assert faq is not None, f"the FAQ withholds public card {card_id}"  # demo public cards hold no placeholder
        values = {name: FILLED[name] for name in bot["placeholders"]}
        told = filled(bot["answer_text"], values)

        open_card(page, card_id)
        pending = pending_shown(page, agents)
        on_card_page = copy_from(page, clipboard, page.get_by_role("region", name="Customer-facing answer"), values)
        assert on_card_page == told == faq == agents["answer_text"], card_id
        assert on_card_page != pending, card_id
        assert set(pending.splitlines()) - set(on_card_page.splitlines()), card_id  # the edit changes words
        # The same words from the as-you-type list and from the results page.
        assert copy_from_list(page, clipboard, bot["title"], values) == on_card_page, card_id
        assert copy_from_results(page, clipboard, bot["title"], values) == on_card_page, card_id


def test_agents_copy_the_served_wording_of_internal_cards_never_the_pending_edit(
        page, live_app, sign_in, clipboard, customer, api_tokens):
    _, internal = demo_cards_with_pending_edit(live_app)
    assert internal, "the demo has an internal card with an edit awaiting verification"
    sign_in(page)
    for card_id in internal:
        assert api_card(customer, card_id, api_tokens.public) is None  # never the chatbot's, nor the FAQ's
        assert faq_text(customer, card_id) is None
        agents = api_card(customer, card_id, api_tokens.internal)
        values = {name: FILLED[name] for name in agents["placeholders"]}

        open_card(page, card_id)
        pending = pending_shown(page, agents)
        on_card_page = copy_from(page, clipboard, page.get_by_role("region", name="Customer-facing answer"), values)
        assert on_card_page == filled(agents["answer_text"], values), card_id
        assert on_card_page != filled(pending, values), card_id
        assert copy_from_list(page, clipboard, agents["title"], values) == on_card_page, card_id


class Dialogs:
    """Answers the page's dialogs in turn (True accepts, False dismisses; none queued dismisses) and keeps
    their messages."""

    def __init__(self, page):
        self.answers, self.messages = [], []
        page.on("dialog", self._answer)

    def _answer(self, dialog):
        self.messages.append(dialog.message)
        if self.answers and self.answers.pop(0):
            dialog.accept()
        else:
            dialog.dismiss()


def test_a_draft_is_copied_only_after_the_agent_confirms_it(page, sign_in, clipboard, customer, api_tokens,
                                                           card_key_to_id):
    card_id = card_key_to_id(DRAFT_KEY)
    agents = api_card(customer, card_id, api_tokens.internal)
    assert agents["answer_text"] is None and agents["pending"] is not None  # no served wording: a draft
    assert api_card(customer, card_id, api_tokens.public) is None and faq_text(customer, card_id) is None
    page.clock.install()  # the button's "Copied ✓" lasts 2.5 s: the test moves the clock instead of waiting
    sign_in(page)
    dialogs = Dialogs(page)
    copies = []
    page.on("request", lambda request: copies.append(request.url) if request.url.endswith("/copied") else None)
    clipboard.write(UNTOUCHED)

    page.goto(f"/cards/{card_id}")
    page.wait_for_load_state("load")
    expect(page.get_by_role("region", name="Customer-facing answer")).to_have_count(0)
    draft = page.get_by_role("region", name="Draft answer")
    button = draft.locator("button.copy-answer")
    expect(button).to_have_text("Copy draft (not verified)")

    # Dismissed: nothing is copied, nothing counted. (The page's script resumes as the dialog closes, before
    # the clipboard is read below.)
    dialogs.answers.append(False)
    with page.expect_event("dialog"):
        button.click()
    assert clipboard.read() == UNTOUCHED
    expect(button).to_have_text("Copy draft (not verified)")
    expect(button).not_to_have_attribute("data-copied", re.compile(".*"))
    assert copies == []
    assert "draft" in dialogs.messages[0] and "Copy the draft anyway?" in dialogs.messages[0]

    # Asked again, accepted: the draft's own words are copied.
    dialogs.answers.append(True)
    with page.expect_response(re.compile(rf"/cards/{card_id}/copied$")):
        button.click()
    expect(button).to_have_text("Copied ✓")
    assert clipboard.read() == agents["pending"]["answer_text"]
    assert len(dialogs.messages) == 2

    # Asked once: copying again on this page needs no second confirmation, and the button stays a draft's.
    clipboard.write(UNTOUCHED)
    with page.expect_response(re.compile(rf"/cards/{card_id}/copied$")):
        button.click()
    assert clipboard.read() == agents["pending"]["answer_text"]
    assert len(dialogs.messages) == 2 and len(copies) == 2
    page.clock.run_for(3000)
    expect(button).to_have_text("Copy draft (not verified)")


def test_copy_waits_until_every_placeholder_is_filled(page, live_app, sign_in, clipboard, customer, api_tokens):
    # Placeholders named like the form's own properties (`item`, `length`) are fields like any other.
    card_id = create_verified_card(
        live_app, "browser-placeholders", "Where is my coat? (browser test)",
        "Hi {customer_name}, your **{item}** left our warehouse today and arrives in {length} days.",
        is_public=False)
    agents = api_card(customer, card_id, api_tokens.internal)
    assert agents["placeholders"] == ["customer_name", "item", "length"]
    sign_in(page)
    clipboard.write(UNTOUCHED)

    answer = open_card(page, card_id)
    button = answer.locator("button.copy-answer")
    button.click()
    form = answer.locator(".copy-panel .placeholder-form")
    expect(form.locator("label")).to_have_text(["Customer name", "Item", "Length"])
    fields = {name: form.locator(f'input[data-placeholder="{name}"]') for name in agents["placeholders"]}
    copy, error = form.get_by_role("button", name="Copy", exact=True), form.get_by_role("alert")
    expect(error).to_be_hidden()

    # An empty field (blanks count as empty) stops the copy, and the error names every empty one.
    for typed, empty in (({}, "{customer_name}, {item}, {length}"), ({"customer_name": "Maria", "item": "   "},
                                                                    "{item}, {length}")):
        for name, value in typed.items():
            fields[name].fill(value)
        copy.click()
        expect(error).to_have_text(f"Fill in {empty} first.")
        expect(fields[empty[1:].split("}")[0]]).to_be_focused()
        assert clipboard.read() == UNTOUCHED
        expect(button).to_have_text("Copy answer")
        expect(button).not_to_have_attribute("data-copied", re.compile(".*"))

    values = {name: FILLED[name] for name in agents["placeholders"]}
    for name, value in values.items():
        fields[name].fill(f" {value} ")
    with page.expect_response(re.compile(rf"/cards/{card_id}/copied$")):
        copy.click()
    expect(button).to_have_text("Copied ✓")
    assert clipboard.read() == filled(agents["answer_text"], values) == "Hi Maria, your wool coat left our " \
        "warehouse today and arrives in 12 days."
    expect(form).to_have_count(0)


def test_the_copy_panel_names_links_to_internal_cards_before_copying(
        page, base_url, live_app, sign_in, clipboard, customer, api_tokens, card_key_to_id):
    # A public card linking to a public card (a FAQ address for customers) and to an internal one (words only).
    public_id = create_verified_card(
        live_app, "browser-internal-link", "Can you hold an item for me? (browser test)",
        "Sorry, we can't hold items without an order. Ordered and changed your mind? See "
        f"[return windows](/cards/by-key/{RETURN_WINDOW_KEY}). We answer as in [how we say no]"
        f"(/cards/by-key/{INTERNAL_TARGET_KEY}).", is_public=True)
    return_window_url = f"{base_url}/faq/cards/{card_key_to_id(RETURN_WINDOW_KEY)}-{RETURN_WINDOW_SLUG}"
    # (card, token of the channel that serves it, words of its internal link, what the customer reads)
    cases = [(public_id, api_tokens.public, "how we say no",
              f"See return windows ({return_window_url}). We answer as in how we say no."),
             (card_key_to_id(ETIQUETTE_KEY), api_tokens.internal, ETIQUETTE_LINK_WORDS,
              f"For wording, follow the {ETIQUETTE_LINK_WORDS} cards.")]
    sign_in(page)
    for card_id, token, words, sentence in cases:
        served = api_card(customer, card_id, token)
        assert served is not None and served["placeholders"] == [], card_id
        clipboard.write(UNTOUCHED)
        answer = open_card(page, card_id)
        button = answer.locator("button.copy-answer")
        button.click()
        panel = answer.locator(".copy-panel")
        # Told first, before anything is on the clipboard.
        expect(panel.locator(".internal-links")).to_have_text(
            f"Links to internal cards reach the customer as words only, not links: “{words}”.")
        expect(panel.locator("input")).to_have_count(0)
        assert clipboard.read() == UNTOUCHED
        expect(button).to_have_text("Copy answer")
        with page.expect_response(re.compile(rf"/cards/{card_id}/copied$")):
            panel.get_by_role("button", name="Copy", exact=True).click()
        expect(panel).to_be_hidden()
        text = clipboard.read()
        assert text == served["answer_text"] and sentence in text, (card_id, text)
        assert "/cards/" not in text.replace("/faq/cards/", ""), text
        if token == api_tokens.public:  # and the FAQ tells the customer the same
            assert text == faq_text(customer, card_id), card_id


def test_copy_says_so_when_the_answer_cannot_be_fetched(page, live_app, sign_in, clipboard):
    public, _ = demo_cards_with_pending_edit(live_app)
    sign_in(page)
    clipboard.write(UNTOUCHED)
    answer = open_card(page, public[0])
    # The agent signs out in another tab; this page still shows the card and its button.
    other = page.context.new_page()
    other.goto("/")
    other.get_by_role("button", name="Sign out").click()
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
    other.close()

    button = answer.locator("button.copy-answer")
    button.click()
    expect(answer.locator(".copy-panel").get_by_role("alert")).to_have_text(
        "You are signed out: sign in again, then copy. Nothing was copied.")
    assert clipboard.read() == UNTOUCHED
    expect(button).to_have_text("Copy answer")

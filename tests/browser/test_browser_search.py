"""End-to-end tests of search: the "/" shortcut and the as-you-type list (arrows, Enter), "Copy answer" with and
without placeholders (read back from the real clipboard), the results page with facets and "Did you mean"
(without JavaScript), and the phone layout. Fixtures (a live server with the demo data for this module alone,
Chromium, pages) and the skip/fail rule are in conftest.py next to this file. The tests change nothing but
usage counts and the search log, so any order passes.
"""
import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the `browser` fixture skips, or fails when CI is set
    expect = None

pytestmark = pytest.mark.browser

# Demo data (kb/demo_content.py) the tests walk through.
CARD_KEY = "cancel-before-shipment"              # no placeholders; Markdown bold, a list and a link to a card
CARD_TITLE = "Can a customer cancel an order before it ships?"
# Its answer as chat-ready plain text, as customers get it: bold gone, "- " bullets, and the link to the public
# card "return-window" as that card's FAQ address (on EXTERNAL_URL, the live server here).
CARD_TEXT_START = ("Yes, as long as the order hasn't started shipping.\n\n"
                   '- Status "Placed": cancel it yourself under Account → Orders → Cancel order. ')
CARD_TEXT_LINK = "- Already shipped: we can no longer cancel. Refuse the delivery, or return it within 30 days of " \
                 "delivery. See return windows ({faq_url}).\n\n"
CARD_TEXT_END = "Refunds for cancelled orders show up within 3–5 business days."
LINKED_KEY = "return-window"                     # public, verified: the FAQ serves it
LINKED_TITLE = "How long do I have to return something?"
LINKED_SLUG = "how-long-do-i-have-to-return-something"

PLACEHOLDER_CARD_KEY = "returnless-refund"       # internal: "I've checked order {order_number} and this applies …"
PLACEHOLDER_CARD_TITLE = "Can I keep the item and still get a refund?"
ORDER_NUMBER = "NW-4821937"
SID = r"[A-Za-z0-9_-]+"                          # a search's id, handed out before its log row exists

TYPO, CORRECTION = "refnud", "refund"
PHONE = {"width": 390, "height": 844}


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def search_box(page):
    return page.locator("#site-search")


def suggestions(page):
    return page.locator("#search-suggest")


def suggest_items(page):
    return page.locator("#search-suggest .suggest-item")


def type_search(page, text):
    """Type into the top-bar box like a person; wait for the as-you-type list (debounced fetch)."""
    box = search_box(page)
    box.click()
    box.press_sequentially(text)
    expect(suggestions(page)).to_be_visible()
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(suggest_items(page).first).to_be_visible()


def search_event(app, search_ref, logged=lambda event: True, seconds=5):
    """(query, opened card, copied card) of the search the pages know as `search_ref`, once `logged(event)`
    holds: the log row and the opens and copies credited to it are written after their responses."""
    import time

    from sqlalchemy import select

    from kb.extensions import db
    from kb.models import SearchEvent

    deadline = time.monotonic() + seconds
    while True:
        with app.app_context():
            event = db.session.scalar(select(SearchEvent).filter_by(ref=search_ref))
            found = event is not None and logged(event)
            if found or time.monotonic() > deadline:
                assert event is not None, f"search {search_ref} was not logged"
                logged_as = event.query, event.opened_card_id, event.copied_card_id
                assert found, f"search {search_ref} is logged as {logged_as}"
                return logged_as
        time.sleep(0.05)


def assert_no_horizontal_overflow(page):
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] + 1, f"the page scrolls sideways: scrollWidth {widths[0]} > {widths[1]}"


def assert_inside_viewport(page, locator):
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not rendered"
    width = page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, f"{locator} sticks out: {box}, viewport {width}"


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

def test_slash_focuses_box_arrows_and_enter_open_card(page, base_url, live_app, sign_in, card_key_to_id):
    card_id = card_key_to_id(CARD_KEY)
    sign_in(page)
    box = search_box(page)
    expect(box).not_to_be_focused()
    expect(suggestions(page)).to_be_hidden()

    # "/" anywhere outside a text field focuses the box, and is not typed into it.
    page.locator("main").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    expect(box).to_be_focused()
    expect(box).to_have_value("")

    page.keyboard.type("cancel order")
    expect(box).to_have_value("cancel order")
    items = suggest_items(page)
    expect(items.first).to_be_visible()
    expect(suggestions(page)).to_have_attribute("role", "listbox")
    titles = [t.strip() for t in items.locator("a.suggest-title").all_inner_texts()]
    assert CARD_TITLE in titles[:3], titles
    position = titles.index(CARD_TITLE)
    target = items.nth(position)
    # Each result: option role, status badge, highlighted snippet, collection and verification date, copy button.
    expect(target).to_have_attribute("role", "option")
    expect(target.locator(".badge")).to_have_text("Verified")
    expect(target.locator(".snippet mark").first).to_be_visible()
    expect(target.locator(".meta")).to_have_text(re.compile(r"^Orders & cancellations · verified \d{4}-\d\d-\d\d$"))
    expect(target.locator("button.copy-answer")).to_have_text("Copy answer")
    expect(page.locator(".suggest-item.active")).to_have_count(0)

    # ↓ highlights the first result, ↑ goes back to the box, ↓ again down to the card.
    page.keyboard.press("ArrowDown")
    expect(items.first).to_have_class(re.compile(r"\bactive\b"))
    expect(box).to_have_attribute("aria-activedescendant", items.first.get_attribute("id"))
    page.keyboard.press("ArrowUp")
    expect(page.locator(".suggest-item.active")).to_have_count(0)
    expect(box).not_to_have_attribute("aria-activedescendant", re.compile(".*"))
    for _ in range(position + 1):
        page.keyboard.press("ArrowDown")
    expect(page.locator(".suggest-item.active")).to_have_count(1)
    expect(target).to_have_class(re.compile(r"\bactive\b"))
    expect(target).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", target.get_attribute("id"))
    expect(box).to_be_focused()

    # Enter opens the highlighted card, with the search id (the search log learns what was opened).
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"^{re.escape(base_url)}/cards/{card_id}\?sid={SID}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(CARD_TITLE)
    search_id = page.url.rsplit("sid=", 1)[1]
    query, opened, _ = search_event(live_app, search_id, lambda e: e.opened_card_id is not None)
    assert query == "cancel order" and opened == card_id

    # Escape closes the list. (Chromium's own Escape also clears a type=search box, whose input event closes
    # the list too: this checks the behaviour, not which of the two did it.)
    page.wait_for_load_state("load")  # kb.js is deferred: "/" before it runs is a plain keystroke
    page.keyboard.press("/")
    expect(box).to_be_focused()
    page.keyboard.type("cancel")
    expect(suggest_items(page).first).to_be_visible()
    page.keyboard.press("Escape")
    expect(suggestions(page)).to_be_hidden()
    expect(box).to_have_attribute("aria-expanded", "false")


def test_copy_answer_from_as_you_type_list(page, customer, base_url, live_app, sign_in, clipboard, card_key_to_id):
    card_id, linked_id = card_key_to_id(CARD_KEY), card_key_to_id(LINKED_KEY)
    faq_url = f"{base_url}/faq/cards/{linked_id}-{LINKED_SLUG}"
    sign_in(page)
    assert page.evaluate("window.isSecureContext")  # 127.0.0.1: kb.js takes navigator.clipboard, not execCommand
    clipboard.write("nothing copied yet")

    type_search(page, "cancel order")
    row = suggest_items(page).filter(has=page.locator("a.suggest-title", has_text=CARD_TITLE))
    expect(row).to_have_count(1)
    button = row.locator("button.copy-answer")
    search_id = button.get_attribute("data-sid")
    assert re.fullmatch(SID, search_id), search_id
    with page.expect_response(re.compile(rf"/cards/{card_id}/copied$")) as copied:
        button.click()
    assert copied.value.ok

    expect(button).to_have_text("Copied ✓")
    expect(button).to_have_attribute("data-copied", re.compile("."))
    # No placeholders: copied straight away, no form.
    expect(row.locator(".placeholder-form")).to_have_count(0)
    text = clipboard.read()
    assert text == button.get_attribute("data-copied")
    assert text.startswith(CARD_TEXT_START), text
    assert CARD_TEXT_LINK.format(faq_url=faq_url) in text, text
    assert text.endswith(CARD_TEXT_END), text
    for markdown in ("**", "](", "[return windows", "<", "*", "/cards/by-key/"):
        assert markdown not in text, (markdown, text)
    # The list stays open after copying; the copy is counted against the search it came from.
    expect(suggestions(page)).to_be_visible()
    _, _, copied_card = search_event(live_app, search_id, lambda e: e.copied_card_id is not None)
    assert copied_card == card_id

    # The link the customer gets opens the linked answer on the FAQ, signed out.
    response = customer.goto(faq_url)
    assert response is not None and response.status == 200 and customer.url == faq_url
    expect(customer.get_by_role("heading", level=1)).to_have_text(LINKED_TITLE)


def test_copy_answer_with_placeholders_on_card_page(page, sign_in, clipboard, card_key_to_id):
    card_id = card_key_to_id(PLACEHOLDER_CARD_KEY)
    sign_in(page)
    clipboard.write("nothing copied yet")

    page.goto(f"/cards/{card_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(PLACEHOLDER_CARD_TITLE)
    page.wait_for_load_state("load")
    answer = page.get_by_role("region", name="Customer-facing answer")
    expect(answer.get_by_role("heading", name="Answer for the customer")).to_be_visible()
    expect(answer.locator("#answer mark.placeholder")).to_have_text(["{order_number}"])

    button = answer.locator("button.copy-answer")
    expect(button).to_have_text("Copy answer")
    button.click()
    form = answer.locator(".copy-panel .placeholder-form")
    expect(form).to_be_visible()
    expect(form).to_contain_text("Fill in before copying:")
    order = form.locator('input[data-placeholder="order_number"]')
    expect(order).to_be_focused()
    expect(form.locator("label")).to_have_text(["Order number"])
    # Nothing is copied before the agent fills the form in.
    assert clipboard.read() == "nothing copied yet"
    expect(button).not_to_have_attribute("data-copied", re.compile(".*"))

    order.fill(ORDER_NUMBER)
    with page.expect_response(re.compile(rf"/cards/{card_id}/copied$")) as copied:
        form.get_by_role("button", name="Copy", exact=True).click()
    assert copied.value.ok

    expect(button).to_have_text("Copied ✓")
    expect(form).to_have_count(0)
    expect(answer.locator(".copy-panel")).to_be_hidden()
    text = clipboard.read()
    assert text == button.get_attribute("data-copied")
    assert text.startswith("Usually we need the item back before we refund it."), text
    assert f"I've checked order {ORDER_NUMBER} and this applies to you: you'll receive a full refund" in text, text
    for leftover in ("{order_number}", "{", "}", "**"):
        assert leftover not in text, (leftover, text)


@pytest.fixture
def no_js_page(browser, base_url):
    """A page with JavaScript off: the search box and the results page must work as plain HTML."""
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def facet_counts(page, heading):
    """{label: count} of one facet group of the results page."""
    group = page.locator("aside.facets h3", has_text=heading).locator("xpath=following-sibling::ul[1]")
    expect(group.locator("li").first).to_be_visible()
    counts = {}
    for item in group.locator("li").all():
        label = item.locator("a.facet").inner_text().strip()
        count = item.locator(".count").inner_text().strip()
        assert count.isdigit(), (label, count)
        counts[label] = int(count)
    return counts


def result_total(page):
    meta = page.locator("section.results > p.meta")
    expect(meta).to_have_text(re.compile(r"^\d+ cards?$"))
    return int(meta.inner_text().split()[0])


def test_results_page_facets_and_did_you_mean_without_javascript(no_js_page, base_url, sign_in):
    page = no_js_page
    sign_in(page)

    # The top-bar box is a plain form: Enter submits to /search.
    search_box(page).fill(TYPO)
    search_box(page).press("Enter")
    expect(page).to_have_url(f"{base_url}/search?q={TYPO}")
    expect(page.locator("form.search-page input[name=q]")).to_have_value(TYPO)

    suggestion = page.locator("p.did-you-mean")
    expect(suggestion).to_have_text(f"Did you mean {CORRECTION}? Showing results for it.")
    total = result_total(page)
    assert total > 0
    hits = page.locator("ol.hits > li.hit")
    expect(hits.first).to_be_visible()
    assert hits.count() <= total
    expect(hits.first.locator("a.card-title")).to_be_visible()
    expect(hits.first.locator(".snippet mark").first).to_be_visible()
    expect(hits.first.locator("button.copy-answer")).to_be_visible()

    # Facets with counts: every card is in one collection and has one status, so each group adds up.
    expect(page.get_by_role("complementary", name="Filters")).to_be_visible()
    expect(page.locator("aside.facets h3")).to_have_text(["Collection", "Status", "Tag", "Owner"])
    collections = facet_counts(page, "Collection")
    statuses = facet_counts(page, "Status")
    assert sum(collections.values()) == total, (collections, total)
    assert sum(statuses.values()) == total, (statuses, total)
    assert set(statuses) <= {"Verified", "Due soon", "Needs verification", "Draft"}, statuses
    assert facet_counts(page, "Tag").get("refunds", 0) > 0

    # Follow the suggestion: the same results, spelled right, no suggestion any more.
    suggestion.get_by_role("link", name=CORRECTION).click()
    expect(page).to_have_url(f"{base_url}/search?q={CORRECTION}")
    expect(page.locator("p.did-you-mean")).to_have_count(0)
    expect(page.locator("form.search-page input[name=q]")).to_have_value(CORRECTION)
    expect(search_box(page)).to_have_value("")  # the page's own box holds the query, not both
    assert result_total(page) == total

    # A facet filters the list to its count, and shows itself as on.
    name, count = "Payments & billing", collections["Payments & billing"]
    page.locator("aside.facets a.facet", has_text=name).click()
    expect(page).to_have_url(re.compile(rf"/search\?q={CORRECTION}&collection=\d+$"))
    assert result_total(page) == count
    expect(page.locator("aside.facets a.facet.on")).to_have_text([name])
    expect(hits).to_have_count(count)
    for meta in hits.locator("span.meta").all_inner_texts():
        assert meta.startswith(f"{name} · "), meta
    expect(page.get_by_role("link", name="Clear filters")).to_be_visible()


def test_phone_width_search_is_usable(page, sign_in, clipboard, card_key_to_id):
    card_id = card_key_to_id(CARD_KEY)
    page.set_viewport_size(PHONE)
    sign_in(page)
    assert_no_horizontal_overflow(page)

    box = search_box(page)
    expect(box).to_be_visible()
    expect(box).to_be_in_viewport()
    assert_inside_viewport(page, box)
    assert box.bounding_box()["width"] >= 150

    type_search(page, "cancel order")
    items = suggest_items(page)
    assert_inside_viewport(page, suggestions(page))
    row = items.filter(has=page.locator("a.suggest-title", has_text=CARD_TITLE))
    for part in (row.locator("a.suggest-title"), row.locator(".badge"), row.locator("button.copy-answer")):
        expect(part).to_be_visible()
        assert_inside_viewport(page, part)
    assert_no_horizontal_overflow(page)

    # Still usable: copy from the list, then open the card with the keyboard.
    row.locator("button.copy-answer").click()
    expect(row.locator("button.copy-answer")).to_have_text("Copied ✓")
    assert clipboard.read().startswith(CARD_TEXT_START)
    position = [t.strip() for t in items.locator("a.suggest-title").all_inner_texts()].index(CARD_TITLE)
    box.focus()
    for _ in range(position + 1):
        page.keyboard.press("ArrowDown")
    expect(row).to_have_class(re.compile(r"\bactive\b"))
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/cards/{card_id}\?sid={SID}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(CARD_TITLE)
    assert_no_horizontal_overflow(page)

    # The results page at phone width.
    page.goto(f"/search?q={CORRECTION}")
    expect(page.locator("ol.hits > li.hit").first).to_be_visible()
    assert_inside_viewport(page, page.locator("ol.hits > li.hit").first)
    assert_no_horizontal_overflow(page)

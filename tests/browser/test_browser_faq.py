"""End-to-end tests of the public FAQ: no sign-in, a phone-width layout without sideways scrolling, the brand
colour applied through the stylesheet (the CSP allows no inline style), and the search box. Fixtures (a live
server with the demo data for this module alone, Chromium, pages) and the skip/fail rule are in conftest.py
next to this file. The tests change nothing, so any order passes.
"""
import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the `browser` fixture skips, or fails when CI is set
    expect = None

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# Demo data (kb/demo_content.py): a public card of the public "orders" collection, its internal notes, and an
# internal card that mentions cancelling too.
CARD_TITLE = "Can a customer cancel an order before it ships?"
CARD_NOTES = "Warehouse cancellation: Admin tool"
INTERNAL_TITLE = "Can I get free shipping on my next order after cancelling?"
BRAND_RGB = "rgb(31, 111, 235)"  # FAQ_BRAND_COLOR's default, #1f6feb


def assert_no_horizontal_overflow(page):
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1] + 1, f"{page.url} scrolls sideways: scrollWidth {widths[0]} > {widths[1]}"


def assert_inside_viewport(page, locator):
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not rendered"
    width = page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, f"{locator} sticks out: {box}, viewport {width}"


def test_faq_fits_a_phone_without_sideways_scrolling(page, base_url):
    page.set_viewport_size(PHONE)
    page.goto("/faq/")
    expect(page).to_have_url(f"{base_url}/faq/")  # no sign-in page in the way
    expect(page.get_by_role("heading", name="How can we help?")).to_be_visible()
    header = page.locator(".faq-header")
    assert header.evaluate("e => getComputedStyle(e).backgroundColor") == BRAND_RGB
    box = page.get_by_role("searchbox")
    expect(box).to_be_in_viewport()
    assert_inside_viewport(page, box)
    assert box.bounding_box()["width"] >= 150
    assert_no_horizontal_overflow(page)

    page.get_by_role("link", name="Orders & cancellations").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Orders & cancellations")
    item = page.locator("details.faq-item", has=page.get_by_role("heading", name=CARD_TITLE))
    item.locator("summary").click()
    expect(item.locator(".faq-answer")).to_be_visible()
    expect(item.locator(".faq-reviewed")).to_contain_text(re.compile(r"Last reviewed \d{4}-\d{2}-\d{2}"))
    assert_inside_viewport(page, item)
    assert_no_horizontal_overflow(page)

    item.get_by_role("link", name="Link to this answer").click()
    expect(page).to_have_url(re.compile(r"/faq/cards/\d+-can-a-customer-cancel-an-order-before-it-ships$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(CARD_TITLE)
    expect(page.locator("article")).not_to_contain_text(CARD_NOTES)
    assert_no_horizontal_overflow(page)


def test_search_box_finds_public_answers_only(page, base_url):
    page.set_viewport_size(PHONE)
    page.goto("/faq/")
    box = page.get_by_role("searchbox")
    box.fill("cancel order")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/faq/\?q=cancel\+order$"))
    expect(page.get_by_role("heading", name="Search results")).to_be_visible()
    expect(page.get_by_role("searchbox")).to_have_value("cancel order")
    results = page.locator(".faq-results")
    expect(results.get_by_role("link", name=CARD_TITLE)).to_be_visible()
    expect(results).not_to_contain_text(INTERNAL_TITLE)
    expect(page.locator("main")).not_to_contain_text(CARD_NOTES)
    assert_no_horizontal_overflow(page)

    results.get_by_role("link", name=CARD_TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(CARD_TITLE)
    expect(page.locator(".faq-reviewed")).to_contain_text("Last reviewed")

"""End-to-end tests of cards: editing with the live preview, history and diff, verifying an edited card, what
agents and anonymous visitors get. Fixtures (live server with the demo data, Chromium, pages) and the
skip/fail rule are in conftest.py next to this file.
"""
import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the `browser` fixture skips, or fails when CI is set
    expect = None

pytestmark = pytest.mark.browser

# Demo data (kb/demo_content.py) the tests walk through.
LEO = ("leo@example.com", "expert-demo")        # expert in Logistics experts and Support leads
AGENT = ("agent@example.com", "agent-demo")
COLLECTION_NAME = "Orders & cancellations"
CARD_KEY = "cancel-before-shipment"             # in "orders", verified by Support leads, owned by Leo
CARD_TITLE = "Can a customer cancel an order before it ships?"

NEW_SENTENCE = "Cancellations requested after 6 pm are handled by the warehouse the next business morning."
SUMMARY = "Explain evening cancellations (browser test)"
VERIFY_NOTE = "Checked the evening cut-off with the Reno warehouse (browser test)."


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def _card(app):
    """(id, revision number) of the demo card the tests use, read from the database."""
    from sqlalchemy import select

    from kb.extensions import db
    from kb.models import Card

    with app.app_context():
        card = db.session.scalar(select(Card).filter_by(external_id=CARD_KEY))
        assert card is not None, f"demo card {CARD_KEY!r} is missing"
        return card.id, card.revision_number


@pytest.fixture
def card_id(live_app):
    return _card(live_app)[0]


def card_badge(page):
    return page.locator(".card-page .heading .badge")


def expect_pending_change(page, revision, verified_revision):
    """The card page shows `revision` (which adds NEW_SENTENCE) as a pending change, apart from the answer."""
    pending = page.get_by_test_id("pending-change")
    expect(pending.get_by_role("heading", level=2)).to_contain_text("Pending change, not verified yet")
    expect(pending.get_by_role("heading", level=2)).to_contain_text(
        re.compile(rf"revision {revision} by Leo Fischer, \d{{4}}-\d\d-\d\d"))
    expect(pending).to_contain_text(f"keep the verified revision {verified_revision} until a verifier checks")
    expect(pending.locator("pre.diff ins", has_text=NEW_SENTENCE)).to_have_count(1)
    full = pending.locator("#pending-answer")
    expect(full).to_be_hidden()
    pending.get_by_text("The pending wording in full").click()
    expect(full).to_contain_text(NEW_SENTENCE)


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

def test_expert_edits_card_with_live_preview_history_and_diff(page, base_url, live_app, log_in):
    _, old_revision = _card(live_app)
    new_revision = old_revision + 1

    # Sign in through the form; land on the home page with the collections.
    page.goto("/login")
    log_in(page, *LEO)
    expect(page).to_have_url(f"{base_url}/")
    expect(page.locator(".topbar .me")).to_contain_text("Leo Fischer")
    expect(page.get_by_role("heading", name="Collections", exact=True)).to_be_visible()

    # Collection, then card.
    page.locator("ul.collections").get_by_role("link", name=COLLECTION_NAME).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(COLLECTION_NAME)
    page.get_by_role("link", name=CARD_TITLE).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(CARD_TITLE)
    expect(page.locator("#answer")).not_to_contain_text(NEW_SENTENCE)

    # The editor: change the answer; the live preview (kb.js -> /cards/preview) renders it.
    page.get_by_role("link", name="Edit", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit card")
    answer = page.get_by_label("Customer-facing answer (Markdown)")
    preview = page.locator("#answer-preview")
    expect(preview).to_contain_text("as long as the order hasn't started shipping")
    expect(preview).not_to_contain_text(NEW_SENTENCE)
    answer.fill(answer.input_value() + f"\n\n**Evening orders:** {NEW_SENTENCE}")
    expect(preview).to_contain_text(NEW_SENTENCE)
    # Rendered as Markdown by the server, not echoed as text.
    expect(preview.locator("strong", has_text="Evening orders:")).to_be_visible()
    expect(preview).not_to_contain_text("**Evening orders:**")

    page.get_by_label("What changed (for the history)").fill(SUMMARY)
    page.get_by_role("button", name="Save new revision").click()

    # Back on the card: the flash; the answer for customers is still the verified one, and the new text is
    # a pending change beside it, with its diff, author and date.
    expect(page).to_have_url(re.compile(r"/cards/\d+$"))
    expect(page.locator(".flash")).to_have_text(f"Saved as revision {new_revision}.")
    expect(page.locator("#answer")).to_contain_text("as long as the order hasn't started shipping")
    expect(page.locator("#answer")).not_to_contain_text(NEW_SENTENCE)
    expect_pending_change(page, new_revision, old_revision)

    # History: the new revision is on top, current, with its summary.
    page.get_by_role("link", name="History", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("History")
    top = page.locator("table.table tbody tr").first
    expect(top).to_contain_text(f"#{new_revision}")
    expect(top).to_contain_text("current")
    expect(top).to_contain_text(SUMMARY)
    expect(top).to_contain_text("Leo Fischer")

    # Compare with the previous revision: the sentence is marked as inserted.
    page.get_by_role("button", name="Compare selected revisions").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Revision {old_revision} → revision {new_revision}")
    expect(page.locator("pre.diff ins", has_text=NEW_SENTENCE)).to_have_count(1)
    expect(page.locator("pre.diff del", has_text=NEW_SENTENCE)).to_have_count(0)


def _ensure_edited_since_verification(app):
    """The card as the previous test leaves it; made so here when this test runs on its own."""
    from sqlalchemy import select

    from kb.accounts.operations import find_user
    from kb.cards import operations
    from kb.extensions import db
    from kb.models import Card

    with app.app_context():
        card = db.session.scalar(select(Card).filter_by(external_id=CARD_KEY))
        if card.verified_revision_number == card.revision_number:
            operations.edit_card(card, author=find_user(LEO[0]), summary=SUMMARY,
                                 answer=f"{card.answer}\n\n{NEW_SENTENCE}")
            db.session.commit()
        return card.revision_number


def test_expert_verifies_edited_card(page, live_app, card_id, log_in):
    revision = _ensure_edited_since_verification(live_app)

    page.goto("/login")
    log_in(page, *LEO)
    expect(page.get_by_role("heading", name="Collections", exact=True)).to_be_visible()

    page.goto(f"/cards/{card_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(CARD_TITLE)
    expect(card_badge(page)).to_have_text("Needs verification")
    expect(page.locator("ul.reasons li[data-reason=edited]")).to_contain_text(
        f"Edited since verification (verified revision {revision - 1}, current revision {revision})")
    expect(page.locator("#answer")).not_to_contain_text(NEW_SENTENCE)
    expect_pending_change(page, revision, revision - 1)

    verify = page.locator("section#verify")
    expect(verify.get_by_role("heading")).to_have_text(f"Verify revision {revision}")
    verify.get_by_label("What did you check? (optional)").fill(VERIFY_NOTE)
    # Demo hires read this card: the expert must say what the change means for them before it is served.
    verify.get_by_role("button", name="Verify").click()
    expect(page.locator(".flash")).to_have_text("Please correct the fields marked below.")
    expect(card_badge(page)).to_have_text("Needs verification")
    verify = page.locator("section#verify")
    verify.get_by_label("Material", exact=False).check()
    verify.get_by_role("button", name="Verify").click()

    expect(page.locator(".flash")).to_have_text(f"Verified revision {revision}. Thank you.")
    expect(card_badge(page)).to_have_text("Verified")
    expect(page.locator("ul.reasons")).to_have_count(0)
    # Verified: the new wording is the answer for customers now, and nothing is pending.
    expect(page.locator("#answer")).to_contain_text(NEW_SENTENCE)
    expect(page.get_by_test_id("pending-change")).to_have_count(0)
    history = page.locator("section", has=page.get_by_role("heading", name="Verification history"))
    entry = history.locator("li", has_text=VERIFY_NOTE)
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(f"Leo Fischer verified revision {revision}")


def test_agent_cannot_edit_or_verify(page, card_id, log_in):
    page.goto("/login")
    log_in(page, *AGENT)
    expect(page.locator(".topbar .me")).to_contain_text("Jordan Lee")

    page.goto(f"/cards/{card_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(CARD_TITLE)
    expect(page.locator("#answer")).to_contain_text("as long as the order hasn't started shipping")
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Verify")).to_have_count(0)
    expect(page.get_by_role("button", name="Archive")).to_have_count(0)
    expect(page.locator("section#verify")).to_have_count(0)

    response = page.goto(f"/cards/{card_id}/edit")
    assert response is not None and response.status == 403
    expect(page.locator(".error-code")).to_have_text("403")
    expect(page.locator(".error-page")).to_contain_text("not allowed")
    expect(page.get_by_label("Customer-facing answer (Markdown)")).to_have_count(0)


def test_anonymous_visit_redirects_to_login_and_back(page, base_url, card_id, log_in):
    page.goto(f"/cards/{card_id}")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator(".flash")).to_have_text("Please sign in to see this page.")
    expect(page.get_by_text(CARD_TITLE)).to_have_count(0)

    log_in(page, *AGENT)
    expect(page).to_have_url(f"{base_url}/cards/{card_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(CARD_TITLE)

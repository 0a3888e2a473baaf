"""End-to-end tests of the verification workflow: an expert clears "My verifications" with the bulk actions
and watches the trust score rise; agents are kept out of the queue but can flag a card that looks wrong.

Fixtures (a live server with the demo data for this module alone, Chromium, pages) and the skip/fail rule
are in conftest.py next to this file. The tests share that server, so they touch disjoint data: the queue
test works on the cards verified by Leo's teams (Logistics experts, Support leads), the flag test on a
card verified by Billing experts, and the 403 test changes nothing. Any order passes.
"""
import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the `browser` fixture skips, or fails when CI is set
    expect = None

pytestmark = pytest.mark.browser

# Demo data (kb/demo_content.py) the tests walk through.
LEO = ("leo@example.com", "expert-demo")
LEO_TEAMS = {"Logistics experts", "Support leads"}
AGENT = ("agent@example.com", "agent-demo")

BULK_NOTE = "Checked against the 2026 logistics and support playbooks (browser test)."

FLAG_CARD_KEY = "payment-methods"  # verified by Billing experts: never in Leo's queue
FLAG_CARD_TITLE = "Which payment methods do you accept?"
FLAG_COMMENT = "Customers say we accept Venmo now; the card doesn't mention it (browser test)."


def nav(page):
    return page.locator(".topbar nav")


def card_badge(page):
    return page.locator(".card-page .heading .badge")


def queue_rows(page):
    return page.locator("table.queue tbody tr")


def trust_score(page):
    """Open the trust dashboard from the top bar and read the overall score, e.g. 67 for "67%"."""
    nav(page).get_by_role("link", name="Trust", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Trust dashboard")
    score = page.locator("#trust-score")
    expect(score).to_have_text(re.compile(r"^\d{1,3}%$"))
    return int(score.inner_text().strip().rstrip("%"))


def open_queue(page):
    """Open "My verifications" from the top bar; wait for kb.js (deferred), which wires select-all."""
    nav(page).get_by_role("link", name="My verifications").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My verifications")
    page.wait_for_load_state("load")


def apply_to_all(page, action, **fields):
    """Tick the select-all box, check that it ticked every row, choose the action, fill, submit.
    Returns how many cards were selected."""
    rows = queue_rows(page)
    n = rows.count()
    assert n > 0
    boxes = page.locator('table.queue tbody input[type=checkbox][name="cards"]')
    expect(boxes).to_have_count(n)
    expect(page.locator("table.queue tbody input[type=checkbox]:checked")).to_have_count(0)
    page.locator("input[data-select-all]").check()
    expect(page.locator('table.queue tbody input[name="cards"]:checked')).to_have_count(n)
    bulk = page.locator("form#bulk")
    bulk.get_by_label("Action", exact=True).select_option(label=action)
    for label, value in fields.items():
        control = bulk.get_by_label(label)
        if control.evaluate("el => el.tagName") == "SELECT":
            control.select_option(label=value)
        else:
            control.fill(value)
    bulk.get_by_role("button", name="Apply to selected").click()
    return n


def test_expert_clears_queue_with_bulk_actions_and_trust_rises(page, log_in):
    page.goto("/login")
    log_in(page, *LEO)
    expect(page.locator(".topbar .me")).to_contain_text("Leo Fischer")

    score_before = trust_score(page)

    # The queue: only cards verified by Leo's teams, every one of which he may verify.
    open_queue(page)
    rows = queue_rows(page)
    expect(rows.first).to_be_visible()
    teams = {meta.rsplit("·", 1)[-1].strip() for meta in rows.locator("td:nth-child(2) .meta").all_inner_texts()}
    assert teams and teams <= LEO_TEAMS, f"the queue shows cards of other teams: {teams - LEO_TEAMS}"
    # Cards whose owner is deactivated stay in the queue after verifying ("No active owner or verifiers"):
    # verifying cannot fix that, reassigning does (below).
    orphaned = rows.filter(has=page.locator("li[data-reason=orphaned]"))
    orphaned_titles = sorted(orphaned.locator("td:nth-child(2) > a").all_inner_texts())
    fixable = rows.filter(has_not=page.locator("li[data-reason=orphaned]"))
    expect(fixable.first).to_be_visible()
    sample_link = fixable.first.locator("td:nth-child(2) > a")
    sample_title, sample_href = sample_link.inner_text().strip(), sample_link.get_attribute("href")

    # Verify everything at once, with a note.
    selected = apply_to_all(page, "Verify", **{"Verification note": BULK_NOTE})
    expect(page.locator(".flash-success")).to_have_text(f"Verified {selected} card{'s' if selected != 1 else ''}.")
    expect(page.locator(".flash-info")).to_contain_text("2 of them still need an active owner")
    expect(page.get_by_role("heading", level=1)).to_have_text("My verifications")
    # Left: the orphaned cards (verifying cannot fix a missing owner), and cards that link to a card whose
    # wording was just verified (e.g. onboarding cards quoting an edited tone-of-voice card): they need a look now.
    remaining = queue_rows(page)
    orphaned_left = remaining.filter(has=page.locator("li[data-reason=orphaned]"))
    linked_left = remaining.filter(has=page.locator("li[data-reason=link_changed]"))
    assert sorted(orphaned_left.locator("td:nth-child(2) > a").all_inner_texts()) == orphaned_titles
    expect(linked_left.first).to_be_visible()
    expect(linked_left.first).to_contain_text("linked card changed since verification", ignore_case=True)
    expect(remaining).to_have_count(orphaned_left.count() + linked_left.count())

    # Second pass: check the linking cards (their own wording is unchanged), verify them too.
    verified_again = apply_to_all(page, "Verify", **{"Verification note": BULK_NOTE})
    expect(page.locator(".flash-success")).to_have_text(f"Verified {verified_again} cards.")
    remaining = queue_rows(page)
    expect(remaining).to_have_count(len(orphaned_titles))
    if orphaned_titles:
        assert sorted(remaining.locator("td:nth-child(2) > a").all_inner_texts()) == orphaned_titles
        expect(remaining.locator("li[data-reason]")).to_have_count(len(orphaned_titles))
        expect(remaining.locator("li[data-reason=orphaned]")).to_have_count(len(orphaned_titles))
    else:
        expect(page.get_by_text("Nothing to verify")).to_be_visible()

    score_after_verify = trust_score(page)
    assert score_after_verify > score_before, (score_before, score_after_verify)

    # A verified card: the badge, and the bulk note in its verification history.
    page.goto(sample_href)
    expect(page.get_by_role("heading", level=1)).to_have_text(sample_title)
    expect(card_badge(page)).to_have_text("Verified")
    expect(page.locator("ul.reasons")).to_have_count(0)
    history = page.locator("section", has=page.get_by_role("heading", name="Verification history"))
    entry = history.locator("li", has_text=BULK_NOTE)
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text("Leo Fischer verified revision")

    # The orphaned cards: give them an active owner (Leo); that is all they were missing.
    open_queue(page)
    if orphaned_titles:
        reassigned = apply_to_all(page, "Reassign", **{"New owner": "Leo Fischer"})
        assert reassigned == len(orphaned_titles)
        expect(page.locator(".flash")).to_have_text(
            f"Reassigned {reassigned} card{'s' if reassigned != 1 else ''}.")
    expect(queue_rows(page)).to_have_count(0)
    expect(page.locator("form#bulk")).to_have_count(0)
    expect(page.locator("p.empty")).to_have_text("Nothing to verify. Every card your teams verify is current.")

    assert trust_score(page) >= score_after_verify


def test_agent_gets_403_on_verification_pages(page, log_in):
    page.goto("/login")
    log_in(page, *AGENT)
    expect(page.locator(".topbar .me")).to_contain_text("Jordan Lee")
    expect(nav(page).get_by_role("link", name="My verifications")).to_have_count(0)
    expect(nav(page).get_by_role("link", name="Trust", exact=True)).to_have_count(0)

    for path in ("/verification/queue", "/verification/dashboard"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.locator(".error-code")).to_have_text("403")
        expect(page.locator(".error-page")).to_contain_text("The verification pages are for experts and admins.")
        expect(page.locator("table.queue")).to_have_count(0)
        expect(page.locator("#trust-score")).to_have_count(0)


def test_agent_flags_card(page, log_in, card_key_to_id):
    card_id = card_key_to_id(FLAG_CARD_KEY)
    page.goto("/login")
    log_in(page, *AGENT)
    expect(page.locator(".topbar .me")).to_contain_text("Jordan Lee")

    page.goto(f"/cards/{card_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(FLAG_CARD_TITLE)
    expect(card_badge(page)).to_have_text("Verified")
    open_flags = page.get_by_role("region", name="Open flags")
    expect(open_flags).to_have_count(0)

    # The flag form is folded away in a disclosure until the agent opens it.
    disclosure = page.locator("details.flag-form")
    kind = disclosure.get_by_label("What is wrong?")
    expect(kind).to_be_hidden()
    disclosure.get_by_text("This card looks wrong? Flag it").click()
    expect(kind).to_be_visible()
    kind.select_option(label="Incorrect: the answer is wrong")
    disclosure.get_by_label("Comment for the verifiers").fill(FLAG_COMMENT)
    disclosure.get_by_role("button", name="Flag for verification").click()

    expect(page.locator(".flash")).to_have_text(
        "Thank you. The card is marked as needing verification and its verifiers were told.")
    expect(page.get_by_role("heading", level=1)).to_have_text(FLAG_CARD_TITLE)
    expect(card_badge(page)).to_have_text("Needs verification")
    expect(page.locator("ul.reasons li[data-reason=flagged]")).to_have_text("1 open flag from agents.")
    expect(open_flags.get_by_role("heading")).to_have_text("Open flags")
    flag = open_flags.locator(".flag")
    expect(flag).to_have_count(1)
    expect(flag).to_contain_text("Incorrect — Jordan Lee")
    expect(flag).to_contain_text(f"“{FLAG_COMMENT}”")
    # Agents cannot dismiss flags, nor verify.
    expect(open_flags.get_by_text("Dismiss this flag")).to_have_count(0)
    expect(page.locator("section#verify")).to_have_count(0)

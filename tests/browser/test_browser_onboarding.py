"""End-to-end tests of onboarding in Chromium: a lead reorders a path from the keyboard and with the mouse
(kb.js's path editor), a hire works through a path with check questions answered in place, and a pushed
must-acknowledge item stays on top of every page until the hire confirms it.

The module builds its own data through kb's operations, in the live app's database (the demo onboarding
content may change): a cohort team with a lead and a hire, a push team with one member, three verified
cards, a path to reorder and a path to read. The tests touch disjoint data, so any order passes.
"""
import re

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the `browser` fixture skips, or fails when CI is set
    expect = None

pytestmark = pytest.mark.browser

PASSWORD = "browser-test-1"
LEAD, HIRE, PUSHED = "bt-lead@example.com", "bt-hire@example.com", "bt-pushed@example.com"
TITLES = ["BT: How do I greet a customer in chat?", "BT: Can a customer cancel before shipment?",
          "BT: How long do refunds take?"]
REORDER = ["BT: Reorder card A", "BT: Reorder card B", "BT: Reorder card C"]
SPARE = "BT: Reorder card D"  # not in the path: added behind the editor's back
PUSH_MESSAGE = "The refund window changed today (browser test)."


@pytest.fixture(scope="module")
def data(live_app):
    """Teams, people, cards, the two paths and a check question, made as the app makes them; their ids."""
    from kb.accounts import operations as accounts
    from kb.cards import operations as cards
    from kb.dates import utcnow
    from kb.extensions import db
    from kb.onboarding import paths, questions

    with live_app.app_context():
        cohort = accounts.create_team(name="BT cohort")
        push_team = accounts.create_team(name="BT push team")
        lead = accounts.create_user(email=LEAD, name="Bea Lead", role="expert", password=PASSWORD)
        accounts.set_membership(cohort, lead, actor=None, is_lead=True)
        accounts.create_user(email=HIRE, name="Hal Hire", role="agent", password=PASSWORD, teams=[cohort])
        accounts.create_user(email=PUSHED, name="Pia Pushed", role="agent", password=PASSWORD, teams=[push_team])
        collection = cards.create_collection(name="BT onboarding", team=cohort)
        made = {}
        for title in TITLES + REORDER + [SPARE]:
            card = cards.create_card(collection=collection, owner=lead, verifier_team=cohort, author=lead,
                                     title=title, answer=f"The answer to “{title}”.")
            cards.verify_card(card, lead, at=utcnow())
            made[title] = card
        db.session.flush()

        reading = paths.create_path(name="BT reading path", team=cohort, actor=lead, sections=["Day 1", "Day 2"])
        day1, day2 = reading.sections
        paths.add_card(reading, day1, made[TITLES[0]], lead)
        paths.add_card(reading, day2, made[TITLES[1]], lead, must_acknowledge=True)
        paths.add_card(reading, day2, made[TITLES[2]], lead)
        questions.add(made[TITLES[2]], prompt="How long do refunds take?", choices=["1 day", "5 days", "a month"],
                      correct=1, explanation="Five business days.", actor=lead)
        paths.assign(reading, actor=lead, team=cohort, due_days=3)

        reorder = paths.create_path(name="BT reorder path", team=cohort, actor=lead, sections=["Day 1", "Day 2"])
        r1, r2 = reorder.sections
        for title, section in zip(REORDER, (r1, r1, r2), strict=True):
            paths.add_card(reorder, section, made[title], lead)
        db.session.commit()
        return dict(reading=reading.id, reorder=reorder.id, push_team=push_team.id, lead=lead.id,
                    cards={title: card.id for title, card in made.items()})


def order(page):
    """[(section title, [card titles…]), …] as the editor shows it."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.path-editor ol.sortable')).map(ol =>
        [ol.getAttribute('aria-label'), Array.from(ol.querySelectorAll('li.item')).map(li => li.dataset.title)])""")


def open_editor(page, data):
    page.goto(f"/onboarding/paths/{data['reorder']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("BT reorder path")
    page.wait_for_load_state("load")  # kb.js is deferred


def status(page):
    return page.locator("#reorder-status")


def tab_to(page, label, limit=150):
    """Press Tab until the element with this aria-label has the focus (the way a keyboard user gets there)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement && document.activeElement.getAttribute('aria-label')") == label:
            return
    raise AssertionError(f"Tab never reached {label!r}")


def change_path(live_app, data, add):
    """Add the spare card to the path to reorder (or take it out again), as another lead's page would."""
    from sqlalchemy import select

    from kb.extensions import db
    from kb.models import Card, Path, PathItem, User
    from kb.onboarding import paths

    with live_app.app_context():
        path, lead = db.session.get(Path, data["reorder"]), db.session.get(User, data["lead"])
        card = db.session.get(Card, data["cards"][SPARE])
        if add:
            paths.add_card(path, path.sections[-1], card, lead)
        else:
            paths.remove_item(db.session.scalar(select(PathItem).filter_by(path_id=path.id, card_id=card.id)), lead)
        db.session.commit()


def test_a_lead_reorders_a_path_from_the_keyboard_and_with_the_mouse(page, sign_in, live_app, data):
    a, b, c = REORDER
    sign_in(page, LEAD, PASSWORD)
    open_editor(page, data)
    assert order(page) == [["Day 1", [a, b]], ["Day 2", [c]]]

    # Keyboard only: A goes down past B and over the edge into Day 2.
    tab_to(page, f"Move {a}")
    page.keyboard.press("Space")
    expect(status(page)).to_contain_text(f"Picked up {a}. Use the arrow keys")
    expect(page.locator("li.item.picked")).to_have_attribute("data-title", a)
    page.keyboard.press("ArrowDown")
    expect(status(page)).to_have_text(f"{a}: position 2 of 2 in Day 1.")
    page.keyboard.press("ArrowDown")
    expect(status(page)).to_have_text(f"{a}: position 1 of 2 in Day 2.")
    page.keyboard.press("Space")
    expect(status(page)).to_contain_text("Saved.")
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == f"Move {a}"
    assert order(page) == [["Day 1", [b]], ["Day 2", [a, c]]]
    page.reload()
    assert order(page) == [["Day 1", [b]], ["Day 2", [a, c]]]

    # Escape puts the card back and saves nothing.
    page.get_by_role("button", name=f"Move {c}").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowUp")
    assert order(page) == [["Day 1", [b]], ["Day 2", [c, a]]]
    page.keyboard.press("Escape")
    expect(status(page)).to_have_text(f"Move cancelled. {c}: position 2 of 2 in Day 2.")
    assert order(page) == [["Day 1", [b]], ["Day 2", [a, c]]]

    # A layout the server refuses (someone added a card meanwhile) is undone, with the server's reason.
    change_path(live_app, data, add=True)
    page.keyboard.press("Space")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Space")
    expect(status(page)).to_contain_text("Not saved (must name every section and card of the path once")
    expect(status(page)).to_contain_text("The previous order is back.")
    assert order(page) == [["Day 1", [b]], ["Day 2", [a, c]]]
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == f"Move {c}"
    change_path(live_app, data, add=False)
    page.reload()

    # Mouse: drag C to the top of Day 1.
    page.get_by_role("button", name=f"Move {c}").drag_to(
        page.locator(f'li.item[data-title="{b}"]'), target_position={"x": 40, "y": 3})
    expect(status(page)).to_contain_text("Saved.")
    assert order(page) == [["Day 1", [c, b]], ["Day 2", [a]]]
    page.reload()
    assert order(page) == [["Day 1", [c, b]], ["Day 2", [a]]]


def bar_fill(bar):
    """How much of a progress bar is filled, 0 to 1, as drawn (the CSP forbids inline widths, so CSS draws it)."""
    return bar.evaluate("el => el.firstElementChild.getBoundingClientRect().width / el.getBoundingClientRect().width")


def test_a_hire_works_through_a_path_and_answers_check_questions_in_place(page, sign_in, data):
    first, acknowledge, with_question = TITLES
    sign_in(page, HIRE, PASSWORD)
    page.locator(".topbar nav").get_by_role("link", name="My onboarding").click()
    block = page.get_by_test_id(f"path-{data['reading']}")
    expect(block.get_by_test_id("progress-text")).to_contain_text("0 of 3 cards done (0%)")
    assert bar_fill(block.get_by_role("progressbar")) == 0
    block.get_by_role("link", name=f"Start: {first}").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(first)
    page.get_by_role("button", name="Mark as read").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(acknowledge)
    page.get_by_role("button", name="I understood").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(with_question)
    expect(page.locator(".progress")).to_have_attribute("aria-valuenow", "67")
    assert bar_fill(page.locator(".progress")) == pytest.approx(0.67, abs=0.01)
    page.wait_for_load_state("load")

    page.evaluate("() => { window.kbSamePage = true; }")  # gone if the page reloads
    question = page.locator("form.question")
    question.get_by_label("1 day").check()
    question.get_by_role("button", name="Answer").click()
    expect(question.locator(".result")).to_have_text("Not quite: read the card again and retry.")
    expect(question).not_to_have_class(re.compile(r"\bright\b"))
    question.get_by_label("5 days").check()
    question.get_by_role("button", name="Answer again").click()
    expect(question.locator(".result")).to_have_text("Right. Five business days.")
    expect(question).to_have_class(re.compile(r"\bright\b"))
    assert page.evaluate("() => window.kbSamePage === true"), "answering reloaded the page"

    page.get_by_role("button", name="Mark as read").click()
    expect(page).to_have_url(re.compile(r"/onboarding/$"))
    expect(page.get_by_text("You finished “BT reading path”. Well done!")).to_be_visible()
    block = page.get_by_test_id(f"path-{data['reading']}")
    expect(block.locator(".badge")).to_have_text("Finished")
    expect(block.get_by_test_id("progress-text")).to_contain_text("3 of 3 cards done (100%)")
    expect(block.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "100")
    assert bar_fill(block.get_by_role("progressbar")) == pytest.approx(1.0, abs=0.01)
    expect(block.locator("li.item.state-done")).to_have_count(3)


def test_a_pushed_item_is_on_every_page_until_acknowledged(page, sign_in, live_app, data):
    from kb.extensions import db
    from kb.models import Card, Team, User
    from kb.onboarding import pushes

    card_id = data["cards"][TITLES[2]]
    with live_app.app_context():
        pushes.push(db.session.get(Card, card_id), [db.session.get(Team, data["push_team"])], due_hours=24,
                    actor=db.session.get(User, data["lead"]), message=PUSH_MESSAGE)
        db.session.commit()

    sign_in(page, PUSHED, PASSWORD)
    pages = ["/", "/onboarding/", f"/cards/{card_id}", "/search?q=refund"]
    for url in pages:
        page.goto(url)
        banner = page.get_by_test_id("push-banner")
        expect(banner).to_have_count(1)
        expect(banner).to_contain_text(TITLES[2])
        expect(banner).to_contain_text(PUSH_MESSAGE)

    banner.get_by_role("link", name=TITLES[2]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLES[2])
    page.get_by_role("button", name="I understood").click()
    expect(page.get_by_text("You acknowledged this on")).to_be_visible()
    for url in pages:
        page.goto(url)
        expect(page.get_by_test_id("push-banner")).to_have_count(0)

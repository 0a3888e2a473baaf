"""A season's onboarding end to end in Chromium: a lead imports a cohort from CSV (a bad file first: nothing
is imported) and assigns a path; a hire sets a password from the one-time link the lead downloaded and
finishes the path; an expert verifies a material change to one card, which goes back to that hire as
"updated" with the diff since the revision they read, and to nobody who never read it; the lead's report
shows all of it, and again once the hire has read the new wording.

The module makes its own team, people, cards and path through kb's operations in the live app's database;
the hires exist only once the lead's import has run.
"""
import csv
import io

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - the `browser` fixture skips, or fails when CI is set
    expect = None

pytestmark = pytest.mark.browser

PASSWORD = "browser-cohort-1"
LEAD, EXPERT = "bc-lead@example.com", "bc-expert@example.com"
HIRE, IDLE = "bc-hana@example.com", "bc-ivo@example.com"
TEAM, PATH = "BC winter cohort", "BC winter: Day 1"
TITLES = ["BC: How do I open a chat?", "BC: Can an order be cancelled before it ships?",
          "BC: How long do refunds take?"]
CHANGED = TITLES[1]
OLD_WORDS, NEW_WORDS = "until it is packed", "until the label is printed"


@pytest.fixture(scope="module")
def data(live_app):
    """The cohort's team and lead, a verifying expert, three verified cards in an unassigned path."""
    from kb.accounts import operations as accounts
    from kb.cards import operations as cards
    from kb.dates import utcnow
    from kb.extensions import db
    from kb.onboarding import paths, questions

    with live_app.app_context():
        team = accounts.create_team(name=TEAM)
        lead = accounts.create_user(email=LEAD, name="Lena Lead", role="expert", password=PASSWORD)
        accounts.set_membership(team, lead, actor=None, is_lead=True)
        experts = accounts.create_team(name="BC policy experts")  # not in the cohort: not counted as a hire
        accounts.set_membership(experts, lead, actor=None, is_lead=False)
        accounts.create_user(email=EXPERT, name="Elio Expert", role="expert", password=PASSWORD, teams=[experts])
        collection = cards.create_collection(name="BC onboarding", team=experts)
        made = []
        for title in TITLES:
            answer = f"A customer may cancel {OLD_WORDS}." if title == CHANGED else f"The answer to “{title}”."
            card = cards.create_card(collection=collection, owner=lead, verifier_team=experts, author=lead,
                                     title=title, answer=answer)
            cards.verify_card(card, lead, at=utcnow())
            made.append(card)
        path = paths.create_path(name=PATH, team=team, actor=lead, sections=["Tools", "Orders"])
        tools, orders = path.sections
        paths.add_card(path, tools, made[0], lead)
        paths.add_card(path, orders, made[1], lead, must_acknowledge=True)
        paths.add_card(path, orders, made[2], lead)
        questions.add(made[2], prompt="How long do refunds take?", choices=["1 day", "5 business days"],
                      correct=1, explanation="Five business days.", actor=lead)
        db.session.commit()
        return dict(path=path.id, cards=[c.id for c in made])


def csv_file(text):
    return {"name": "hires.csv", "mimeType": "text/csv", "buffer": text.encode("utf-8-sig")}


def report_row(page, email):
    return page.get_by_test_id("report").locator(f'tr[data-email="{email}"]')


def _page(browser, base_url):
    page = browser.new_page(base_url=base_url)
    page.set_default_timeout(10_000)
    return page


def test_a_cohort_from_a_csv_file_to_the_leads_report(browser, base_url, live_app, data, log_in):
    lead = _page(browser, base_url)
    lead.goto("/login")
    log_in(lead, LEAD, PASSWORD)
    lead.locator(".topbar nav").get_by_role("link", name="Onboarding", exact=True).click()
    lead.get_by_role("link", name="Import a cohort of hires (CSV)…").click()
    expect(lead.get_by_role("heading", level=1)).to_have_text("Import a cohort")

    # A file with a bad line imports nobody, and says which line and why.
    form = lead.locator("form", has=lead.get_by_role("button", name="Import"))
    form.get_by_label("Team").select_option(label=TEAM)
    form.get_by_label("Cohort file").set_input_files(csv_file(f"email,name\n{HIRE},Hana\nnot-an-address,Ivo\n"))
    form.get_by_role("button", name="Import").click()
    problems = lead.get_by_test_id("import-problems")
    expect(problems).to_contain_text("Nothing was imported.")
    expect(problems).to_contain_text("line 3")
    with live_app.app_context():
        from kb.accounts.operations import find_user

        assert find_user(HIRE) is None

    # The corrected file: two new accounts in the team, with an end date, and their links once.
    form = lead.locator("form", has=lead.get_by_role("button", name="Import"))
    form.get_by_label("Team").select_option(label=TEAM)
    form.get_by_label("Accounts work until").fill("2027-01-31")
    corrected = f"Email;Name\n{HIRE.upper()};Hana Hire\n{IDLE};Ivo Idle\n"  # a semicolon file, the address shouted
    form.get_by_label("Cohort file").set_input_files(csv_file(corrected))
    form.get_by_role("button", name="Import").click()
    expect(lead.locator(".flash")).to_contain_text(f"Imported into {TEAM}")
    expect(lead.get_by_role("heading", level=1)).to_have_text(f"Cohort import into {TEAM}")
    with lead.expect_download() as download:
        lead.get_by_role("button", name="Download set-password links (once)").click()
    with open(download.value.path(), encoding="utf-8-sig") as handle:
        links = {row["email"].lower(): row["link"] for row in csv.DictReader(handle)}
    assert set(links) == {HIRE, IDLE}
    lead.reload()
    expect(lead.get_by_role("button", name="Download set-password links (once)")).to_have_count(0)
    expect(lead.get_by_text("were downloaded on")).to_be_visible()

    # The lead assigns the path to the cohort, due three days after joining.
    lead.goto(f"/onboarding/paths/{data['path']}")
    assign = lead.locator("form", has=lead.get_by_role("button", name="Assign"))
    assign.get_by_label("Team").select_option(label=TEAM)
    assign.get_by_label("Due after days").fill("3")
    assign.get_by_role("button", name="Assign").click()
    expect(lead.get_by_text(f"{TEAM} (team), due 3 days after assignment")).to_be_visible()

    # The hire chooses a password from the link and lands on their onboarding, signed in.
    hire = _page(browser, base_url)
    hire.goto(links[HIRE])
    expect(hire.get_by_role("heading", level=1)).to_have_text("Choose your password")
    hire.get_by_label("New password").fill(PASSWORD)
    hire.get_by_label("Repeat it").fill(PASSWORD)
    hire.get_by_role("button", name="Set my password").click()
    expect(hire.get_by_role("heading", level=1)).to_have_text("My onboarding")
    expect(hire.get_by_text("Your account ends after 2027-01-31")).to_be_visible()
    block = hire.get_by_test_id(f"path-{data['path']}")
    expect(block.get_by_test_id("progress-text")).to_contain_text("0 of 3 cards done (0%)")
    hire.goto(links[HIRE])  # the link worked once
    expect(hire.get_by_test_id("link-refused")).to_be_visible()

    # The hire works through the path: read, "I understood", a wrong then a right answer, read.
    hire.goto("/onboarding/")
    hire.get_by_test_id(f"path-{data['path']}").get_by_role("link", name=f"Start: {TITLES[0]}").click()
    expect(hire.get_by_role("heading", level=1)).to_have_text(TITLES[0])
    hire.get_by_role("button", name="Mark as read").click()
    expect(hire.get_by_role("heading", level=1)).to_have_text(CHANGED)
    expect(hire.locator("#answer")).to_contain_text(OLD_WORDS)
    hire.get_by_role("button", name="I understood").click()
    expect(hire.get_by_role("heading", level=1)).to_have_text(TITLES[2])
    hire.wait_for_load_state("load")
    question = hire.locator("form.question")
    question.get_by_label("1 day").check()
    question.get_by_role("button", name="Answer").click()
    expect(question.locator(".result")).to_have_text("Not quite: read the card again and retry.")
    question.get_by_label("5 business days").check()
    question.get_by_role("button", name="Answer again").click()
    expect(question.locator(".result")).to_have_text("Right. Five business days.")
    hire.get_by_role("button", name="Mark as read").click()
    expect(hire.get_by_text(f"You finished “{PATH}”. Well done!")).to_be_visible()

    lead.goto(f"/onboarding/paths/{data['path']}/report")
    expect(lead.get_by_test_id("report-summary")).to_contain_text("2 hires · 1 finished · 0 overdue · 0 with updated")
    expect(report_row(lead, HIRE).locator("td").nth(1)).to_have_text("finished")
    expect(report_row(lead, HIRE).get_by_test_id("progress")).to_have_text("3/3 (100%)")
    expect(report_row(lead, HIRE).locator("td").nth(3)).to_have_text("1/1")
    expect(report_row(lead, HIRE).locator("td").nth(4)).to_contain_text("0/1")  # wrong the first time
    expect(report_row(lead, IDLE).locator("td").nth(1)).to_have_text("not started")
    missed = lead.locator("section", has=lead.get_by_role("heading", name="Most-missed questions"))
    expect(missed).to_contain_text("How long do refunds take?")
    expect(missed).to_contain_text("1 of 1 (100%)")

    # An expert edits the cancellation card; verifying it, they call the change material.
    changed_id = data["cards"][1]
    with live_app.app_context():
        from kb.accounts.operations import find_user
        from kb.cards import operations
        from kb.extensions import db
        from kb.models import Card

        card = db.session.get(Card, changed_id)
        operations.edit_card(card, author=find_user(EXPERT), summary="The cut-off moved",
                             answer=f"A customer may cancel {NEW_WORDS}.")
        db.session.commit()
    expert = _page(browser, base_url)
    expert.goto("/login")
    log_in(expert, EXPERT, PASSWORD)
    expert.goto(f"/cards/{changed_id}")
    verify = expert.locator("section#verify")
    verify.get_by_label("Material", exact=False).check()
    verify.get_by_role("button", name="Verify").click()
    expect(expert.locator(".flash")).to_contain_text("Verified revision 2")

    # The card is back for the hire who read it, with what changed since the revision they read.
    hire.goto("/onboarding/")
    block = hire.get_by_test_id(f"path-{data['path']}")
    expect(block.get_by_test_id("progress-text")).to_contain_text("2 of 3 cards done")
    expect(block.get_by_test_id("progress-text")).to_contain_text("1 updated since you read it")
    expect(block.locator("li.item.state-updated")).to_have_count(1)
    expect(block.locator("li.item.state-updated")).to_contain_text(CHANGED)
    block.get_by_role("link", name=f"Continue: {CHANGED}").click()  # the updated card is next
    updated = hire.get_by_test_id("updated")
    expect(updated).to_contain_text("Updated since you read it")
    expect(updated).to_contain_text("you read revision 1; this is revision 2")
    assert "packed" in " ".join(updated.locator("del").all_inner_texts())  # what they read is struck out
    assert "label" in " ".join(updated.locator("ins").all_inner_texts())  # and what replaced it marked

    lead.reload()
    expect(lead.get_by_test_id("report-summary")).to_contain_text("2 hires · 0 finished · 0 overdue · 1 with updated")
    expect(report_row(lead, HIRE).locator("td").nth(5)).to_have_text("1")
    expect(report_row(lead, HIRE).get_by_test_id("progress")).to_have_text("2/3 (67%)")
    expect(report_row(lead, IDLE).locator("td").nth(1)).to_have_text("not started")  # never read: not "updated"
    expect(report_row(lead, IDLE).locator("td").nth(5)).to_have_text("")

    # Confirming the new wording finishes the path again; the report says so.
    hire.get_by_role("button", name="I understood").click()
    hire.goto("/onboarding/")
    expect(hire.get_by_test_id(f"path-{data['path']}").get_by_test_id("progress-text")).to_contain_text(
        "3 of 3 cards done (100%)")
    lead.reload()
    expect(lead.get_by_test_id("report-summary")).to_contain_text("2 hires · 1 finished · 0 overdue · 0 with updated")
    with lead.expect_download() as download:
        lead.get_by_role("link", name="Download CSV").click()
    with open(download.value.path(), encoding="utf-8-sig") as handle:
        rows = {row["email"]: row for row in csv.DictReader(io.StringIO(handle.read()))}
    assert set(rows) == {HIRE, IDLE}
    for page in (lead, hire, expert):
        page.close()

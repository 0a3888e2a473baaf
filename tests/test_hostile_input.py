"""Hostile input: control characters, look-alike e-mails, bidirectional overrides, broken files on the CLI.

Tests run on SQLite, which would store a NUL silently (PostgreSQL refuses it with a 500): so each test
asserts the 400 and that nothing changed. tests/test_postgres.py posts the same on PostgreSQL.
"""
import json

import pytest
from sqlalchemy import func, select

from kb.extensions import db
from kb.models import Card, Flag, Revision, SearchEvent, SynonymSet, User


def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def edit_form(world, **changes):
    return {"title": "How do refunds work?", "answer": "Refunds take 3 days.", "tags": "", "interval": "90",
            "collection": world["billing_coll"].id, "owner": world["expert"].id,
            "verifier_team": world["billing"].id, "base_revision": "1", **changes}


# -- 1. Control characters refused with a 400, before any query --------------------------------------

@pytest.mark.parametrize("q", ["refund\x00", "\x00", "refund\x1b[31m", "refund\x7f"])
def test_a_search_with_a_control_character_is_a_400_and_logs_nothing(app, world, auth, client, q):
    auth.login("agent@example.com")
    before = count(app, SearchEvent)
    page = client.get("/search", query_string={"q": q})
    assert page.status_code == 400
    assert "(a control character)" in page.get_data(as_text=True)
    assert count(app, SearchEvent) == before


def test_tab_and_line_breaks_are_still_welcome(app, world, auth, client):
    auth.login("bianca@example.com")
    card_id = world["billing_card"].id
    saved = auth.post(f"/cards/{card_id}/edit", data=edit_form(world, answer="Refunds:\r\n\tthree days."))
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(Card, card_id).answer == "Refunds:\n\tthree days."


@pytest.mark.parametrize("field", ["title", "answer", "summary"])
def test_a_card_save_with_nul_is_a_400_and_changes_nothing(app, world, auth, field):
    auth.login("bianca@example.com")
    card_id = world["billing_card"].id
    revisions = count(app, Revision)
    page = auth.post(f"/cards/{card_id}/edit", data=edit_form(world, **{field: "Refunds\x00 take 3 days."}))
    assert page.status_code == 400
    assert f"“{field}”" in page.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Card, card_id).answer == "Refunds take 5 days."
    assert count(app, Revision) == revisions


def test_a_flag_comment_with_nul_is_a_400_and_raises_no_flag(app, world, auth):
    auth.login("agent@example.com")
    page = auth.post(f"/cards/{world['billing_card'].id}/flags", data={"kind": "incorrect", "comment": "old\x00"})
    assert page.status_code == 400
    assert count(app, Flag) == 0


@pytest.fixture
def api_token(app, world):
    from kb.channels import tokens

    with app.app_context():
        _, secret = tokens.create("agent tool", [tokens.INTERNAL_READ, tokens.FLAGS_WRITE],
                                  db.session.get(User, world["admin"].id))
        db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def test_the_api_refuses_nul_in_json_and_query_with_its_own_error_format(app, world, client, api_token):
    url = f"/api/v1/cards/{world['billing_card'].id}/flags"
    for body in ({"kind": "incorrect", "comment": "old\x00"}, {"kind": "incorrect", "comment": "\ud800"},
                 {"kind": "incorrect", "extra": [{"deep": "\x01"}]}):
        refused = client.post(url, json=body, headers=api_token)
        assert refused.status_code == 400, body
        assert refused.get_json()["error"]["code"] == "invalid_parameter"
    search = client.get("/api/v1/search", query_string={"q": "refund\x00"}, headers=api_token)
    assert search.status_code == 400 and search.get_json()["error"] == {
        "code": "invalid_parameter", "field": "q",
        "message": "q contains U+0000 (a control character) at character 7"}
    assert count(app, Flag) == 0 and count(app, SearchEvent) == 0


def test_deeply_nested_json_is_a_400_not_a_recursion_error(app, world, client, api_token):
    url = f"/api/v1/cards/{world['billing_card'].id}/flags"
    for depth in (40, 100_000):
        body = "[" * depth + "]" * depth
        refused = client.post(url, data=body, content_type="application/json", headers=api_token)
        assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "invalid_parameter"
    assert count(app, Flag) == 0


def test_nul_in_a_url_path_is_a_404_before_any_lookup(client, auth, world):
    auth.login("agent@example.com")
    assert client.get("/cards/by-key/abc%00def").status_code == 404
    assert client.get("/set-password/%00").status_code == 404


# -- 4 and 5. The CLI: one-line errors, byte order marks welcome -------------------------------------

def one_line_error(result):
    """The command failed as a command should: exit 1, a last line "Error: …", no traceback."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), result.exception  # an uncaught exception is a traceback
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    return errors[0]


def card_line(**fields):
    return json.dumps({"title": "Can I return a gift?", "answer": "Within 30 days.", "collection": "Returns",
                       "owner_email": "bianca@example.com", "verifier_team": "Billing experts", **fields},
                      ensure_ascii=False)


@pytest.mark.parametrize("content, reason", [
    ((card_line() + "\n").encode("latin-1") + card_line(title="Café?").encode("latin-1"), "cards.jsonl:2: the file is "
                                                                                          "not UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    (("[" * 100_000 + "]" * 100_000).encode(), "nested more than"),
    (card_line(tags=["x"]).replace('["x"]', "[" * 40 + "]" * 40).encode(), "nested more than"),
    (card_line(answer="Within\x00 30 days.").encode(), "contains U+0000 (a control character)"),
])
def test_kb_import_of_a_broken_file_is_one_line_and_imports_nothing(app, world, runner, tmp_path, content, reason):
    path = tmp_path / "cards.jsonl"
    path.write_bytes(content)
    before = count(app, Card)
    result = runner.invoke(args=["import", str(path)])
    assert reason in one_line_error(result) or reason in result.output
    assert count(app, Card) == before


def test_kb_import_of_a_missing_file_is_one_line(runner, tmp_path):
    assert "cannot read" in one_line_error(runner.invoke(args=["import", str(tmp_path / "nowhere.jsonl")]))


def test_kb_import_accepts_a_byte_order_mark(app, world, runner, tmp_path):
    path = tmp_path / "cards.jsonl"
    path.write_text(card_line() + "\n" + card_line(title="Can I return a sale item?") + "\n", encoding="utf-8-sig")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 created" in result.output


def test_kb_tokens_revoke_of_an_oversized_id_is_one_line(runner):
    assert "there is no token 99999999999999999999" in one_line_error(
        runner.invoke(args=["tokens", "revoke", "99999999999999999999"]))


def test_kb_synonyms_import_of_a_non_utf8_file_is_one_line_and_keeps_the_sets(app, runner, tmp_path):
    (tmp_path / "ok.txt").write_text("cancel, void\n", encoding="utf-8")
    assert runner.invoke(args=["synonyms", "import", str(tmp_path / "ok.txt")]).exit_code == 0
    (tmp_path / "bad.txt").write_bytes("refund, rembourser\nd\xe9lai, wait\n".encode("latin-1"))
    assert "bad.txt:2: the file is not UTF-8" in one_line_error(
        runner.invoke(args=["synonyms", "import", str(tmp_path / "bad.txt")]))
    assert count(app, SynonymSet) == 1


def test_kb_synonyms_import_refuses_control_characters_by_line(app, runner, tmp_path):
    (tmp_path / "bad.txt").write_text("refund, money back\ncancel,\x0bvoid\n", encoding="utf-8")
    result = runner.invoke(args=["synonyms", "import", str(tmp_path / "bad.txt")])
    assert result.exit_code == 1 and "line 2: contains U+000B (a control character) at character 8" in result.output
    assert count(app, SynonymSet) == 0


def test_kb_synonyms_import_keeps_the_first_set_of_a_file_with_a_byte_order_mark(app, runner, tmp_path):
    (tmp_path / "sets.txt").write_text("cancel, void order\nrefund, money back\n", encoding="utf-8-sig")
    assert runner.invoke(args=["synonyms", "import", str(tmp_path / "sets.txt")]).exit_code == 0
    listed = runner.invoke(args=["synonyms", "list"]).output.splitlines()
    assert listed == ["cancel, void order", "refund, money back"]


def test_kb_users_import_of_a_non_utf8_file_is_one_line_and_creates_nobody(app, world, runner, tmp_path):
    (tmp_path / "c.csv").write_bytes("email,name\njose@example.com,Jos\xe9\n".encode("latin-1"))
    before = count(app, User)
    assert "nothing was imported" in one_line_error(
        runner.invoke(args=["users", "import", str(tmp_path / "c.csv"), "--team", "Billing experts"]))
    assert count(app, User) == before


# -- 2. Bidirectional controls stripped from titles, names and e-mail subjects -----------------------

BIDI = "\u202eexe.txt\u202c \u2066Refunds\u2069\u200f\u061c"


def test_bidirectional_controls_are_stripped_from_card_titles(app, world, auth):
    auth.login("bianca@example.com")
    card_id = world["billing_card"].id
    assert auth.post(f"/cards/{card_id}/edit", data=edit_form(world, title=BIDI)).status_code == 302
    with app.app_context():
        assert db.session.get(Card, card_id).title == "exe.txt Refunds"


def test_bidirectional_controls_are_stripped_from_collection_team_and_user_names(
        app, make_team, make_user, make_collection):
    team = make_team(name="Billing\u202e experts")
    assert team.name == "Billing experts"
    assert make_collection(team, name="\u202ePayments").name == "Payments"
    assert make_user(name="Mia\u200f Rossi\u202e").name == "Mia Rossi"


def test_bidirectional_controls_never_reach_an_e_mail_subject(app, world):
    from kb.verification.notify import message_for

    with app.app_context():
        user = db.session.get(User, world["expert"].id)
        assert message_for(user, "Edited: \u202etxt.exe", "A card changed.")["Subject"] == "Edited: txt.exe"


# -- 3. Look-alike e-mail addresses refused at creation -----------------------------------------------

CYRILLIC_JOSE = "j\u043esé@example.com"  # a Cyrillic "о" in a Latin name


def test_the_admin_page_refuses_a_look_alike_address_with_the_reason(app, world, auth, make_user):
    make_user(email="josé@example.com")
    auth.login("admin@example.com")
    before = count(app, User)
    page = auth.post("/admin/users/new", data={"email": CYRILLIC_JOSE, "name": "José", "role": "agent",
                                               "password": "long-enough-1"})
    assert page.status_code == 400
    assert "Mixes Latin and Cyrillic letters (о U+043E): type it again in one script" in page.get_data(as_text=True)
    assert count(app, User) == before


@pytest.mark.parametrize("email", ["user@ex\u0430mple.com", "user@xn--exmple-4nf.com", "\u03bflga@example.com"])
def test_a_look_alike_domain_or_greek_letter_is_refused(app, email):
    from kb.accounts import operations

    with app.app_context(), pytest.raises(operations.InvalidAccount, match="type it again in one script"):
        operations.create_user(email=email, name="Look-alike", role="agent", password="long-enough-1")


def test_kb_create_user_refuses_a_look_alike_address_in_one_line(app, runner):
    result = runner.invoke(args=["create-user", "--email", "\u0430dmin@example.com", "--name", "Admin",
                                 "--password", "long-enough-1"])
    assert "mixes Latin and Cyrillic letters (а U+0430)" in one_line_error(result)
    assert count(app, User) == 0


def test_a_cohort_with_a_look_alike_address_imports_nobody(app, world, runner, tmp_path):
    (tmp_path / "c.csv").write_text(f"email,name\nmia@example.com,Mia\n{CYRILLIC_JOSE},José\n", encoding="utf-8")
    before = count(app, User)
    result = runner.invoke(args=["users", "import", str(tmp_path / "c.csv"), "--team", "Billing experts"])
    assert "line 3" in one_line_error(result)
    assert "line 3: 'jоsé@example.com' mixes Latin and Cyrillic letters (о U+043E)" in result.output
    assert count(app, User) == before


@pytest.mark.parametrize("email", ["ivan@пример.рф", "иван@пример.рф", "josé@example.com", "σοφία@example.gr",
                                   "jose.o'neil+q4@mail.example.co.uk"])
def test_addresses_in_one_script_per_label_are_welcome(app, make_user, email):
    assert make_user(email=email).email == email


def test_look_alikes_that_normalise_are_one_account(app, make_user):
    from kb.accounts import operations

    make_user(email="josé@example.com")  # composed é
    with app.app_context():
        for twin in ("jose\u0301@example.com", "ｊｏｓé@example.com", "jo\u200bsé@EXAMPLE.com"):
            with pytest.raises(operations.InvalidAccount, match="already in use"):
                operations.create_user(email=twin, name="Twin", role="agent", password="long-enough-1")


def test_a_look_alike_account_made_before_the_rule_can_still_be_deactivated(app, world, auth):
    with app.app_context():
        legacy = User(email="\u0430dmin@example.com", name="Look-alike", role="agent")
        legacy.set_password("long-enough-1")
        db.session.add(legacy)
        db.session.commit()
        legacy_id = legacy.id
    auth.login("admin@example.com")
    saved = auth.post(f"/admin/users/{legacy_id}", data={"email": "\u0430dmin@example.com", "name": "Look-alike",
                                                          "role": "agent"})
    assert saved.status_code == 302
    with app.app_context():
        assert db.session.get(User, legacy_id).active is False
    renamed = auth.post(f"/admin/users/{legacy_id}", data={"email": "\u0430dmin2@example.com", "name": "Look-alike",
                                                            "role": "agent"})
    assert renamed.status_code == 400  # a new look-alike address is refused


def test_a_cohort_line_with_a_control_character_is_refused_by_number(app, world, runner, tmp_path):
    (tmp_path / "c.csv").write_text("email,name\nmia@example.com,Mia\nleo@example.com,Le\x00o\n", encoding="utf-8")
    before = count(app, User)
    result = runner.invoke(args=["users", "import", str(tmp_path / "c.csv"), "--team", "Billing experts"])
    assert "line 3" in one_line_error(result) and "control characters" in result.output
    assert count(app, User) == before


def test_a_sign_in_with_nul_is_a_400_and_signs_nobody_in(client, auth, world):
    page = client.post("/login?next=/%00", data={"email": "agent@example.com", "password": "x\x00",
                                                 "csrf_token": auth.csrf_token()})
    assert page.status_code == 400 and "(a control character)" in page.get_data(as_text=True)
    assert client.get("/search?q=refund").status_code in (302, 401)


def test_a_public_faq_search_with_nul_is_a_400_and_logs_nothing(app, world, client):
    page = client.get("/faq/", query_string={"q": "a\x00b"})
    assert page.status_code == 400 and "(a control character)" in page.get_data(as_text=True)
    assert count(app, SearchEvent) == 0

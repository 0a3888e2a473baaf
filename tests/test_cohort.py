"""Cohorts at peak scale: a CSV of hires imported all or nothing (command and page), look-alike addresses as
one person, one-time set-password links (downloaded once, or e-mailed through a real local SMTP server),
cards handed over when accounts end, tokens dying with their admin, the last day of an account, and a rehire
who finds only what changed since last season. Real SQLite, real app, no mocks."""
import csv
import email
import email.policy
import html
import io
import re
import socket
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from kb.dates import local_day, utcnow
from kb.extensions import db
from kb.models import AuditEvent, Card, Membership, Notification, PasswordLink, Path, Revision, Team, User, UserImport

PASSWORD = "correct-horse-1"  # conftest's: AuthActions.login signs in with it

DAY = timedelta(days=1)
FUTURE = (date.today() + timedelta(days=60)).isoformat()


# ---------------------------------------------------------------------------------------------- helpers

def count(app, model):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def user_by(app, address):
    from kb.accounts.operations import find_user

    with app.app_context():
        user = find_user(address)
        if user is not None:
            db.session.refresh(user)
            user.team_names = sorted(t.name for t in user.teams)
            db.session.expunge(user)
        return user


def upload(auth, data, team, expires=FUTURE, role="agent", dry_run=False, name="cohort.csv"):
    form = {"team": str(team.id), "expires": expires or "", "role": role,
            "file": (io.BytesIO(data if isinstance(data, bytes) else data.encode()), name)}
    if dry_run:
        form["dry_run"] = "y"
    return auth.post("/cohorts/import", data=form, content_type="multipart/form-data")


def body(response):
    """The page as a reader sees it (entities such as &#39; unescaped)."""
    return html.unescape(response.get_data(as_text=True))


def links_of(text):
    return list(csv.DictReader(io.StringIO(text)))


def secret_of(link):
    return link.rsplit("/", 1)[1]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """aiosmtpd handler keeping every message it is given."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp_sink():
    from aiosmtpd.controller import Controller

    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    sink.port = controller.port
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def season(make_team, make_user):
    team = make_team("Q4 2026 seasonal")
    other = make_team("Returns desk")
    lead = make_user("expert", email="lead@example.com", name="Lena Lead", lead_of=[team])
    return dict(team=team, other=other, lead=lead)


# ---------------------------------------------------------------------------------------------- the command

def test_the_command_imports_a_spreadsheet_export_and_writes_the_links_once(app, runner, season, tmp_path):
    # What Excel writes for "CSV UTF-8" in a semicolon locale: a BOM, semicolons, CRLF, headers in any case.
    (tmp_path / "q4.csv").write_bytes("\ufeffEMAIL;Name;Role;Expires\r\nnoah@example.com;Noah Ng;;\r\n"
                                      f"mia@example.com;;expert;{FUTURE}\r\n".encode())
    out = tmp_path / "links.csv"
    result = runner.invoke(args=["users", "import", str(tmp_path / "q4.csv"), "--team", "Q4 2026 seasonal",
                                 "--expires", "2099-01-15", "--links-out", str(out), "--by", "lead@example.com"])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated" in result.output
    noah, mia = user_by(app, "noah@example.com"), user_by(app, "mia@example.com")
    assert (noah.name, noah.role, noah.expires_on) == ("Noah Ng", "agent", date(2099, 1, 15))
    assert (mia.name, mia.role, mia.expires_on) == ("mia", "expert", date.fromisoformat(FUTURE))
    assert noah.team_names == mia.team_names == ["Q4 2026 seasonal"]
    assert not noah.check_password("")  # nobody knows a password until the hire chooses one
    rows = links_of(out.read_text())
    assert [r["email"] for r in rows] == ["noah@example.com", "mia@example.com"]
    assert all(r["link"].startswith("http://127.0.0.1:5000/set-password/") and r["expires"] for r in rows)
    with app.app_context():
        assert db.session.scalar(select(UserImport.links_csv)) is None  # the file has them; the database not
        stored = db.session.scalars(select(PasswordLink.secret_hash)).all()
        assert secret_of(rows[0]["link"]) not in stored and len(stored) == 2  # hashes only
        assert db.session.scalar(select(AuditEvent).filter_by(action="cohort.import")).actor.email == "lead@example.com"


def test_the_command_lists_every_bad_line_and_writes_nothing(app, runner, season, make_user, tmp_path):
    make_user("agent", email="kept@example.com")
    before = count(app, User), count(app, Membership)
    (tmp_path / "bad.csv").write_text(
        "email,name,role,expires\n"
        "ok@example.com,Ok,,\n"
        "not-an-address,,,\n"
        "OK@Example.com,Again,,\n"
        "kept@example.com,,boss,\n"
        "late@example.com,,,2020-01-01\n"
        "when@example.com,,,15/01/2027\n"
        f"long@example.com,{'x' * 121},,\n", encoding="utf-8")
    result = runner.invoke(args=["users", "import", str(tmp_path / "bad.csv"), "--team", "Q4 2026 seasonal",
                                 "--links-out", str(tmp_path / "links.csv")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for expected in ("line 3: 'not-an-address' is not a valid e-mail address",
                     "line 4: OK@Example.com is a duplicate of line 2",
                     "line 5: unknown role 'boss'", "line 6: the expiry 2020-01-01 is in the past",
                     "line 7: the expiry '15/01/2027' is not a date written YYYY-MM-DD",
                     "line 8: the name is longer than 120 characters",
                     "6 problem(s) (line 3, 4, 5, 6, 7, 8) in bad.csv; nothing was imported."):
        assert expected in result.output
    assert (count(app, User), count(app, Membership)) == before
    assert count(app, UserImport) == 0 and not (tmp_path / "links.csv").exists()


def test_the_command_names_the_teams_when_the_team_is_unknown(runner, season, tmp_path):
    (tmp_path / "c.csv").write_text("email\nnoah@example.com\n")
    result = runner.invoke(args=["users", "import", str(tmp_path / "c.csv"), "--team", "Q5"])
    assert result.exit_code == 1
    assert "unknown team 'Q5' (teams: Q4 2026 seasonal, Returns desk" in result.output


def test_without_mail_the_command_needs_somewhere_to_put_the_links(app, runner, season, tmp_path):
    (tmp_path / "c.csv").write_text("email\nnoah@example.com\n")
    result = runner.invoke(args=["users", "import", str(tmp_path / "c.csv"), "--team", "Q4 2026 seasonal"])
    assert result.exit_code == 1 and "give --links-out FILE" in result.output
    assert user_by(app, "noah@example.com") is None
    printed = runner.invoke(args=["users", "import", str(tmp_path / "c.csv"), "--team", "Q4 2026 seasonal",
                                  "--links-out", "-"])
    assert printed.exit_code == 0 and "/set-password/" in printed.stdout


def test_a_dry_run_reports_and_writes_nothing(app, runner, season, tmp_path):
    (tmp_path / "c.csv").write_text("email\nnoah@example.com\nmia@example.com\n")
    result = runner.invoke(args=["users", "import", str(tmp_path / "c.csv"), "--team", "Q4 2026 seasonal",
                                 "--dry-run"])
    assert result.exit_code == 0 and "Dry run, nothing written: 2 created" in result.output
    assert user_by(app, "noah@example.com") is None and count(app, UserImport) == 0


# ---------------------------------------------------------------------------------------------- the file

@pytest.mark.parametrize("second", ["Noah@Example.com", "ｎｏａｈ@example.com", "no\u200bah@example.com",
                                    "\ufeffnoah@example.com"])
def test_look_alike_addresses_in_one_file_are_duplicates(app, auth, season, second):
    auth.login("lead@example.com")
    response = upload(auth, f"email\nnoah@example.com\n{second}\n", season["team"])
    assert response.status_code == 400
    assert "line 3: " in body(response)
    assert "is a duplicate of line 2" in body(response)
    assert user_by(app, "noah@example.com") is None


@pytest.mark.parametrize("written", ["JOSÉ@EXAMPLE.COM", "jose\u0301@example.com", "ＪＯＳＥ\u0301@example.com",
                                     "jo\u200bsé@Example.com"])
def test_an_existing_account_is_updated_not_duplicated(app, auth, season, make_user, written):
    make_user("expert", email="josé@example.com", name="José", expires_on=date.today() + DAY,
              teams=[season["other"]])
    users = count(app, User)
    auth.login("lead@example.com")
    response = upload(auth, f"email,name\n{written},Someone Else\n", season["team"])
    assert response.status_code == 302
    assert count(app, User) == users
    jose = user_by(app, "josé@example.com")
    assert jose.team_names == ["Q4 2026 seasonal", "Returns desk"]
    assert (jose.name, jose.role) == ("José", "expert")  # an import never renames, promotes or demotes
    assert jose.expires_on == date.fromisoformat(FUTURE)
    page = body(auth.client.get(response.headers["Location"]))
    assert "<strong>0</strong> account(s) created, <strong>1</strong> updated" in page


def test_a_permanent_colleague_listed_by_mistake_keeps_working_and_an_admin_stays_admin(app, runner, season,
                                                                                         make_user, tmp_path):
    make_user("admin", email="boss@example.com")
    (tmp_path / "c.csv").write_text("email,role\nBOSS@example.com,agent\n")
    result = runner.invoke(args=["users", "import", str(tmp_path / "c.csv"), "--team", "Q4 2026 seasonal",
                                 "--expires", FUTURE])
    assert result.exit_code == 0, result.output
    assert "1 existing account(s) kept their role" in result.output
    boss = user_by(app, "boss@example.com")
    assert (boss.role, boss.expires_on, boss.team_names) == ("admin", None, ["Q4 2026 seasonal"])


@pytest.mark.parametrize("data, message", [
    (b"email\nnoah@example.com\nm\xe9lanie@example.com\n", "line 3: the file is not UTF-8 text"),
    (b"email,phone\nnoah@example.com,0700\n", "line 1: unknown column 'phone'"),
    (b"name\nNoah\n", 'at least an "email" column'),
    (b"", "the file is empty"),
    (b"email\n", "The file lists nobody"),
    (b"email,name\nnoah@example.com,Noah,extra\n", "line 2: has 3 cells but the header names 2 columns"),
    (b"email,name\nnoah@example.com,\"No\x07ah\"\n", "line 2: the name contains control characters"),
    (b"email,name\nnoah@example.com,\"Noah\n", "line 2: is not valid CSV"),
])
def test_a_file_that_cannot_be_read_is_refused_with_the_reason(app, auth, season, data, message):
    auth.login("lead@example.com")
    response = upload(auth, data, season["team"])
    assert response.status_code == 400
    assert message in body(response)
    assert count(app, User) == 1 and count(app, UserImport) == 0


def test_a_file_too_large_or_too_long_is_refused(make_app, auth_for):

    from kb.accounts import operations

    app = make_app(COHORT_MAX_BYTES=2000, COHORT_MAX_ROWS=5)
    client = app.test_client()

    with app.app_context():
        team = operations.create_team(name="Q4")
        lead = operations.create_user(email="lead@example.com", name="Lead", role="expert", password=PASSWORD)
        operations.set_membership(team, lead, actor=None, is_lead=True)
        db.session.commit()
        team_id = team.id
    auth = auth_for(client)
    auth.login("lead@example.com")
    six = "email\n" + "".join(f"h{i}@example.com\n" for i in range(6))
    response = upload(auth, six, SimpleNamespace(id=team_id))
    assert response.status_code == 400 and "more than 5 people" in body(response)
    big = "email,name\n" + "".join(f"h{i}@example.com,{'n' * 1000}\n" for i in range(3))
    response = upload(auth, big, SimpleNamespace(id=team_id))
    assert response.status_code == 400 and "a cohort file may be at most" in body(response)
    huge = auth.post("/cohorts/import", data={"team": str(team_id), "file": (io.BytesIO(b"x" * 200_000), "c.csv")},
                     content_type="multipart/form-data")
    assert huge.status_code == 413  # far past the limit: refused before it is read, as a page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


# ---------------------------------------------------------------------------------------------- the page

@pytest.mark.parametrize("role", ["agent", "expert"])
def test_people_who_lead_no_team_cannot_import(app, client, auth, season, make_user, role):
    make_user(role, email="someone@example.com", teams=[season["team"]])
    auth.login("someone@example.com")
    assert client.get("/cohorts/import").status_code == 403
    assert upload(auth, "email\nnoah@example.com\n", season["team"]).status_code == 403
    assert user_by(app, "noah@example.com") is None


def test_a_lead_imports_only_into_their_teams_and_only_agents_or_experts(app, client, auth, season):
    auth.login("lead@example.com")
    page = body(client.get("/cohorts/import"))
    assert "Q4 2026 seasonal" in page and "Returns desk" not in page
    assert 'value="admin"' not in page
    assert upload(auth, "email\nnoah@example.com\n", season["other"]).status_code == 400
    assert upload(auth, "email\nnoah@example.com\n", season["team"], role="admin").status_code == 400
    response = upload(auth, "email,role\nnoah@example.com,admin\n", season["team"])
    assert "line 2: you cannot give the role admin (use agent, expert)" in body(response)
    assert user_by(app, "noah@example.com") is None


def test_an_admin_imports_into_any_team_with_any_role(app, auth, season, make_user):
    make_user("admin", email="admin@example.com")
    auth.login("admin@example.com")
    assert upload(auth, "email\nnoah@example.com\n", season["other"], role="expert").status_code == 302
    noah = user_by(app, "noah@example.com")
    assert (noah.role, noah.team_names) == ("expert", ["Returns desk"])


def test_the_import_form_needs_its_csrf_token(app, client, auth, season):
    auth.login("lead@example.com")
    response = client.post("/cohorts/import", data={"team": str(season["team"].id), "role": "agent",
                                                     "file": (io.BytesIO(b"email\nnoah@example.com\n"), "c.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert user_by(app, "noah@example.com") is None


def test_a_dry_run_on_the_page_writes_nothing(app, auth, season):
    auth.login("lead@example.com")
    response = upload(auth, "email\nnoah@example.com\n", season["team"], dry_run=True)
    assert response.status_code == 200 and "nothing written: 1 created" in body(response)
    assert user_by(app, "noah@example.com") is None


def test_the_links_are_downloaded_once_by_the_lead_then_erased(app, client, auth, auth_for, season, make_user):
    auth.login("lead@example.com")
    response = upload(auth, "email,name\nnoah@example.com,=HYPERLINK(\"http://evil\")\nmia@example.com,Mia\n",
                      season["team"])
    page_url = response.headers["Location"]
    assert "Download set-password links (once)" in body(client.get(page_url))
    import_id = int(page_url.rsplit("/", 1)[1])
    # Someone else (even another lead) cannot open it, nor take the links.
    make_user("expert", email="lead2@example.com", lead_of=[season["team"]])
    other = app.test_client()
    auth_for(other).login("lead2@example.com")
    assert other.get(page_url).status_code == 403
    assert auth_for(other).post(f"{page_url}/links.csv").status_code == 403
    # Without the CSRF token nothing is handed out.
    assert client.post(f"{page_url}/links.csv").status_code == 400
    download = auth.post(f"{page_url}/links.csv")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    rows = links_of(download.get_data(as_text=True))
    assert [(r["email"], r["name"]) for r in rows] == [("noah@example.com", "'=HYPERLINK(\"http://evil\")"),
                                                         ("mia@example.com", "Mia")]
    with app.app_context():
        record = db.session.get(UserImport, import_id)
        assert record.links_csv is None and record.downloaded_at is not None
    again = auth.post(f"{page_url}/links.csv", follow_redirects=True)
    assert "already downloaded" in body(again)
    assert "text/csv" not in again.content_type
    # The downloaded link works.
    auth.logout()
    assert client.get(rows[1]["link"].replace("http://127.0.0.1:5000", "")).status_code == 200


def test_with_mail_configured_the_links_are_mailed_and_not_kept(make_app, auth_for, smtp_sink):

    from kb.accounts import operations

    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp_sink.port, EXTERNAL_URL="https://kb.example.com")
    with app.app_context():
        team = operations.create_team(name="Q4")
        lead = operations.create_user(email="lead@example.com", name="Lead", role="expert", password=PASSWORD)
        operations.set_membership(team, lead, actor=None, is_lead=True)
        db.session.commit()
        team_ref = SimpleNamespace(id=team.id)
    client = app.test_client()
    auth = auth_for(client)
    auth.login("lead@example.com")
    response = upload(auth, "email,name\nnoah@example.com,Noah\nmia@example.com,Mia\n", team_ref)
    page = body(client.get(response.headers["Location"]))
    assert "e-mailed to the new accounts" in page and "Download set-password" not in page
    with app.app_context():
        assert db.session.scalar(select(UserImport.links_csv)) is None
    assert sorted(m["To"] for m in smtp_sink.messages) == ["mia@example.com", "noah@example.com"]
    message = next(m for m in smtp_sink.messages if m["To"] == "noah@example.com")
    text = message.get_body(("plain",)).get_content()
    link = re.search(r"https://kb\.example\.com(/set-password/\S+)", text).group(1)
    auth.logout()
    response = client.post(link, data={"password": "a-new-password", "confirm": "a-new-password",
                                       "csrf_token": auth.csrf_token()})
    assert response.status_code == 302
    assert user_by(app, "noah@example.com").check_password("a-new-password")


# ---------------------------------------------------------------------------------------------- the link

@pytest.fixture
def hire_links(app, season):
    """An imported hire with two links (the second import's link is the live one) and a second hire."""
    from kb.accounts import links

    with app.app_context():
        from kb.accounts import cohort

        team = db.session.get(Team, season["team"].id)
        result = cohort.apply(cohort.parse(b"email\nnoah@example.com\nmia@example.com\n"), team, None, "agent",
                              None)
        db.session.commit()
        noah = db.session.scalar(select(User).filter_by(email="noah@example.com"))
        old = result.links[0].secret
        extra = links.issue(noah, days=7)
        second = links.issue(noah, days=7)  # issuing again kills the unused older ones
        db.session.commit()
        return dict(old=old, extra=extra.secret, live=second.secret, mia=result.links[1].secret)


def choose(client, auth, secret, password="a-new-password", confirm=None):
    return client.post(f"/set-password/{secret}", data={"password": password, "confirm": confirm or password,
                                                         "csrf_token": auth.csrf_token()})


def test_a_link_sets_the_password_once_and_signs_the_hire_in(app, client, auth, hire_links):
    page = client.get(f"/set-password/{hire_links['live']}")
    assert page.status_code == 200 and "noah@example.com" in body(page)
    assert choose(client, auth, hire_links["live"], "short").status_code == 400  # the rules; the link stays good
    assert choose(client, auth, hire_links["live"], "a-new-password", "typo-password").status_code == 400
    response = choose(client, auth, hire_links["live"])
    assert response.status_code == 302 and response.headers["Location"] == "/onboarding/"
    assert client.get("/").status_code == 200  # signed in
    auth.logout()
    again = client.get(f"/set-password/{hire_links['live']}")
    assert again.status_code == 410 and "already used" in body(again)
    assert choose(client, auth, hire_links["live"], "another-password").status_code == 410
    assert auth.login("noah@example.com", "a-new-password").status_code == 302
    assert user_by(app, "noah@example.com").check_password("a-new-password")


def test_older_links_die_when_a_new_one_is_issued_or_one_is_used(app, client, auth, hire_links):
    for secret in (hire_links["old"], hire_links["extra"]):
        response = choose(client, auth, secret)
        assert response.status_code == 410 and "expired (or a newer one was sent)" in body(response)
    from kb.accounts import links

    with app.app_context():  # two live links: using one kills the other
        noah = db.session.scalar(select(User).filter_by(email="noah@example.com"))
        spare = links.issue_many([noah])[0].secret
        db.session.execute(PasswordLink.__table__.update().values(expires_at=utcnow() + DAY))  # all live again
        db.session.commit()
    assert choose(client, auth, spare).status_code == 302
    auth.logout()
    assert choose(client, auth, hire_links["live"]).status_code == 410
    assert choose(client, auth, hire_links["mia"]).status_code == 302  # another hire's link is untouched


def test_an_expired_unknown_or_ended_link_gives_a_clear_page(app, client, auth, hire_links):
    with app.app_context():
        db.session.execute(PasswordLink.__table__.update().values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    expired = client.get(f"/set-password/{hire_links['live']}")
    assert expired.status_code == 410 and "has expired" in body(expired)
    for secret in ("nonsense", "x" * 5000, "%00"):
        unknown = client.get(f"/set-password/{secret}")
        assert unknown.status_code in (404, 410) and "Traceback" not in body(unknown)
    assert "This link is not valid" in body(client.get("/set-password/nonsense"))
    with app.app_context():
        db.session.execute(PasswordLink.__table__.update().values(expires_at=utcnow() + DAY))
        db.session.scalar(select(User).filter_by(email="mia@example.com")).active = False
        db.session.commit()
    ended = client.get(f"/set-password/{hire_links['mia']}")
    assert ended.status_code == 410 and "deactivated or has expired" in body(ended)


def test_the_link_form_needs_its_csrf_token(app, client, hire_links):
    response = client.post(f"/set-password/{hire_links['live']}", data={"password": "a-new-password",
                                                                         "confirm": "a-new-password"})
    assert response.status_code == 400
    assert not user_by(app, "noah@example.com").check_password("a-new-password")


# ---------------------------------------------------------------------------------------------- account ends

def test_an_account_works_through_its_last_local_day_and_not_a_minute_more(make_app, make_user):
    app = make_app(TIMEZONE="Europe/Bucharest")  # UTC+2 in winter: the local day ends at 22:00 UTC

    from kb.accounts import operations
    from kb.channels import tokens

    last_day = date(2026, 12, 24)
    with app.app_context():
        admin = operations.create_user(email="seasonal-admin@example.com", name="Sam", role="admin",
                                       password=PASSWORD, expires_on=last_day)
        _, secret = tokens.create("widget", [tokens.PUBLIC_READ], admin)
        db.session.commit()
        evening = datetime(2026, 12, 24, 21, 59, tzinfo=UTC)  # 23:59 in Bucharest on the last day
        midnight = datetime(2026, 12, 24, 22, 0, tzinfo=UTC)  # 00:00 the day after
        assert local_day(evening) == last_day and local_day(midnight) == last_day + DAY
        assert admin.is_active_at(evening) and not admin.is_active_at(midnight)
        assert tokens.authenticate(secret, now=evening) is not None
        assert tokens.authenticate(secret, now=midnight) is None


def test_a_token_dies_with_its_deactivated_or_expired_admin_through_the_api(app, client, make_user):
    from kb.channels import tokens

    keep = make_user("admin", email="keeper@example.com")
    leaving = make_user("admin", email="leaving@example.com")
    with app.app_context():
        _, kept = tokens.create("faq widget", [tokens.PUBLIC_READ], db.session.get(User, keep.id))
        _, dying = tokens.create("chatbot", [tokens.PUBLIC_READ], db.session.get(User, leaving.id))
        _, nobody = tokens.create("cli token", [tokens.PUBLIC_READ])
        db.session.commit()

    def status(secret):
        return client.get("/api/v1/cards", headers={"Authorization": f"Bearer {secret}"}).status_code

    assert (status(kept), status(dying), status(nobody)) == (200, 200, 200)
    with app.app_context():
        db.session.get(User, leaving.id).expires_on = local_day() - DAY
        db.session.commit()
    assert (status(kept), status(dying), status(nobody)) == (200, 401, 200)
    with app.app_context():
        user = db.session.get(User, leaving.id)
        user.expires_on, user.active = None, False
        db.session.commit()
    assert status(dying) == 401


def test_cards_of_ended_accounts_go_to_the_teams_lead_then_an_admin(app, make_team, make_user, make_collection,
                                                                   make_card):
    from kb.jobs import Scheduler, schedule

    billing, seasonal = make_team("Billing"), make_team("Seasonal")
    make_user("expert", email="zed@example.com", name="Zed Lead", lead_of=[billing])
    make_user("expert", email="ann@example.com", name="Ann Lead", lead_of=[billing])
    make_user("agent", email="agent-lead@example.com", name="Aaron Agent", lead_of=[billing])  # cannot own cards
    season_lead = make_user("expert", email="sol@example.com", name="Sol", lead_of=[seasonal])
    admin = make_user("admin", email="admin@example.com", name="Ada Admin")
    leaving = make_user("expert", email="temp@example.com", name="Temp", teams=[billing, seasonal],
                        expires_on=local_day() + DAY)
    collection = make_collection(billing)
    one = make_card(collection, leaving, verified_at=utcnow() - DAY)
    two = make_card(collection, leaving)
    other_team = make_team("No leads here")
    three = make_card(collection, leaving, verifier_team=other_team)
    archived = make_card(collection, leaving)
    with app.app_context():
        from kb.cards import operations

        operations.set_archived(db.session.get(Card, archived.id), None, True)
        db.session.commit()
    jobs = [j for j in schedule(app.config) if j.name in ("hand-over", "mail")]
    assert [j.name for j in jobs] == ["hand-over", "mail"]
    scheduler = Scheduler(app, jobs=jobs)
    assert [o.text for o in scheduler.run_due()][:1] == ["nothing to do"]  # still working: nothing moves

    with app.app_context():
        db.session.get(User, leaving.id).expires_on = local_day() - DAY
        db.session.execute(db.text("UPDATE job_runs SET last_started_at = NULL"))
        db.session.commit()
    outcome = scheduler.run_due()[0]
    assert outcome.ok and outcome.text == "3 card(s) handed over, 1 new owner(s) told"
    with app.app_context():
        owners = {c.id: c.owner.email for c in db.session.scalars(select(Card))}
        assert owners[one.id] == owners[two.id] == "ann@example.com"  # the verifying team's first lead by name
        assert owners[three.id] == "ann@example.com"  # its team has no lead: a lead of the old owner's teams
        assert owners[archived.id] == "temp@example.com"  # archived cards stay as they were
        notes = db.session.scalars(select(Notification).filter_by(kind="handed_over")).all()
        assert [(n.user.email, n.subject) for n in notes] == [
            ("ann@example.com", "You now own 3 card(s) from people who left")]
        assert "(from Temp)" in notes[0].body
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).filter_by(action="card.hand_over")) == 3
        assert db.session.scalar(select(func.count()).select_from(Revision).filter_by(card_id=one.id)) == 1
        # Ann leaves too (deactivated): her cards go on to Zed, the next lead; with no lead left, to the admin.
        db.session.get(User, User.query.filter_by(email="ann@example.com").one().id).active = False
        db.session.commit()
        from kb.accounts import handover

        assert str(handover.hand_over()) == "3 card(s) handed over, 1 new owner(s) told"
        assert {c.owner.email for c in db.session.scalars(select(Card).filter_by(is_archived=False))} == {
            "zed@example.com"}
        for email_ in ("zed@example.com", "sol@example.com"):
            db.session.scalar(select(User).filter_by(email=email_)).active = False
        db.session.commit()
        handover.hand_over()
        assert {c.owner.email for c in db.session.scalars(select(Card).filter_by(is_archived=False))} == {
            admin.email}
        db.session.get(User, admin.id).active = False
        db.session.commit()
        report = handover.hand_over()
        assert (report.moved, report.left) == (0, 3)  # nobody left to take them: they stay, shown as orphaned
    assert season_lead  # a lead of the old owner's other team, checked after the verifying team's


# ---------------------------------------------------------------------------------------------- rehire

def test_a_rehire_gets_their_account_back_and_sees_only_what_changed(app, runner, season, make_user,
                                                                    make_collection, make_card, tmp_path):
    from kb.cards import operations
    from kb.onboarding import paths, progress, reading

    expert = make_user("expert", email="expert@example.com", teams=[season["team"]])
    collection = make_collection(season["team"])
    kept, changed, minor = (make_card(collection, expert, title=t, verified_at=utcnow() - 30 * DAY)
                            for t in ("First day?", "Refund window?", "Dress code?"))
    with app.app_context():
        team = db.session.get(Team, season["team"].id)
        path = paths.create_path(name="Q4 basics", team=team, actor=None, sections=["Day 1"])
        for card in (kept, changed, minor):
            paths.add_card(path, path.sections[0], db.session.get(Card, card.id), None)
        paths.assign(path, actor=None, team=team)
        db.session.commit()
        path_id = path.id
    # Last season: imported, read everything, then the season ended.
    (tmp_path / "last.csv").write_text("email,name\nJosé.Núñez@example.com,José\n")
    assert runner.invoke(args=["users", "import", str(tmp_path / "last.csv"), "--team", season["team"].name,
                               "--expires", FUTURE, "--links-out", str(tmp_path / "l1.csv")]).exit_code == 0
    with app.app_context():
        jose = db.session.scalar(select(User).filter_by(email="josé.núñez@example.com"))
        for card in (kept, changed, minor):
            row = db.session.get(Card, card.id)
            reading.mark_read(jose, row, row.verified_revision_number)
        jose.expires_on = local_day() - 100 * DAY
        author = db.session.get(User, expert.id)
        for card, kind in ((changed, "material"), (minor, "minor")):
            row = db.session.get(Card, card.id)
            operations.edit_card(row, author=author, answer=f"New wording ({kind}).")
            operations.verify_card(row, author, change_kind=kind)
        db.session.commit()
        jose_id = jose.id
    assert not user_by(app, "josé.núñez@example.com").is_active
    # Next season: the same person, typed another way (upper case, decomposed accents).
    (tmp_path / "next.csv").write_text("email\nJOSE\u0301.NU\u0301N\u0303EZ@EXAMPLE.COM\n")
    result = runner.invoke(args=["users", "import", str(tmp_path / "next.csv"), "--team", season["team"].name,
                                 "--expires", "2099-01-31", "--links-out", str(tmp_path / "l2.csv")])
    assert result.exit_code == 0, result.output
    assert "0 created, 1 updated" in result.output and "1 ended account(s) reactivated" in result.output
    assert len(links_of((tmp_path / "l2.csv").read_text())) == 1  # a rehire chooses a password again
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.email_key == "josé.núñez@example.com")) == 1
        jose = db.session.get(User, jose_id)
        assert jose.is_active and jose.expires_on == date(2099, 1, 31)
        membership = db.session.get(Membership, (jose.id, season["team"].id))
        assert utcnow() - membership.joined_at < timedelta(minutes=5)  # due dates count from this season
        _, mine = progress.for_user(jose, db.session.get(Path, path_id))
        states = {item.item.card_id: item.state for item in mine.items}
    assert states == {kept.id: "done", changed.id: "updated", minor.id: "done"}

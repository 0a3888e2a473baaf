"""Notifications and their e-mail: the outbox folder, a real local SMTP server (aiosmtpd), failures and
retries, the weekly digest, the events that notify people (edits, reassignment), and their links (in the
app, and in both parts of an e-mail, from EXTERNAL_URL)."""
import email
import email.policy
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from kb.cards import operations
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, Notification, Team, User
from kb.search import gaps
from kb.verification import flags, notify

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # a Friday
DIGEST = "Your weekly kb digest"


# ---------------------------------------------------------------------------------------------- helpers

def free_port():
    """A local TCP port nobody listens on (right now)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """aiosmtpd handler that keeps every message it is given."""

    def __init__(self):
        self.received = []  # (envelope recipients, parsed message)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def messages(self, subject_prefix=""):
        return [m for _, m in self.received if m["Subject"].startswith(subject_prefix)]


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


def use_smtp(app, port):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)


def body(message):
    return message.get_body(preferencelist=("plain",)).get_content()


def html(message):
    return message.get_body(preferencelist=("html",)).get_content()


def read_eml(path):
    with open(path, "rb") as fh:
        return email.message_from_binary_file(fh, policy=email.policy.default)


def outbox(app):
    folder = Path(app.config["OUTBOX_DIR"])
    return sorted(folder.glob("*.eml")) if folder.exists() else []


def deliver(app):
    with app.app_context():
        return notify.deliver_pending()


def note_rows(app, **filters):
    """(e-mail, kind, card id, emailed?, attempts) per notification, oldest first."""
    with app.app_context():
        query = select(Notification).order_by(Notification.id).filter_by(**filters)
        return [(n.user.email, n.kind, n.card_id, n.emailed_at is not None, n.email_attempts)
                for n in db.session.scalars(query)]


@pytest.fixture
def flagged(app, make_team, make_user, make_collection, make_card):
    """An agent flagged a verified billing card: its two verifiers have a notification each, not yet e-mailed."""
    billing = make_team("Billing experts")
    bianca = make_user("expert", teams=[billing], email="bianca@example.com", name="Bianca Ruiz")
    priya = make_user("expert", teams=[billing], email="priya@example.com", name="Priya Shah")
    agent = make_user("agent", email="sam@example.com", name="Sam Carter")
    card = make_card(make_collection(billing), bianca, verified_at=utcnow() - timedelta(days=1),
                     title="How do refunds work?")
    with app.app_context():
        flags.flag_card(db.session.get(Card, card.id), db.session.get(User, agent.id), "outdated",
                        "The refund form changed.")
        db.session.commit()
    return dict(card=card, bianca=bianca, priya=priya, agent=agent)


# ------------------------------------------------------------------------------------------ 1. outbox

def test_without_mail_server_messages_go_to_the_outbox(app, flagged):
    app.config["EXTERNAL_URL"] = "https://kb.example.com/"
    assert app.config["MAIL_SERVER"] is None
    card_id = flagged["card"].id
    assert note_rows(app) == [("bianca@example.com", "flagged", card_id, False, 0),
                              ("priya@example.com", "flagged", card_id, False, 0)]
    assert outbox(app) == []

    assert deliver(app) == 2
    files = outbox(app)
    assert len(files) == 2
    assert all(Path(f).parent == Path(app.instance_path) / "outbox" for f in files)
    messages = sorted((read_eml(f) for f in files), key=lambda m: m["To"])
    assert [m["To"] for m in messages] == ["bianca@example.com", "priya@example.com"]
    for message, name in zip(messages, ("Bianca Ruiz", "Priya Shah"), strict=True):
        assert message["Subject"] == "Flagged as outdated: How do refunds work?"
        assert message["From"] == "kb@localhost"
        text = body(message)
        assert text.startswith(f"Hello {name},")
        assert "Sam Carter flagged “How do refunds work?” as outdated." in text
        assert "The refund form changed." in text
        assert f"https://kb.example.com/cards/{card_id}\n" in text
    assert note_rows(app) == [("bianca@example.com", "flagged", card_id, True, 1),
                              ("priya@example.com", "flagged", card_id, True, 1)]

    assert deliver(app) == 0
    assert outbox(app) == files
    assert note_rows(app) == [("bianca@example.com", "flagged", card_id, True, 1),
                              ("priya@example.com", "flagged", card_id, True, 1)]


# ------------------------------------------------------------------------- 2. SMTP and the weekly digest

def seed_demo(app, now=NOW):
    from kb import demo

    with app.app_context():
        demo.seed(now=now)
        db.session.commit()


def run_digest(runner, *options, now=NOW):
    result = runner.invoke(args=["digest", "--now", now.isoformat(), *options])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_weekly_digest_over_smtp(app, runner, smtp_sink):
    seed_demo(app)
    use_smtp(app, smtp_sink.port)

    output = run_digest(runner)
    assert output.startswith("4 digest(s) queued, ")
    digests = {m["To"]: m for m in smtp_sink.messages(DIGEST)}
    # One per active verifier whose teams have something to do; not the deactivated expert, not agents.
    assert sorted(digests) == ["admin@example.com", "bianca@example.com", "leo@example.com", "priya@example.com"]
    assert all(rcpts == [m["To"]] for rcpts, m in smtp_sink.received)
    subjects = {to: m["Subject"] for to, m in digests.items()}
    assert subjects["bianca@example.com"].startswith(f"{DIGEST}: 2 to verify,")
    assert subjects["bianca@example.com"].endswith(", 0 open flag(s)")
    assert subjects["leo@example.com"].startswith(f"{DIGEST}: 10 to verify,")     # Logistics + Support leads
    assert subjects["leo@example.com"].endswith(", 1 open flag(s)")
    assert subjects["priya@example.com"].startswith(f"{DIGEST}: 4 to verify,")    # Billing + Support leads
    assert subjects["admin@example.com"].startswith(f"{DIGEST}: 2 to verify,")

    bianca = body(digests["bianca@example.com"])
    assert "Needs verification (2):" in bianca
    assert "Can I get an invoice with VAT or my company details? — Verification lapsed on 2026-11-17." in bianca
    assert "The price dropped after I bought it. Can I get the difference? — Edited since verification" in bianca
    assert "I was charged twice for one order. Can you fix it? — due 2026-11-30" in bianca
    assert "Open flags" not in bianca
    assert "Do you ship outside the US?" not in bianca  # another team's card
    with app.app_context():
        vat_id = db.session.scalar(select(Card.id).filter_by(external_id="vat-invoice"))
        damaged_id = db.session.scalar(select(Card.id).filter_by(external_id="damaged-parcel"))
    assert f"http://127.0.0.1:5000/cards/{vat_id}" in bianca

    leo = body(digests["leo@example.com"])
    assert "Needs verification (10):" in leo
    assert "Do you ship outside the US? — Verification lapsed on 2026-11-17.; Orphaned:" in leo
    assert "Open flags from agents (1):" in leo
    assert ("My order arrived damaged or with the wrong item. What now? — outdated by Sam Carter: "
            "“Customers say the claim form now asks for the box label photo too") in leo
    assert f"http://127.0.0.1:5000/cards/{damaged_id}" in leo
    assert "I forgot to enter my promo code. Can you still apply it?" in leo  # via Support leads
    assert "Open flags" not in body(digests["priya@example.com"])

    # Later the same ISO week: nothing new, nothing sent.
    received = len(smtp_sink.received)
    assert run_digest(runner, now=NOW + timedelta(days=2)) == "0 digest(s) queued, 0 e-mail(s) sent"
    assert len(smtp_sink.received) == received
    # --force sends this week's digest again, once per verifier.
    assert run_digest(runner, "--force", now=NOW + timedelta(days=2)) == "4 digest(s) queued, 4 e-mail(s) sent"
    assert len(smtp_sink.messages(DIGEST)) == 8
    assert sorted(m["To"] for m in smtp_sink.messages(DIGEST)[4:]) == sorted(digests)
    # Next week's digest goes out without --force.
    assert run_digest(runner, now=NOW + timedelta(days=7)).startswith("4 digest(s) queued")


def test_deactivated_users_get_no_email(app, runner, smtp_sink):
    seed_demo(app)
    use_smtp(app, smtp_sink.port)
    run_digest(runner)
    assert smtp_sink.received
    assert "former@example.com" not in {m["To"] for _, m in smtp_sink.received}


# ------------------------------------------------------------------------------------- 3. SMTP failure

def test_smtp_failure_is_counted_and_retried(app, flagged, smtp_sink, caplog):
    card_id = flagged["card"].id
    use_smtp(app, free_port())  # nothing listens there
    assert deliver(app) == 0
    assert "will retry" in caplog.text
    assert note_rows(app) == [("bianca@example.com", "flagged", card_id, False, 1),
                              ("priya@example.com", "flagged", card_id, False, 1)]
    assert deliver(app) == 0
    assert [row[3:] for row in note_rows(app)] == [(False, 2), (False, 2)]
    assert outbox(app) == []  # a failing server is not silently replaced by the outbox

    use_smtp(app, smtp_sink.port)
    assert deliver(app) == 2
    assert sorted(m["To"] for m in smtp_sink.messages()) == ["bianca@example.com", "priya@example.com"]
    assert all(m["Subject"] == "Flagged as outdated: How do refunds work?" for m in smtp_sink.messages())
    assert f"http://127.0.0.1:5000/cards/{card_id}" in body(smtp_sink.messages()[0])
    assert [row[3:] for row in note_rows(app)] == [(True, 3), (True, 3)]
    assert deliver(app) == 0
    assert len(smtp_sink.received) == 2


def test_delivery_gives_up_after_max_attempts(app, flagged, smtp_sink):
    use_smtp(app, free_port())
    for _ in range(notify.MAX_ATTEMPTS):
        assert deliver(app) == 0
    assert [row[3:] for row in note_rows(app)] == [(False, notify.MAX_ATTEMPTS)] * 2
    use_smtp(app, smtp_sink.port)
    assert deliver(app) == 0
    assert smtp_sink.received == []


# ------------------------------------------------------------------------------- 4. event notifications

@pytest.fixture
def team_card(app, make_team, make_user, make_collection, make_card):
    billing, logistics = make_team("Billing experts"), make_team("Logistics experts")
    bianca = make_user("expert", teams=[billing], email="bianca@example.com", name="Bianca Ruiz")
    priya = make_user("expert", teams=[billing], email="priya@example.com", name="Priya Shah")
    leo = make_user("expert", teams=[logistics], email="leo@example.com")
    admin = make_user("admin", email="admin@example.com", name="Alex Morgan")
    agent = make_user("agent", teams=[billing], email="agent@example.com")
    coll = make_collection(billing)
    card = make_card(coll, bianca, verified_at=utcnow() - timedelta(days=1), title="How do refunds work?",
                     answer="Refunds take 5 days.")
    draft = make_card(coll, bianca, title="Can I pay by invoice?")
    return dict(bianca=bianca, priya=priya, leo=leo, admin=admin, agent=agent, card=card, draft=draft)


def edit(app, card, author, **changes):
    with app.app_context():
        if "owner" in changes:
            changes["owner"] = db.session.get(User, changes["owner"].id)
        revision = operations.edit_card(db.session.get(Card, card.id), author=db.session.get(User, author.id),
                                        **changes)
        db.session.commit()
        return None if revision is None else revision.number


def test_an_edit_by_someone_else_notifies_the_verifiers(app, team_card):
    card_id = team_card["card"].id
    assert edit(app, team_card["card"], team_card["priya"], answer="Refunds take 3 days.",
                summary="Faster refunds") == 2
    assert note_rows(app, kind="edited") == [("bianca@example.com", "edited", card_id, False, 0)]
    with app.app_context():
        note = db.session.scalar(select(Notification).filter_by(kind="edited"))
        assert note.subject == "Edited: How do refunds work?"
        assert note.body == ("Priya Shah saved revision 2 of “How do refunds work?”: Faster refunds. "
                             "It needs verification again.")

    # Saving the same content again, or metadata only, is not an edit worth telling anyone about.
    assert edit(app, team_card["card"], team_card["priya"], answer="Refunds take 3 days.") is None
    assert edit(app, team_card["card"], team_card["priya"], interval_days=30) is None
    # A draft has no verification to lose.
    assert edit(app, team_card["draft"], team_card["priya"], answer="Yes, for orders over $500.") == 2
    assert len(note_rows(app, kind="edited")) == 1

    # The admin (no team member) edits: both verifiers hear of it, the agent member and others do not.
    assert edit(app, team_card["card"], team_card["admin"], answer="Refunds take 4 days.") == 3
    assert sorted(r[0] for r in note_rows(app, kind="edited")) == [
        "bianca@example.com", "bianca@example.com", "priya@example.com"]
    assert deliver(app) == 3
    assert sorted(read_eml(f)["To"] for f in outbox(app)) == [
        "bianca@example.com", "bianca@example.com", "priya@example.com"]


def test_reassigning_the_owner_notifies_the_new_owner_once(app, team_card):
    card = team_card["card"]
    assert edit(app, card, team_card["admin"], owner=team_card["priya"]) is None  # metadata only: no revision
    rows = note_rows(app, kind="reassigned")
    assert rows == [("priya@example.com", "reassigned", card.id, False, 0)]
    with app.app_context():
        note = db.session.scalar(select(Notification).filter_by(kind="reassigned"))
        assert note.subject == "You now own “How do refunds work?”"
        assert "Alex Morgan made you the owner" in note.body and "previously Bianca Ruiz" in note.body
        assert db.session.get(Card, card.id).owner_id == team_card["priya"].id

    # Saving again with the same owner: no repeat.
    assert edit(app, card, team_card["admin"], owner=team_card["priya"]) is None
    # Taking a card (back) over yourself needs no notification.
    assert edit(app, card, team_card["bianca"], owner=team_card["bianca"]) is None
    assert note_rows(app, kind="reassigned") == rows
    assert note_rows(app, kind="edited") == []


class RefusingSink(Sink):
    """Refuses one address, as a real server does for an unknown mailbox."""

    refused = "bianca@example.com"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address == self.refused:
            return "550 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_one_refused_address_neither_blocks_nor_duplicates_the_others(app, flagged):
    from aiosmtpd.controller import Controller

    sink = RefusingSink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        use_smtp(app, controller.port)
        assert deliver(app) == 1  # priya's goes out, bianca's is refused
        assert deliver(app) == 0  # priya's is not sent again; bianca's is retried and refused again
        assert [m["To"] for m in sink.messages()] == ["priya@example.com"]
        rows = {row[0]: row[3:] for row in note_rows(app)}
        assert rows == {"bianca@example.com": (False, 2), "priya@example.com": (True, 1)}
    finally:
        controller.stop()


# ------------------------------------------------------------------------------------------- 5. links

EXTERNAL = "http://127.0.0.1:8080"


def test_email_links_come_from_external_url_in_both_parts_never_the_request_host(app, client, auth, flagged):
    app.config["EXTERNAL_URL"] = EXTERNAL + "/"
    card_id = flagged["card"].id
    auth.login("sam@example.com")  # a flag sent from a page mails at once, while a request is at hand
    response = auth.post(f"/cards/{card_id}/flags", {"kind": "unclear", "comment": "Which form?"})
    assert response.status_code == 302
    messages = [read_eml(f) for f in outbox(app)]
    assert len(messages) == 4 and note_rows(app, emailed_at=None) == []
    for message in messages:
        assert message.get_content_type() == "multipart/alternative"
        assert f"Open card: {EXTERNAL}/cards/{card_id}\n" in body(message)
        assert f'<a href="{EXTERNAL}/cards/{card_id}">Open card</a>' in html(message)
        for part in (body(message), html(message)):
            assert "localhost" not in part and ":5000" not in part
    unclear = next(m for m in messages if m["Subject"] == "Flagged as unclear: How do refunds work?")
    assert "Sam Carter flagged “How do refunds work?” as unclear." in html(unclear)


@pytest.fixture
def requested(app, make_team, make_user):
    """Agents found nothing for "loyalty points expire": a card is requested from the Care team."""
    care = make_team("Care")
    make_user("expert", teams=[care], email="erin@example.com", name="Erin Cole")
    lead = make_user("admin", email="lead@example.com")
    with app.app_context():
        request = gaps.request_card("loyalti point expir", db.session.get(Team, care.id),
                                    db.session.get(User, lead.id))
        db.session.commit()
        return request.id


def test_a_card_request_offers_write_the_card_in_the_app_and_by_mail(app, client, auth, requested):
    app.config["EXTERNAL_URL"] = EXTERNAL
    path = f"/cards/new?request={requested}"
    with app.app_context():
        note = db.session.scalar(select(Notification).filter_by(kind="card_request"))
        assert (note.user.email, note.url, note.card_id) == ("erin@example.com", path, None)

    assert deliver(app) == 1
    [message] = [read_eml(f) for f in outbox(app)]
    assert f"Write the card: {EXTERNAL}{path}\n" in body(message)
    assert f'<a href="{EXTERNAL}{path}">Write the card</a>' in html(message)

    auth.login("erin@example.com")
    page = client.get("/notifications").get_data(as_text=True)
    assert f'<a href="{path}">Card requested: agents searched “loyalti point expir” and found no answer</a>' in page
    assert f'name="next" value="{path}"' in page and ">Write the card</button>" in page
    opened = auth.post("/notifications/read", {"id": note.id, "next": path})
    assert opened.status_code == 302 and opened.headers["Location"] == path
    with app.app_context():
        assert db.session.get(Notification, note.id).read_at is not None


@pytest.fixture
def flag_as(app, make_team, make_user, make_collection, make_card):
    """Bianca's verified card `title`, flagged by the agent `agent_name` with `comment`; returns the card."""
    def make(title, comment, agent_name="Sam Carter", kind="outdated"):
        billing = make_team("Billing experts")
        bianca = make_user("expert", teams=[billing], email="bianca@example.com")
        agent = make_user("agent", email="sam@example.com", name=agent_name)
        card = make_card(make_collection(billing), bianca, verified_at=utcnow() - timedelta(days=1), title=title)
        with app.app_context():
            flags.flag_card(db.session.get(Card, card.id), db.session.get(User, agent.id), kind, comment)
            db.session.commit()
        return card

    return make


def test_the_notifications_page_links_the_card_and_the_urls_in_bodies(client, auth, flag_as):
    card = flag_as("How do refunds work?", "The form moved to https://help.example.com/refunds?step=2&lang=en today.")

    auth.login("bianca@example.com")
    page = client.get("/notifications").get_data(as_text=True)
    assert f'<a href="/cards/{card.id}">Flagged as outdated: How do refunds work?</a>' in page
    assert ('The form moved to <a href="https://help.example.com/refunds?step=2&amp;lang=en" rel="noopener">'
            'https://help.example.com/refunds?step=2&amp;lang=en</a> today.') in page
    assert f'name="next" value="/cards/{card.id}"' in page and ">Open card</button>" in page


def test_html_in_a_card_title_or_a_body_is_escaped_in_the_app_and_in_mail(app, client, auth, flag_as):
    flag_as('<img src=x onerror="alert(1)"> Refunds & returns',
            '<script>alert(2)</script> <a href="javascript:alert(3)">see</a> http://evil.example/"x',
            agent_name="Sam <b>Carter</b>", kind="incorrect")
    deliver(app)
    [message] = [read_eml(f) for f in outbox(app)]
    auth.login("bianca@example.com")
    page = client.get("/notifications").get_data(as_text=True)
    listed = page[page.index('<ul class="cards">'):page.index("</ul>", page.index('<ul class="cards">'))]

    for text in (listed, html(message)):
        assert "<img" not in text and "<script" not in text and "<b>" not in text and "javascript:alert(3)\"" \
            not in text
        assert "&lt;img src=x onerror=" in text and "&lt;script&gt;alert(2)&lt;/script&gt;" in text
        assert "Refunds &amp; returns" in text and "Sam &lt;b&gt;Carter&lt;/b&gt;" in text
        assert 'href="http://evil.example/&#34;x' in text  # a URL's quote cannot end its attribute
    assert '<img src=x onerror="alert(1)"> Refunds & returns' in body(message)  # plain text stays as typed


def test_make_run_points_links_at_the_address_it_serves(monkeypatch):
    root = Path(__file__).resolve().parent.parent

    def run_line(*args):
        dry = subprocess.run(["make", "-n", "run", *args], cwd=root, capture_output=True, text=True, timeout=60)
        assert dry.returncode == 0, dry.stderr
        return next(line for line in dry.stdout.splitlines() if "kb run" in line)

    assert run_line("PORT=8080") == ("KB_EXTERNAL_URL='http://127.0.0.1:8080' .venv/bin/kb run --host 127.0.0.1 "
                                     "--port 8080")
    monkeypatch.setenv("KB_EXTERNAL_URL", "https://kb.example.com")
    assert run_line("PORT=8080").startswith("KB_EXTERNAL_URL='https://kb.example.com' ")

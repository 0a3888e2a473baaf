"""Several app hosts against one PostgreSQL database, each with its own Whoosh index following the change
feed: two real `kb run` processes on 127.0.0.1 with separate instance and index folders. An edit saved
through one host's edit page is found by the other host's search, and one sign-in serves both hosts."""
import os
import re
import socket
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from kb.extensions import db

pytestmark = pytest.mark.postgres
KB = str(Path(sys.executable).with_name("kb"))
PASSWORD = "two-hosts-password-1"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Form(HTMLParser):
    """The fields of the forms with this class, with the values a browser would send."""

    def __init__(self, action):
        super().__init__()
        self.action, self.inside, self.fields, self.select, self.textarea = action, False, {}, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = self.inside or self.action in (a.get("class") or "").split()
        elif not self.inside:
            return
        elif tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio"):
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "y")
            elif a.get("type") != "file":
                self.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self.select = a.get("name")
        elif tag == "option" and self.select and ("selected" in a or self.select not in self.fields):
            self.fields[self.select] = a.get("value", "")
        elif tag == "textarea":
            self.textarea = a.get("name")
            self.fields[self.textarea] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.inside and self.textarea:
            self.fields[self.textarea] += data


def form_fields(page, css_class):
    parser = _Form(css_class)
    parser.feed(page)
    return parser.fields


@pytest.fixture
def hosts(pg_app, tmp_path):
    """A card, an expert who may edit it, and two hosts serving the same database."""
    from kb.accounts import operations as accounts
    from kb.cards import operations as cards

    with pg_app.app_context():
        team = accounts.create_team(name="Billing experts")
        expert = accounts.create_user(email="bianca@example.com", name="Bianca", role="expert", password=PASSWORD,
                                      teams=[team])
        collection = cards.create_collection(name="Payments", team=team)
        card = cards.create_card(collection=collection, owner=expert, verifier_team=team, author=expert,
                                 title="How long do refunds take?", answer="Refunds take five days.")
        cards.verify_card(card, expert)
        db.session.commit()
        card_id = card.id
    url = pg_app.config["SQLALCHEMY_DATABASE_URI"]
    base = {name: value for name, value in os.environ.items() if not name.startswith("KB_")}
    started = []
    for name in ("host-a", "host-b"):
        port, folder = free_port(), tmp_path / name
        env = {**base, "KB_INSTANCE_PATH": str(folder), "KB_INDEX_DIR": str(folder / "index"),
               "KB_DATABASE_URL": url, "KB_SECRET_KEY": "shared-secret", "KB_SESSION_COOKIE_SECURE": "false",
               "KB_JOBS_ENABLED": "false"}
        with open(tmp_path / f"{name}.log", "w") as log:  # the child keeps its own descriptor
            process = subprocess.Popen([KB, "run", "--no-jobs", "--host", "127.0.0.1", "--port", str(port)],
                                       env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((process, f"http://127.0.0.1:{port}", tmp_path / f"{name}.log"))
    try:
        for process, origin, log in started:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if requests.get(origin + "/login", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield card_id, [origin for _, origin, _ in started]
    finally:
        for process, _, _ in started:
            process.terminate()
            process.wait(20)


def sign_in(session, origin):
    page = session.get(origin + "/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page) or re.search(
        r'name="csrf-token" content="([^"]+)"', page)
    response = session.post(origin + "/login", data={"email": "bianca@example.com", "password": PASSWORD,
                                                      "csrf_token": token.group(1)})
    assert response.status_code == 200 and "Sign out" in response.text, response.text[:500]


def hits(session, origin, words):
    return session.get(origin + "/search", params={"q": words}).text


def test_an_edit_through_one_host_is_found_through_the_other(hosts):
    card_id, (a, b) = hosts
    agent = requests.Session()
    sign_in(agent, a)
    assert "How long do refunds take?" in hits(agent, b, "refunds five days")  # one sign-in, both hosts

    edit = agent.get(f"{a}/cards/{card_id}/edit").text
    fields = form_fields(edit, "editor")
    fields.update(answer="Refunds take five days; the zebrafish rule applies.", summary="Two hosts",
                  verify_after="y")
    saved = agent.post(f"{a}/cards/{card_id}/edit", data=fields)
    assert saved.status_code == 200 and f"/cards/{card_id}" in saved.url, saved.text[:800]
    at = time.monotonic()
    while "How long do refunds take?" not in hits(agent, b, "zebrafish"):
        assert time.monotonic() - at < 30, "host B never found the edit made through host A"
        time.sleep(0.05)
    print(f"\nedit through host A searchable through host B after {time.monotonic() - at:.2f} s")
    assert "How long do refunds take?" in hits(agent, a, "zebrafish")

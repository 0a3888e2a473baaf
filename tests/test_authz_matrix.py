"""The authorisation matrix, generated from the URL map: every route × every kind of caller.

For each rule of `app.url_map` the test fills its path parameters with the ids of a real world (a card in a
collection owned and verified by team A, a path, a push, a question, a verification, a token, a cohort import,
a set-password link...) and calls it as each caller below: GET for GET routes, a POST with a valid CSRF token
and no other data for POST routes. The observed outcome must be the one written in TABLE, and a refused call
(login redirect, 401, 403, 404, 400, 410) must leave the row count of every table as it was.

A route that is not in TABLE fails the test: a new route needs its rule written down here.

Outcome codes: ok = 2xx, or a redirect to anything but the sign-in page; L = redirect to the sign-in page;
401/403/404/400/410 = that status. Columns are the callers in CALLERS order.
"""
import re
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from kb.dates import utcnow
from kb.extensions import db

CALLERS = ("anonymous", "agent", "owner", "other", "lead", "admin", "expired",
           "public:read", "internal:read", "flags:write")
TOKEN_CALLERS = ("public:read", "internal:read", "flags:write")

# anonymous agent owner other lead admin expired public internal flags
# (owner = expert of the card's owning and verifying team A; other = expert of team B; lead = lead of the
#  cohort team that owns the path, push and import; expired = a seasonal agent whose account ended after
#  signing in; the three token callers send only `Authorization: Bearer`, no session.)
TABLE = {
    #                                     anon agt own oth lead adm exp pub int flags
    "admin.audit_log GET":               "L   403 403 403 403 ok  L   L   L   L",
    "admin.collections GET":             "L   403 403 403 403 ok  L   L   L   L",
    "admin.create_team POST":            "L   403 403 403 403 400 L   L   L   L",
    "admin.edit_collection GET":         "L   403 403 403 403 ok  L   L   L   L",
    "admin.edit_collection POST":        "L   403 403 403 403 400 L   L   L   L",
    "admin.edit_user GET":               "L   403 403 403 403 ok  L   L   L   L",
    "admin.edit_user POST":              "L   403 403 403 403 400 L   L   L   L",
    "admin.index GET":                   "L   403 403 403 403 ok  L   L   L   L",
    "admin.new_user GET":                "L   403 403 403 403 ok  L   L   L   L",
    "admin.new_user POST":               "L   403 403 403 403 400 L   L   L   L",
    "admin.remove_member POST":          "L   403 403 403 403 ok  L   L   L   L",
    "admin.team GET":                    "L   403 403 403 403 ok  L   L   L   L",
    "admin.team POST":                   "L   403 403 403 403 400 L   L   L   L",
    "admin.teams GET":                   "L   403 403 403 403 ok  L   L   L   L",
    "admin.users GET":                   "L   403 403 403 403 ok  L   L   L   L",
    "api.answer GET":                    "401 400 400 400 400 400 401 400 400 403",
    "api.card GET":                      "401 ok  ok  ok  ok  ok  401 ok  ok  403",
    "api.cards GET":                     "401 ok  ok  ok  ok  ok  401 ok  ok  403",
    "api.collections GET":               "401 ok  ok  ok  ok  ok  401 ok  ok  403",
    "api.flag POST":                     "401 400 400 400 400 400 401 403 403 400",
    "api.health GET":                    "ok  ok  ok  ok  ok  ok  ok  ok  ok  ok",
    "api.openapi_document GET":          "ok  ok  ok  ok  ok  ok  ok  ok  ok  ok",
    "api.search GET":                    "401 ok  ok  ok  ok  ok  401 ok  ok  403",
    "auth.login GET":                    "ok  ok  ok  ok  ok  ok  ok  ok  ok  ok",
    "auth.login POST":                   "400 400 400 400 400 400 400 400 400 400",
    "auth.logout POST":                  "L   L   L   L   L   L   L   L   L   L",
    "cards.archive POST":                "L   403 ok  403 403 ok  L   L   L   L",
    "cards.by_key GET":                  "L   ok  ok  ok  ok  ok  L   L   L   L",
    "cards.collection GET":              "L   ok  ok  ok  ok  ok  L   L   L   L",
    "cards.detail GET":                  "L   ok  ok  ok  ok  ok  L   L   L   L",
    "cards.diff GET":                    "L   ok  ok  ok  ok  ok  L   L   L   L",
    "cards.edit GET":                    "L   403 ok  403 403 ok  L   L   L   L",
    "cards.edit POST":                   "L   403 400 403 403 400 L   L   L   L",
    "cards.history GET":                 "L   ok  ok  ok  ok  ok  L   L   L   L",
    "cards.home GET":                    "L   ok  ok  ok  ok  ok  L   L   L   L",
    "cards.new GET":                     "L   403 ok  ok  403 ok  L   L   L   L",
    "cards.new POST":                    "L   403 400 400 403 400 L   L   L   L",
    "cards.preview POST":                "L   ok  ok  ok  ok  ok  L   L   L   L",
    "cards.restore POST":                "L   403 ok  403 403 ok  L   L   L   L",
    "cards.revision GET":                "L   ok  ok  ok  ok  ok  L   L   L   L",
    "cards.verify POST":                 "L   403 400 403 403 400 L   L   L   L",
    "cohorts.download_links POST":       "L   403 403 403 ok  403 L   L   L   L",
    "cohorts.new_import GET":            "L   403 403 403 ok  ok  L   L   L   L",
    "cohorts.new_import POST":           "L   403 403 403 400 400 L   L   L   L",
    "cohorts.set_password GET":          "ok  ok  ok  ok  ok  ok  ok  ok  ok  ok",
    "cohorts.set_password POST":         "400 400 400 400 400 400 400 400 400 400",
    "cohorts.show_import GET":           "L   403 403 403 ok  ok  L   L   L   L",
    "faq.card GET":                      "ok  ok  ok  ok  ok  ok  ok  ok  ok  ok",
    "faq.collection GET":                "ok  ok  ok  ok  ok  ok  ok  ok  ok  ok",
    "faq.index GET":                     "ok  ok  ok  ok  ok  ok  ok  ok  ok  ok",
    "faq.theme GET":                     "ok  ok  ok  ok  ok  ok  ok  ok  ok  ok",
    "onboarding.acknowledge POST":       "L   ok  ok  ok  ok  ok  L   L   L   L",
    "onboarding.add_item POST":          "L   403 403 403 404 404 L   L   L   L",
    "onboarding.add_section POST":       "L   403 403 403 ok  ok  L   L   L   L",
    "onboarding.answer POST":            "L   ok  ok  ok  ok  ok  L   L   L   L",
    "onboarding.assign POST":            "L   403 403 403 ok  ok  L   L   L   L",
    "onboarding.card_questions GET":     "L   403 ok  403 ok  ok  L   L   L   L",
    "onboarding.card_questions POST":    "L   403 ok  403 ok  ok  L   L   L   L",
    "onboarding.change_item POST":       "L   403 403 403 400 400 L   L   L   L",
    "onboarding.change_section POST":    "L   403 403 403 400 400 L   L   L   L",
    "onboarding.classify POST":          "L   403 ok  403 ok  ok  L   L   L   L",
    "onboarding.create_path POST":       "L   403 403 403 404 404 L   L   L   L",
    "onboarding.edit_path GET":          "L   403 403 403 ok  ok  L   L   L   L",
    "onboarding.layout POST":            "L   403 403 403 400 400 L   L   L   L",
    "onboarding.mark_read POST":         "L   ok  ok  ok  ok  ok  L   L   L   L",
    "onboarding.mine GET":               "L   ok  ok  ok  ok  ok  L   L   L   L",
    "onboarding.new_push GET":           "L   403 403 403 ok  ok  L   L   L   L",
    "onboarding.new_push POST":          "L   403 403 403 ok  ok  L   L   L   L",
    "onboarding.path_list GET":          "L   403 403 403 ok  ok  L   L   L   L",
    "onboarding.path_report GET":        "L   403 403 403 ok  ok  L   L   L   L",
    "onboarding.path_report_csv GET":    "L   403 403 403 ok  ok  L   L   L   L",
    "onboarding.pushed GET":             "L   404 404 404 ok  ok  L   L   L   L",
    "onboarding.read GET":               "L   ok  ok  ok  ok  ok  L   L   L   L",
    "onboarding.unassign POST":          "L   403 403 403 ok  ok  L   L   L   L",
    "onboarding.update_path POST":       "L   403 403 403 ok  ok  L   L   L   L",
    "search.answer GET":                 "401 ok  ok  ok  ok  ok  401 401 401 401",
    "search.copied POST":                "L   ok  ok  ok  ok  ok  L   L   L   L",
    "search.gap_report GET":             "L   403 ok  ok  403 ok  L   L   L   L",
    "search.page GET":                   "L   ok  ok  ok  ok  ok  L   L   L   L",
    "search.request_card POST":          "L   403 ok  ok  403 ok  L   L   L   L",
    "search.similar GET":                "L   ok  ok  ok  ok  ok  L   L   L   L",
    "search.synonym_edit POST":          "L   403 403 403 403 ok  L   L   L   L",
    "search.search_status GET":          "L   403 403 403 403 ok  L   L   L   L",
    "search.synonym_sets GET":           "L   403 403 403 403 ok  L   L   L   L",
    "search.synonym_sets POST":          "L   403 403 403 403 400 L   L   L   L",
    "static GET":                        "ok  ok  ok  ok  ok  ok  ok  ok  ok  ok",
    "tokens.index GET":                  "L   403 403 403 403 ok  L   L   L   L",
    "tokens.index POST":                 "L   403 403 403 403 400 L   L   L   L",
    "tokens.revoke POST":                "L   403 403 403 403 ok  L   L   L   L",
    "verification.dismiss POST":         "L   403 ok  403 403 ok  L   L   L   L",
    "verification.flag POST":            "L   ok  ok  ok  ok  ok  L   L   L   L",
    "verification.mark_read POST":       "L   ok  ok  ok  ok  ok  L   L   L   L",
    "verification.notifications GET":    "L   ok  ok  ok  ok  ok  L   L   L   L",
    "verification.queue GET":            "L   403 ok  ok  403 ok  L   L   L   L",
    "verification.queue POST":           "L   403 400 400 403 400 L   L   L   L",
    "verification.trust_dashboard GET":  "L   403 ok  ok  403 ok  L   L   L   L",
}

# Public endpoints: reachable without signing in (their table rows say "ok" for anonymous).
PUBLIC = {"auth.login", "cohorts.set_password", "faq.index", "faq.collection", "faq.card", "faq.theme", "static",
          "api.health", "api.openapi_document"}

REFUSED = {"L", "401", "403", "404", "400", "410"}


@pytest.fixture
def app(make_app):
    """The suite's app, without rate limits: the matrix signs in and calls far more often than a person."""
    return make_app(RATELIMIT_ENABLED=False)


@pytest.fixture
def matrix(app, world, make_team, make_user, make_card):
    """`world` plus one of everything a route can name, and a signed-in client per caller."""
    from kb.accounts import cohort
    from kb.channels import tokens
    from kb.models import Card, Collection, Team, User, Verification
    from kb.onboarding import paths, pushes, questions
    from kb.search import synonyms
    from kb.verification import flags

    cohort_team = make_team("Seasonal cohort")
    lead = make_user("agent", teams=[cohort_team], email="lead@example.com", lead_of=[cohort_team])
    make_user("agent", teams=[cohort_team], email="hire@example.com")
    expired = make_user("agent", teams=[world["billing"]], email="seasonal@example.com",
                        expires_on=date.today() + timedelta(days=30))
    card = make_card(world["billing_coll"], world["expert"], title="Can I pay by invoice?",
                     answer="Yes, for companies.", verified_at=utcnow() - timedelta(days=1))
    with app.app_context():
        admin = db.session.get(User, world["admin"].id)
        lead_row = db.session.get(User, lead.id)
        team = db.session.get(Team, cohort_team.id)
        card_row = db.session.get(Card, card.id)
        path = paths.create_path(name="First week", team=team, actor=lead_row, sections=["Day 1"])
        section = path.sections[0]
        item = paths.add_card(path, section, card_row, lead_row)
        db.session.flush()
        assignment = paths.assign(path, actor=lead_row, team=team, due_days=5)
        question = questions.add(card_row, prompt="Invoice?", choices=["Yes", "No"], correct=0, actor=admin)
        push = pushes.push(card_row, [team], due_hours=24, actor=lead_row, message="Read this")
        flag = flags.flag_card(db.session.get(Card, world["billing_card"].id),
                               db.session.get(User, world["agent"].id), "unclear", "Which days?")
        synonym = synonyms.add_set("refund, money back", admin)
        rows = cohort.parse(b"email,name\nnew.hire@example.com,New Hire\n")
        result = cohort.apply(rows, team, None, "agent", lead_row)
        db.session.commit()
        cohort.hand_out(result)
        victim, _ = tokens.create("To revoke", [tokens.PUBLIC_READ], admin)
        secrets = {scope: tokens.create(f"Caller {scope}", [scope], admin)[1] for scope in TOKEN_CALLERS}
        db.session.commit()
        verification = db.session.scalar(select(Verification).filter_by(card_id=card.id))
        coll = db.session.get(Collection, world["billing_coll"].id)
        ids = dict(
            card_id=card.id, number=1, key=card_row.link_key, slug=coll.slug, collection_id=coll.id,
            team_id=world["billing"].id, user_id=world["expert"].id, set_id=synonym.id,
            token_id=victim.id, flag_id=flag.id, path_id=path.id, item_id=item.id, section_id=section.id,
            assignment_id=assignment.id, question_id=question.id, push_id=push.id,
            verification_id=verification.id, import_id=result.user_import.id,
            secret=result.links[0].secret, filename="kb.css", faq_slug="can-i-pay-by-invoice")
    people = dict(agent=world["agent"], owner=world["expert"], other=world["other_expert"], lead=lead,
                  admin=world["admin"], expired=expired)
    return dict(world, ids=ids, people=people, secrets=secrets, expired=expired, lead=lead)


def _fingerprint(app):
    with app.app_context():
        counts = {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}
        db.session.remove()
        return counts


def _url(rule, ids):
    def fill(match):
        name = match.group(2)
        return str(ids["faq_slug"] if (rule.endpoint, name) == ("faq.card", "slug") else ids[name])

    return re.sub(r"<(?:([a-z]+):)?([a-z_]+)>", fill, rule.rule)


def _outcome(response):
    status = response.status_code
    if 300 <= status < 400:
        return "L" if urlsplit(response.headers.get("Location", "")).path == "/login" else "ok"
    return "ok" if 200 <= status < 300 else str(status)


def _calls(app):
    """(endpoint, method, rule) for every rule: GETs first, then POSTs, signing out last."""
    calls = []
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods & {"GET", "POST", "PUT", "PATCH", "DELETE"}):
            calls.append((rule.endpoint, method, rule))
    return sorted(calls, key=lambda c: (c[0] == "auth.logout", c[1] != "GET", c[0], c[2].rule))


def _sign_in(app, auth, matrix, caller):
    if caller in matrix["people"]:
        response = auth.login(matrix["people"][caller].email)
        assert _outcome(response) == "ok", f"{caller} could not sign in"
    if caller == "expired":  # the season ends while the session is open
        from kb.models import User

        with app.app_context():
            db.session.get(User, matrix["expired"].id).expires_on = date.today() - timedelta(days=1)
            db.session.commit()
            db.session.remove()


def observe(app, client, auth, matrix, caller):
    """{(endpoint, method): outcome} for one caller, checking that refused calls change nothing."""
    _sign_in(app, auth, matrix, caller)
    headers = {"Authorization": f"Bearer {matrix['secrets'][caller]}"} if caller in TOKEN_CALLERS else {}
    seen, changed = {}, []
    for endpoint, method, rule in _calls(app):
        url = _url(rule, matrix["ids"])
        data = {"csrf_token": auth.csrf_token()} if method != "GET" else None
        before = _fingerprint(app)
        response = client.open(url, method=method, data=data, headers=headers)
        outcome = _outcome(response)
        if outcome in REFUSED:
            after = _fingerprint(app)
            if after != before:
                changed.append((endpoint, method, outcome,
                                {k: (before[k], after[k]) for k in before if before[k] != after[k]}))
        previous = seen.setdefault((endpoint, method), outcome)
        assert previous == outcome, f"{endpoint} {method}: its rules disagree ({previous} vs {outcome})"
    return seen, changed


def test_every_route_is_in_the_table(app):
    missing = sorted({f"{e} {m}" for e, m, _ in _calls(app)} - set(TABLE))
    assert not missing, "add these endpoints to the authorisation table with their rule: " + ", ".join(missing)
    stale = sorted(set(TABLE) - {f"{e} {m}" for e, m, _ in _calls(app)})
    assert not stale, "these table rows name no route any more: " + ", ".join(stale)


def test_public_endpoints_are_open_to_anonymous():
    for key, row in TABLE.items():
        endpoint = key.split()[0]
        assert (row.split()[0] in ("ok", "400", "410")) is (endpoint in PUBLIC) or key == "auth.logout POST", key


@pytest.mark.parametrize("caller", CALLERS)
def test_matrix(app, client, auth, matrix, caller):
    seen, changed = observe(app, client, auth, matrix, caller)
    column = CALLERS.index(caller)
    wrong = [f"{e} {m}: expected {TABLE[f'{e} {m}'].split()[column]}, got {o}"
             for (e, m), o in sorted(seen.items()) if f"{e} {m}" in TABLE and TABLE[f"{e} {m}"].split()[column] != o]
    assert not wrong, f"as {caller}:\n" + "\n".join(wrong)
    assert not changed, f"refused calls changed the database as {caller}: {changed}"

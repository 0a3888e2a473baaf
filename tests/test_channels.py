"""One verified answer for every channel: the serving rule, API tokens and the /api/v1 endpoints."""
import json
from datetime import timedelta

import pytest

from kb.cards import operations
from kb.channels import serving, tokens
from kb.dates import utcnow
from kb.extensions import db
from kb.models import ApiToken, Card, User
from kb.verification import flags


@pytest.fixture
def kb(app, make_team, make_user, make_collection, make_card):
    team = make_team("Billing experts")
    expert = make_user("expert", teams=[team], email="expert@example.com", name="Bianca Expert")
    agent = make_user("agent", email="agent@example.com")
    admin = make_user("admin", email="admin@example.com")
    public = make_collection(team, name="Payments", public=True)
    internal = make_collection(team, name="Fraud handling")
    now = utcnow()
    cards = {
        "refund": make_card(public, expert, title="When will I get my refund?", interval_days=90,
                            answer="Refunds reach your card within **5 business days**.",
                            internal_notes="Escalate after 10 days.", verified_at=now - timedelta(days=1)),
        "draft": make_card(public, expert, title="Can I pay with crypto?", answer="Not yet."),
        "fraud": make_card(internal, expert, title="Refund fraud checks", answer="Check the refund history.",
                           verified_at=now - timedelta(days=1)),
        "gift": make_card(public, expert, title="Gift card refunds", answer="Gift card refunds go back to the card.",
                          verified_at=now - timedelta(days=1)),
    }
    with app.app_context():
        token, public_secret = tokens.create("chatbot", [tokens.PUBLIC_READ])
        _, internal_secret = tokens.create("agent tool", [tokens.INTERNAL_READ, tokens.FLAGS_WRITE],
                                           db.session.get(User, admin.id))
        db.session.commit()
    return dict(team=team, expert=expert, agent=agent, admin=admin, public=public, internal=internal,
                public_token=f"Bearer {public_secret}", internal_token=f"Bearer {internal_secret}", **cards)


def get(client, url, token=None):
    return client.get(url, headers={"Authorization": token} if token else {})


def served(app, card, channel, now=None):
    with app.app_context():
        result = serving.serve(db.session.get(Card, card.id), channel, now)
        return result.revision.answer if result.ok else None


def pending(app, card):
    """The wording agents read beside the served one: an unverified edit, or a draft."""
    with app.app_context():
        result = serving.serve(db.session.get(Card, card.id), serving.AGENTS)
        return result.pending.answer if result.pending is not None else None


# -- The rule, one test per row of the table ---------------------------------------------------------

def test_drafts_and_internal_cards_reach_agents_only(app, kb):
    # A draft has no served wording, not even for agents: they read it as a draft (pending).
    assert served(app, kb["draft"], serving.AGENTS) is None and pending(app, kb["draft"]) == "Not yet."
    assert served(app, kb["draft"], serving.CHATBOT) is None and served(app, kb["draft"], serving.FAQ) is None
    assert served(app, kb["fraud"], serving.AGENTS) == "Check the refund history."
    assert served(app, kb["fraud"], serving.CHATBOT) is None and served(app, kb["fraud"], serving.FAQ) is None
    assert served(app, kb["refund"], serving.CHATBOT).startswith("Refunds reach your card")


def test_an_unverified_edit_is_read_by_agents_but_told_to_nobody_until_verified(app, kb):
    with app.app_context():
        card = db.session.get(Card, kb["refund"].id)
        operations.edit_card(card, author=db.session.get(User, kb["expert"].id), answer="Refunds take 3 days.")
        db.session.commit()
    assert pending(app, kb["refund"]) == "Refunds take 3 days."  # agents read it, marked pending
    for channel in (serving.AGENTS, serving.CHATBOT, serving.FAQ):  # and every channel tells the verified words
        assert served(app, kb["refund"], channel).startswith("Refunds reach your card within")
    with app.app_context():
        card = db.session.get(Card, kb["refund"].id)
        operations.verify_card(card, db.session.get(User, kb["expert"].id))
        db.session.commit()
    assert served(app, kb["refund"], serving.CHATBOT) == served(app, kb["refund"], serving.FAQ) == \
        served(app, kb["refund"], serving.AGENTS) == "Refunds take 3 days."
    assert pending(app, kb["refund"]) is None


def test_a_lapsed_card_keeps_its_verified_answer_for_the_grace_period_then_is_withheld(app, kb):
    due = utcnow() - timedelta(days=1) + timedelta(days=90)
    assert served(app, kb["refund"], serving.CHATBOT, now=due + timedelta(days=13)) is not None
    assert served(app, kb["refund"], serving.FAQ, now=due + timedelta(days=14, minutes=1)) is None
    assert served(app, kb["refund"], serving.AGENTS, now=due + timedelta(days=400)) is not None
    app.config["CHANNEL_GRACE_DAYS"] = 0
    assert served(app, kb["refund"], serving.CHATBOT, now=due + timedelta(minutes=1)) is None


def test_a_flag_withholds_the_card_from_the_chatbot_at_once_but_not_from_the_faq(app, kb):
    with app.app_context():
        flags.flag_card(db.session.get(Card, kb["refund"].id), db.session.get(User, kb["agent"].id), "outdated")
        db.session.commit()
    assert served(app, kb["refund"], serving.CHATBOT) is None
    assert served(app, kb["refund"], serving.FAQ) is not None
    app.config["CHANNEL_WITHHOLD_FLAGGED"] = ("chatbot", "faq")
    assert served(app, kb["refund"], serving.FAQ) is None


def test_archived_cards_are_not_served(app, kb):
    with app.app_context():
        card = db.session.get(Card, kb["refund"].id)
        operations.set_archived(card, card.owner, True)
        db.session.commit()
    assert served(app, kb["refund"], serving.CHATBOT) is None and served(app, kb["refund"], serving.FAQ) is None


# -- Tokens ------------------------------------------------------------------------------------------

def test_tokens_from_the_cli_are_shown_once_stored_hashed_and_revocable(app, runner, client, kb):
    result = runner.invoke(args=["tokens", "create", "--name", "Help widget", "--scope", "public:read"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert secret.startswith("kb_")
    with app.app_context():
        stored = db.session.query(ApiToken).filter_by(name="Help widget").one()
        assert secret not in (stored.secret_hash, stored.prefix) and stored.last_used_at is None
        token_id = stored.id
    assert get(client, f"/api/v1/cards/{kb['refund'].id}", f"Bearer {secret}").status_code == 200
    listed = runner.invoke(args=["tokens", "list"]).output
    line = next(row for row in listed.splitlines() if "Help widget" in row)
    assert secret not in listed and "never used" not in line and "active" in line
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0
    revoked = get(client, f"/api/v1/cards/{kb['refund'].id}", f"Bearer {secret}")
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "unauthorized"
    bad = runner.invoke(args=["tokens", "create", "--name", "x", "--scope", "admin:everything"])
    assert bad.exit_code == 1 and "Unknown scope" in bad.output
    unaccountable = runner.invoke(args=["tokens", "create", "--name", "bot", "--scope", "flags:write"])
    assert unaccountable.exit_code == 1 and "--by" in unaccountable.output
    assert runner.invoke(args=["tokens", "create", "--name", "bot", "--scope", "flags:write",
                               "--by", "admin@example.com"]).exit_code == 0


def test_missing_wrong_and_unscoped_tokens(client, kb):
    url = f"/api/v1/cards/{kb['refund'].id}"
    assert get(client, url).status_code == 401
    assert get(client, url, "Bearer kb_not-a-real-token").status_code == 401
    assert get(client, url, "Basic dXNlcjpwYXNz").status_code == 401
    no_flags = client.post(url + "/flags", json={"kind": "outdated"}, headers={"Authorization": kb["public_token"]})
    assert no_flags.status_code == 403 and no_flags.get_json()["error"]["code"] == "forbidden"


def test_admins_create_and_revoke_tokens_on_a_page(client, auth, kb):
    auth.login("agent@example.com")
    assert client.get("/admin/tokens/").status_code == 403
    auth.logout()
    auth.login("admin@example.com")
    page = auth.post("/admin/tokens/", data={"name": "FAQ widget", "scopes": ["public:read"]}).get_data(as_text=True)
    secret = page.split('data-testid="token-secret">')[1].split("<")[0]
    assert secret.startswith("kb_") and get(client, "/api/v1/collections", f"Bearer {secret}").status_code == 200
    assert secret not in client.get("/admin/tokens/").get_data(as_text=True)  # shown once
    refused = auth.post("/admin/tokens/", data={"name": "", "scopes": []})
    assert refused.status_code == 400
    with client.application.app_context():
        token_id = db.session.query(ApiToken).filter_by(name="FAQ widget").one().id
    assert client.post(f"/admin/tokens/{token_id}/revoke").status_code == 400  # no CSRF token
    auth.post(f"/admin/tokens/{token_id}/revoke")
    assert get(client, "/api/v1/collections", f"Bearer {secret}").status_code == 401


# -- Endpoints ---------------------------------------------------------------------------------------

def test_answer_gives_the_verified_answer_with_its_provenance(client, kb):
    body = get(client, "/api/v1/answer?q=when+will+I+get+my+refund", kb["public_token"]).get_json()
    assert body["id"] == kb["refund"].id and body["revision"] == 1
    assert body["answer_markdown"] == "Refunds reach your card within **5 business days**."
    assert body["answer_text"] == "Refunds reach your card within 5 business days."
    assert "<strong>5 business days</strong>" in body["answer_html"]
    assert body["verified_by"] == "Bianca Expert" and body["verifying_team"] == "Billing experts"
    assert body["verified_at"].endswith("Z") and body["next_due"] and body["score"] > 0
    assert "/faq/cards/" in body["url"] and body["placeholders"] == []
    assert "internal_notes" not in body and "Escalate" not in str(body)


def test_no_verified_answer_is_an_explicit_404_with_suggestions(client, kb):
    missing = get(client, "/api/v1/answer?q=crypto", kb["public_token"])  # only a draft mentions it
    assert missing.status_code == 404
    error = missing.get_json()["error"]
    assert error["code"] == "no_verified_answer" and error["suggestions"] == []
    partial = get(client, "/api/v1/answer?q=refund+bitcoin+wallet", kb["public_token"]).get_json()["error"]
    assert partial["code"] == "no_verified_answer"  # the best match ignores the rare words of the question
    assert {s["title"] for s in partial["suggestions"]} <= {"When will I get my refund?", "Gift card refunds"}
    assert partial["suggestions"] and "Refund fraud checks" not in str(partial)
    ambiguous = get(client, "/api/v1/answer?q=refunds", kb["public_token"])  # two cards answer about as well
    assert ambiguous.status_code == 404 and len(ambiguous.get_json()["error"]["suggestions"]) == 2
    assert get(client, "/api/v1/answer?q=do+you+sell+bicycles", kb["public_token"]).status_code == 404
    assert get(client, "/api/v1/answer?q=", kb["public_token"]).status_code == 400


def test_search_with_a_token_respects_its_scope(client, kb):
    public = get(client, "/api/v1/search?q=refund", kb["public_token"]).get_json()
    assert {r["id"] for r in public["results"]} == {kb["refund"].id, kb["gift"].id}
    internal = get(client, "/api/v1/search?q=refund", kb["internal_token"]).get_json()
    assert kb["fraud"].id in {r["id"] for r in internal["results"]}


def test_cards_and_collections_by_scope(client, kb):
    public = get(client, f"/api/v1/cards/{kb['fraud'].id}", kb["public_token"])
    assert public.status_code == 404 and public.get_json()["error"]["code"] == "not_found"
    internal = get(client, f"/api/v1/cards/{kb['fraud'].id}", kb["internal_token"]).get_json()
    assert internal["status"] == "verified" and internal["internal_notes"] == ""
    draft = get(client, f"/api/v1/cards/{kb['draft'].id}", kb["internal_token"]).get_json()
    # A draft has no served wording: nothing to send, only the draft to read, marked pending.
    assert draft["status"] == "draft" and draft["answer_markdown"] is None and draft["answer_text"] is None
    assert draft["pending"]["answer_markdown"] == "Not yet." and draft["pending"]["author"] == "Bianca Expert"
    names = [c["name"] for c in get(client, "/api/v1/collections", kb["public_token"]).get_json()["collections"]]
    assert names == ["Payments"]
    assert len(get(client, "/api/v1/collections", kb["internal_token"]).get_json()["collections"]) == 2


def test_card_listing_pages_with_a_stable_cursor(client, kb):
    seen, cursor = [], None
    while True:
        url = "/api/v1/cards?limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = get(client, url, kb["public_token"]).get_json()
        seen += [c["id"] for c in page["cards"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted([kb["refund"].id, kb["gift"].id])
    every = get(client, "/api/v1/cards?limit=100&status=draft", kb["internal_token"]).get_json()
    assert [c["id"] for c in every["cards"]] == [kb["draft"].id]
    later = get(client, "/api/v1/cards?updated_since=2999-01-01T00:00:00Z", kb["public_token"]).get_json()
    assert later == {"cards": [], "next_cursor": None}
    for bad in ("limit=0", "limit=abc", "cursor=%%%", "updated_since=yesterday", "status=shiny"):
        response = get(client, f"/api/v1/cards?{bad}", kb["public_token"])
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "invalid_parameter", bad


def test_flags_through_the_api_withhold_the_card_from_the_bot(app, client, kb):
    url = f"/api/v1/cards/{kb['refund'].id}/flags"
    created = client.post(url, json={"kind": "incorrect", "comment": "Customer says 10 days"},
                          headers={"Authorization": kb["internal_token"]})
    assert created.status_code == 201 and created.get_json()["state"] == "open"
    assert get(client, "/api/v1/answer?q=when+will+I+get+my+refund", kb["public_token"]).get_json().get("id") \
        != kb["refund"].id
    bad = client.post(url, json={"kind": "rude"}, headers={"Authorization": kb["internal_token"]})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "kind"
    not_json = client.post(url, data="kind=outdated", headers={"Authorization": kb["internal_token"]})
    assert not_json.status_code == 400
    with app.app_context():
        assert [f.comment for f in flags.open_flags(db.session.get(Card, kb["refund"].id))] == [
            "[via API token “agent tool”] Customer says 10 days"]


def test_every_api_error_is_json_with_a_stable_code(app, client, kb):
    assert get(client, "/api/v1/nothing-here", kb["public_token"]).get_json()["error"]["code"] == "not_found"
    wrong_method = client.delete("/api/v1/collections", headers={"Authorization": kb["public_token"]})
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]["code"] == "method_not_allowed"
    assert "GET" in wrong_method.headers["Allow"]
    too_big = client.post(f"/api/v1/cards/{kb['refund'].id}/flags", data="x" * (3 * 1024 * 1024),
                          content_type="application/json", headers={"Authorization": kb["internal_token"]})
    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"]
    app.config["API_RATE_LIMIT"] = "3 per minute"
    codes = [get(client, "/api/v1/collections", kb["public_token"]).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = get(client, "/api/v1/collections", kb["public_token"])
    assert limited.get_json()["error"]["code"] == "too_many_requests" and int(limited.headers["Retry-After"]) > 0
    assert get(client, "/api/v1/collections", kb["internal_token"]).status_code == 200  # per token


def test_health_needs_no_token_and_reports_the_index(client, kb):
    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["index"]["lag"] == 0 and body["index"]["documents"] >= 4


def test_the_chatbot_export_holds_what_the_chatbot_is_served(app, runner, kb):
    with app.app_context():
        card = db.session.get(Card, kb["gift"].id)
        operations.edit_card(card, author=db.session.get(User, kb["expert"].id), answer="UNVERIFIED wording")
        db.session.commit()
    result = runner.invoke(args=["export", "--channel", "chatbot", "-"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert [r["id"] for r in rows] == [kb["refund"].id, kb["gift"].id]
    assert rows[1]["answer_markdown"] == "Gift card refunds go back to the card." and "UNVERIFIED" not in result.output
    assert "internal_notes" not in rows[0] and rows[0]["url"].startswith("/faq/cards/")


def test_public_search_never_finds_a_card_by_words_customers_are_not_shown(app, client, kb):
    with app.app_context():
        card = db.session.get(Card, kb["gift"].id)
        operations.edit_card(card, author=db.session.get(User, kb["expert"].id),
                             internal_notes="Override code zebracorn", answer="Pending zanzibar wording")
        db.session.commit()
    for word in ("zebracorn", "zanzibar", "escalate"):  # notes, an unverified edit, the other card's notes
        body = get(client, f"/api/v1/search?q={word}", kb["public_token"]).get_json()
        assert body["results"] == [] and body["did_you_mean"] is None, word
        assert get(client, f"/api/v1/search?q={word}", kb["internal_token"]).get_json()["results"], word
    public = get(client, "/api/v1/search?q=gift+card", kb["public_token"]).get_json()
    assert public["results"][0]["id"] == kb["gift"].id and kb["fraud"].id not in [r["id"] for r in public["results"]]
    assert "zanzibar" not in str(public) and public["results"][0]["url"].endswith("/faq/cards/%d-gift-card-refunds"
                                                                                 % kb["gift"].id)


def test_flag_comments_and_dates_at_the_edges_are_refused_cleanly(client, kb):
    url, auth_ = f"/api/v1/cards/{kb['refund'].id}/flags", {"Authorization": kb["internal_token"]}
    for comment in ({}, [], 0, False):
        response = client.post(url, json={"kind": "outdated", "comment": comment}, headers=auth_)
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "comment", comment
    long_ok = client.post(url, json={"kind": "unclear", "comment": "x" * 2000}, headers=auth_)
    assert long_ok.status_code == 201  # the "[via API token …]" prefix does not count against the caller
    assert client.post(url, json={"kind": "unclear", "comment": "x" * 2001}, headers=auth_).status_code == 400
    for since in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"):
        response = get(client, f"/api/v1/cards?updated_since={since.replace('+', '%2B')}", kb["public_token"])
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "updated_since", since
    assert client.get("/api/v1/health", headers={"Authorization": "Bearer kb_revoked"}).status_code == 200


def test_no_customer_sees_a_raw_placeholder_the_bot_gets_them_listed_and_the_card_page_says_so(
        app, client, auth, kb, make_card):
    card = make_card(kb["public"], kb["expert"], title="Where is my parcel?", verified_at=utcnow(),
                     answer="Hi {customer_name}, order {order_number} left our warehouse today.")
    body = get(client, f"/api/v1/cards/{card.id}", kb["public_token"]).get_json()
    assert body["placeholders"] == ["customer_name", "order_number"]  # the bot fills them
    assert client.get(f"/faq/cards/{card.id}").status_code == 404  # the FAQ withholds it
    faq_page = client.get(f"/faq/{kb['public'].slug}").get_data(as_text=True)
    assert "Where is my parcel?" not in faq_page and "{customer_name}" not in faq_page
    assert "When will I get my refund?" in faq_page
    auth.login("expert@example.com")
    page = client.get(f"/cards/{card.id}").get_data(as_text=True)
    assert 'data-testid="faq-withheld-placeholders"' in page and "{customer_name}" in page
    assert 'data-testid="verify-placeholders"' in page  # told before verifying, too
    refund_page = client.get(f"/cards/{kb['refund'].id}").get_data(as_text=True)
    assert 'data-testid="faq-withheld-placeholders"' not in refund_page
    assert 'data-testid="verify-placeholders"' not in refund_page


def test_a_server_error_in_the_api_is_json_too(client, kb, monkeypatch):
    def broken(ids):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(serving, "load", broken)
    response = get(client, f"/api/v1/cards/{kb['refund'].id}", kb["public_token"])
    assert response.status_code == 500 and response.get_json()["error"]["code"] == "internal_error"
    assert "fire" not in response.get_data(as_text=True)  # no internals in the message


def test_questions_the_bot_hands_over_reach_the_gap_report(app, client, kb):
    assert get(client, "/api/v1/answer?q=do+you+sell+bicycles", kb["public_token"]).status_code == 404
    assert get(client, "/api/v1/answer?q=when+will+I+get+my+refund", kb["public_token"]).status_code == 200
    with app.app_context():
        from kb.search import gaps

        rows = {row["example"]: row for row in gaps.report()}
    assert rows["do you sell bicycles"]["no_results"] == 1 and "when will I get my refund" not in rows

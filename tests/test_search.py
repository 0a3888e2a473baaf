"""Searching as agents do: synonyms, typos, ranking, filters, hostile input, the API, gaps and copies."""
import json
import re
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kb.cards import operations
from kb.dates import utcnow
from kb.extensions import db
from kb.models import (
    Card,
    CardRequest,
    CardUsage,
    Notification,
    SearchEvent,
    SynonymSet,
)
from kb.search import index as si
from kb.search import query, synonyms


@pytest.fixture
def kb_cards(app, make_team, make_user, make_collection, make_card):
    team = make_team("Care")
    expert = make_user("expert", teams=[team], email="expert@example.com")
    agent = make_user("agent", email="agent@example.com")
    coll = make_collection(team, name="Orders")
    other = make_collection(team, name="Payments")
    now = utcnow()
    cards = {
        "cancel": make_card(coll, expert, title="Can a customer cancel an order before it ships?",
                            answer="Yes. Cancel under **Account → Orders** before it ships.", tags=["orders"],
                            verified_at=now),
        "refund": make_card(other, expert, title="When will I get my refund?",
                            answer="Refunds reach your card within 5 business days.", tags=["refunds"],
                            verified_at=now),
        "refund_stale": make_card(other, expert, title="When will I get my refund for a gift?",
                                  answer="Refunds reach your card within 5 business days.", tags=["refunds"],
                                  verified_at=now - timedelta(days=400)),
        "template": make_card(coll, expert, title="Reply template for a delayed parcel",
                              answer="Hi {customer_name}, order {order_number} is delayed. See [tracking](https://track.example/x)."),
    }
    return dict(team=team, expert=expert, agent=agent, coll=coll, other=other, **cards)


def ids(text, **kwargs):
    query._cache.clear()
    return [h.id for h in query.search(text, synonyms=synonyms.table(), **kwargs).hits]


def test_synonyms_apply_at_query_time_without_reindex(app, kb_cards):
    with app.app_context():
        assert query.search("void order", synonyms=synonyms.table()).mode == "any"  # only "order" matched
        synonyms.add_set("cancel, cancellation, void order", None)
        db.session.commit()
        query._cache.clear()
        assert query.search("void order", synonyms=synonyms.table()).mode == "all"  # a phrase for a word
        assert ids("void order")[0] == kb_cards["cancel"].id
        assert ids("cancellation")[0] == kb_cards["cancel"].id
        synonyms.add_set("refund, money back", None)
        db.session.commit()
        assert kb_cards["refund"].id in ids("money back")[:2]


def test_synonyms_admin_page_and_cli(app, client, auth, kb_cards, make_user, runner, tmp_path):
    make_user("admin", email="root@example.com")
    auth.login("root@example.com")
    response = auth.post("/admin/synonyms", {"add-terms": "refund, money back"})
    assert response.status_code == 302
    bad = auth.post("/admin/synonyms", {"add-terms": "lonely"})
    assert bad.status_code == 400 and "at least two" in bad.get_data(as_text=True)
    with app.app_context():
        row = db.session.scalars(db.select(SynonymSet)).one()
        assert row.term_list == ["refund", "money back"]
    path = tmp_path / "synonyms.txt"
    path.write_text("# ours\ncancel, cancellation, void order\nparcel, package\n", encoding="utf-8")
    result = runner.invoke(args=["synonyms", "import", str(path)])
    assert result.exit_code == 0 and "2 synonym sets" in result.output
    path.write_text("refund, money back\nnope\n", encoding="utf-8")
    refused = runner.invoke(args=["synonyms", "import", str(path)])
    assert refused.exit_code == 1 and "line 2" in refused.output
    listed = runner.invoke(args=["synonyms", "list"])
    assert listed.output.splitlines() == ["cancel, cancellation, void order", "parcel, package"]  # unchanged
    with app.app_context():
        assert ids("package delayed")[0] == kb_cards["template"].id


def test_typos_are_corrected_with_did_you_mean(app, kb_cards):
    with app.app_context():
        query._cache.clear()
        results = query.search("refnud", synonyms=synonyms.table())
        assert results.did_you_mean == "refund"
        assert results.hits and results.hits[0].id == kb_cards["refund"].id
        query._cache.clear()
        assert query.search("cancel order").did_you_mean is None


def test_verified_cards_rank_ahead_of_equally_relevant_stale_ones(app, kb_cards):
    with app.app_context():
        query._cache.clear()
        hits = query.search("refund", explain=True).hits
        assert [h.id for h in hits[:2]] == [kb_cards["refund"].id, kb_cards["refund_stale"].id]
        assert hits[1].status == "needs_verification"
        assert hits[1].explain["status_factor"] < hits[0].explain["status_factor"]
        assert "title" in hits[0].explain["matched"]


def test_much_used_cards_get_a_mild_boost(app, kb_cards, make_card):
    from kb.search import usage

    with app.app_context():
        stale = db.session.get(Card, kb_cards["refund_stale"].id)
        for _ in range(30):  # copies move the card up usage levels; the index-feed job re-indexes it
            usage.record(stale.id, None, "copy")
            db.session.commit()
        si.apply_feed()
        assert ids("refund")[:2] == [kb_cards["refund"].id, stale.id]  # use never outranks trust
    twin = make_card(kb_cards["other"], kb_cards["expert"], title="When will I get my refund?",
                     answer="Refunds reach your card within 5 business days.", tags=["refunds"],
                     verified_at=utcnow())
    with app.app_context():
        query._cache.clear()
        first, second = query.search("refund").hits[:2]
        assert {first.id, second.id} == {twin.id, kb_cards["refund"].id} and first.score == second.score
        for _ in range(3):
            usage.record(twin.id, None, "copy")
            db.session.commit()
        query._cache.clear()
        hits = query.search("refund", explain=True).hits  # usage waits for the feed job: still equals
        assert hits[0].score == hits[1].score
        waiting = si.status()
        watermark = waiting["watermark"]
        assert waiting["usage_waiting"] >= 1 and waiting["lag"] == 0  # nothing a search shows is behind
        cancel = db.session.get(Card, kb_cards["cancel"].id)
        operations.edit_card(cancel, author=cancel.owner, answer="Yes, before it ships.")
        db.session.commit()  # a content change applies the waiting usage rows with it
        assert si.status()["watermark"] > watermark and si.status()["usage_waiting"] == 0
        query._cache.clear()
        hits = query.search("refund", explain=True).hits
        assert hits[0].id == twin.id and 1 < hits[0].explain["rank_multiplier"] < 1.2  # between equals
        assert hits[1].id == kb_cards["refund"].id and hits[1].score < hits[0].score


def test_filters_facets_and_cursor(app, kb_cards, client, auth):
    auth.login("agent@example.com")
    body = client.get(f"/api/v1/search?q=refund&limit=1&facets=1&collection={kb_cards['other'].id}").get_json()
    assert body["total"] == 2 and len(body["results"]) == 1 and body["next_cursor"]
    second = client.get(f"/api/v1/search?q=refund&limit=1&collection={kb_cards['other'].id}"
                        f"&cursor={body['next_cursor']}").get_json()
    assert second["results"][0]["id"] != body["results"][0]["id"] and second["next_cursor"] is None
    assert {f["label"]: f["count"] for f in body["facets"]["status"]} == {"Verified": 1, "Needs verification": 1}
    assert {f["label"] for f in body["facets"]["collection"]} == {"Payments"}
    only_stale = client.get("/api/v1/search?q=refund&status=needs_verification").get_json()
    assert [r["id"] for r in only_stale["results"]] == [kb_cards["refund_stale"].id]
    by_slug = client.get("/api/v1/search?q=refund&collection=payments&tag=refunds").get_json()
    assert by_slug["total"] == 2
    assert client.get("/api/v1/search?q=refund&collection=nope").status_code == 400


def test_api_result_shape_and_safe_snippets(app, kb_cards, client, auth, make_card):
    with app.app_context():
        evil = make_card(kb_cards["coll"], kb_cards["expert"], title="Script test for refunds",
                         answer="<script>alert(1)</script> refunds <img src=x onerror=alert(2)>")
    auth.login("agent@example.com")
    body = client.get("/api/v1/search?q=refunds").get_json()
    assert set(body) >= {"results", "total", "did_you_mean", "next_cursor"}
    first = body["results"][0]
    assert set(first) >= {"id", "title", "snippet", "status", "reasons", "collection", "tags", "verified_at", "url"}
    assert first["url"].startswith(f"/cards/{first['id']}")
    snippet = next(r["snippet"] for r in body["results"] if r["id"] == evil.id)
    assert "<script" not in snippet and "<img" not in snippet and "<mark" in snippet
    stale = next(r for r in body["results"] if r["id"] == kb_cards["refund_stale"].id)
    assert stale["status"] == "needs_verification" and stale["reasons"][0]["code"] == "expired"


def test_the_api_needs_a_session(client, kb_cards):
    response = client.get("/api/v1/search?q=refund")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("q", ['"unbalanced quote', "refund AND OR NOT", "title:refund", "*", "ref*", "?",
                               "((refund", "-", "-refund", "a" * 5000, "' OR 1=1 --", "🙂 refund",
                               "tag:orders collection:x status:draft", "[refund TO z]", "~2^3"])
def test_hostile_queries_give_results_or_a_message(client, auth, kb_cards, q):
    # Control characters are refused with a 400 before any query: tests/test_hostile_input.py.
    auth.login("agent@example.com")
    for url in ("/api/v1/search", "/search"):
        response = client.get(url, query_string={"q": q})
        assert response.status_code == 200, (url, q)
    body = client.get("/api/v1/search", query_string={"q": q}).get_json()
    assert body["results"] or body["notice"] or body["total"] == 0


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(q=st.text(max_size=400))
def test_any_text_is_a_valid_search(app, kb_cards, q):
    with app.app_context():
        results = query.search(q, synonyms=synonyms.table())
        assert results.total >= 0 and (results.hits or results.notice is not None or results.total == 0)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(args=st.dictionaries(st.sampled_from(["q", "limit", "cursor", "status", "collection", "tag", "owner",
                                             "archived", "prefix", "facets", "explain"]), st.text(max_size=60)))
@example(args={"limit": "²"})  # str.isdigit() is true for it; int() is not (found by Hypothesis)
@example(args={"owner": "٣", "collection": "¹"})
def test_any_parameters_give_json_never_a_server_error(app, kb_cards, args):
    client = app.test_client()
    with client.session_transaction() as session:  # signed in as the agent, without the login round trip
        with app.app_context():
            from kb.models import User
            user = db.session.scalar(db.select(User).filter_by(email="agent@example.com"))
            session["_user_id"] = user.get_id()
            session["_fresh"] = True
    response = client.get("/api/v1/search", query_string=args)
    assert response.status_code in (200, 400), (args, response.status_code)
    assert response.is_json


def test_search_log_merges_keystrokes_and_records_opens_and_copies(app, kb_cards, client, auth):
    auth.login("agent@example.com")
    for partial in ("ref", "refu", "refund"):
        client.get("/api/v1/search", query_string={"q": partial, "prefix": "1"})
    body = client.get("/api/v1/search?q=refund").get_json()
    sid = body["search_id"]
    with app.app_context():
        rows = db.session.scalars(db.select(SearchEvent)).all()
        assert [r.query for r in rows] == ["refund"]  # one search, not four
    card_id = body["results"][0]["id"]
    assert client.get(body["results"][0]["url"]).status_code == 200  # carries ?sid=
    assert client.post(f"/cards/{card_id}/copied", data={"sid": sid},
                       headers={"X-CSRFToken": auth.csrf_token()}).get_json() == {"ok": True}
    with app.app_context():
        event = db.session.scalar(db.select(SearchEvent).filter_by(ref=sid))
        assert event.opened_card_id == card_id and event.copied_card_id == card_id
        usage = db.session.get(CardUsage, card_id)
        assert (usage.views, usage.copies) == (1, 1)


def test_copy_requires_the_csrf_token(client, auth, kb_cards):
    auth.login("agent@example.com")
    assert client.post(f"/cards/{kb_cards['refund'].id}/copied").status_code == 400


def test_answer_json_is_chat_ready_text_with_placeholders(client, auth, kb_cards):
    auth.login("agent@example.com")
    body = client.get(f"/cards/{kb_cards['template'].id}/answer.json").get_json()
    assert body["text"] == ("Hi {customer_name}, order {order_number} is delayed. "
                            "See tracking (https://track.example/x).")
    assert body["placeholders"] == ["customer_name", "order_number"]
    page = client.get(f"/cards/{kb_cards['template'].id}").get_data(as_text=True)
    assert '<mark class="placeholder">{customer_name}</mark>' in page
    assert body["draft"] is True  # never verified: copied only as a draft, after a confirmation
    assert 'class="button small copy-answer copy-draft" data-card="%d"' % kb_cards["template"].id in page
    assert "Copy draft (not verified)" in page


def test_search_page_shows_recent_and_most_used_then_results_with_facets(client, auth, kb_cards):
    auth.login("agent@example.com")
    client.get(f"/cards/{kb_cards['cancel'].id}")
    page = client.get("/search").get_data(as_text=True)
    recent = page.split("Recently viewed")[1].split("Most used")[0]
    assert kb_cards["cancel"].title in recent
    assert kb_cards["cancel"].title in page.split("Most used")[1]
    results = client.get("/search?q=refnud").get_data(as_text=True)
    assert "Did you mean" in results and ">refund</a>" in results
    assert "Needs verification</a>" in results  # the status facet, with its count
    filtered = client.get("/search?q=refund&status=needs_verification").get_data(as_text=True)
    assert kb_cards["refund_stale"].title in filtered and kb_cards["refund"].title not in filtered


def test_gap_report_to_card_request_to_card_end_to_end(app, client, auth, kb_cards):
    auth.login("agent@example.com")
    for _ in range(2):
        client.get("/api/v1/search?q=loyalty+points+expire")
        client.get("/search?q=Loyalty points expiring")  # another wording, the same normalised query
    auth.logout()
    auth.login("expert@example.com")
    page = client.get("/search/gaps").get_data(as_text=True)
    assert "loyalty points expire" in page.lower()
    with app.app_context():
        normalized = db.session.scalars(db.select(SearchEvent.normalized)).first()
    response = auth.post("/search/gaps/request", {"normalized": normalized, "team": kb_cards["team"].id})
    assert response.status_code == 302
    again = auth.post("/search/gaps/request", {"normalized": normalized, "team": kb_cards["team"].id},
                      follow_redirects=True)
    assert "Already requested from Care" in again.get_data(as_text=True)
    with app.app_context():
        request_ = db.session.scalars(db.select(CardRequest)).one()
        assert request_.searches >= 2
        told = db.session.scalars(db.select(Notification).filter_by(kind="card_request")).all()
        assert [n.user.email for n in told] == ["expert@example.com"]
    form = client.get(f"/cards/new?request={request_.id}").get_data(as_text=True)
    assert "loyalty points" in form.lower() and f'name="request" value="{request_.id}"' in form
    created = auth.post(f"/cards/new?request={request_.id}", {
        "title": "Do loyalty points expire?", "answer": "After 12 months.", "collection": kb_cards["coll"].id,
        "owner": kb_cards["expert"].id, "verifier_team": kb_cards["team"].id, "interval": "90",
        "request": request_.id})
    assert created.status_code == 302, created.get_data(as_text=True)[:2000]
    with app.app_context():
        done = db.session.get(CardRequest, request_.id)
        assert done.fulfilled_at is not None and done.card.title == "Do loyalty points expire?"
        told = db.session.scalars(db.select(Notification).filter_by(kind="card_request_done")).one()
        assert told.user.email == "expert@example.com"  # the requester
    assert "Answered by" in client.get("/search/gaps").get_data(as_text=True)


def test_gap_report_is_for_experts(client, auth, kb_cards):
    auth.login("agent@example.com")
    assert client.get("/search/gaps").status_code == 403
    assert auth.post("/search/gaps/request", {"normalized": "x", "team": 1}).status_code == 403


def test_similar_cards_while_writing_and_conflicts_on_the_dashboard(app, client, auth, kb_cards, make_card):
    auth.login("expert@example.com")
    similar = client.get("/search/similar?title=When will my refund arrive").get_json()["results"]
    assert similar[0]["id"] == kb_cards["refund"].id
    excluded = client.get(f"/search/similar?title=When will I get my refund&exclude={kb_cards['refund'].id}")
    assert kb_cards["refund"].id not in [r["id"] for r in excluded.get_json()["results"]]
    make_card(kb_cards["coll"], kb_cards["expert"], title="Can a customer cancel an order before shipping?",
              answer="No, orders cannot be cancelled once placed.")
    dashboard = client.get("/verification/dashboard").get_data(as_text=True)
    conflicts = dashboard.split("Possible conflicts")[1]
    assert "Can a customer cancel an order before it ships?" in conflicts
    assert "Can a customer cancel an order before shipping?" in conflicts
    # Same title words, same answer: a duplicate, not a conflict (the refund twins differ only by "gift").
    assert "When will I get my refund" not in conflicts


def test_every_page_has_the_search_box(client, auth, kb_cards):
    auth.login("agent@example.com")
    for url in ("/", f"/cards/{kb_cards['refund'].id}", "/search?q=refund", "/notifications"):
        assert re.search(r'<input type="search" name="q" id="site-search"', client.get(url).get_data(as_text=True))


def test_explain_is_for_experts(client, auth, kb_cards):
    auth.login("expert@example.com")
    page = client.get("/search?q=refund&explain=1").get_data(as_text=True)
    assert "Why here?" in page and "Matched the title word" in page
    body = client.get("/api/v1/search?q=refund&explain=1").get_json()
    assert json.dumps(body["results"][0]["explain"])


def test_as_you_type_prefixes_and_typos_in_the_last_word(client, auth, kb_cards):
    auth.login("agent@example.com")
    partial = client.get("/api/v1/search?prefix=1&q=cancel+ord").get_json()
    assert partial["results"][0]["id"] == kb_cards["cancel"].id
    answers_only = client.get("/api/v1/search?prefix=1&q=busin").get_json()  # "business" is in no title
    assert {r["id"] for r in answers_only["results"]} == {kb_cards["refund"].id, kb_cards["refund_stale"].id}
    typo = client.get("/api/v1/search?prefix=1&q=refnud").get_json()  # no word starts so: a typo
    assert typo["did_you_mean"] == "refund" and typo["results"][0]["id"] == kb_cards["refund"].id



def test_a_minus_before_a_number_or_an_operator_is_not_an_exclusion():
    parsed = query.parse("-22 // 10 -refund ->", "en")
    assert parsed.excluded == ["refund"]
    assert [g.stems for g in parsed.groups] == [("-22",), ("//",), ("10",), ("->",)]
    starred = query.parse("refu* **", "en")
    assert [(g.kind, g.stems) for g in starred.groups] == [("prefix", ("refu",)), ("word", ("**",))]


def test_a_draft_ranks_below_every_verified_card_matching_as_well_however_much_it_is_used(
        app, kb_cards, make_card):
    from kb.models import CardUsage
    from kb.search import index as search_index

    text = dict(answer="Gift cards never expire and work online.", tags=["gift"])
    draft = make_card(kb_cards["other"], kb_cards["expert"], title="Do gift cards expire?", **text)
    lapsed = make_card(kb_cards["other"], kb_cards["expert"], title="Do gift cards expire?",
                       verified_at=utcnow() - timedelta(days=400), **text)
    with app.app_context():
        db.session.add(CardUsage(card_id=draft.id, views=5000, copies=0))  # the most use counts for
        db.session.commit()
        search_index.reindex()
        hits = query.search("gift cards expire", explain=True).hits
        assert [h.id for h in hits[:2]] == [lapsed.id, draft.id]
        assert hits[1].explain["rank_multiplier"] > search_index.STATUS_FACTOR["draft"]  # boosted by use...
        assert hits[1].score < hits[0].score  # ...and still below

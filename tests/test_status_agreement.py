"""Status is decided once: at any instant, every place that shows a card's status says the same thing.

The whole app travels in time (time-machine), so that lapses happen as they would in production, with
no checker run in between: the list badge, the card page, `kb check-stale --json`, the API and the
verification queue must still agree, because they all ask `kb.verification.status`.
"""
import json
import re
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from kb import demo
from kb.channels import tokens
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, Collection, User
from kb.verification import dashboard, policy

ROW = re.compile(r'<li class="card-row">\s*<a class="card-title" href="/cards/(\d+)">.*?</a>\s*'
                 r'<span class="badge badge-([a-z_]+)"', re.S)
BADGE = re.compile(r'<h1>.*?</h1>\s*<span class="badge badge-([a-z_]+)"', re.S)
QUEUE_ROW = re.compile(r'<tr data-card="(\d+)" data-status="([a-z_]+)">')


@pytest.fixture
def demo_world(app):
    with app.app_context():
        demo.seed()
        _, secret = tokens.create("agreement", [tokens.INTERNAL_READ])
        db.session.commit()
        slugs = list(db.session.scalars(select(Collection.slug)))
        ids = list(db.session.scalars(select(Card.id).order_by(Card.id)))
    email, password = next((e, p) for e, p, role in demo.demo_accounts() if role == "admin")
    return {"token": f"Bearer {secret}", "slugs": slugs, "ids": ids, "admin": (email, password)}


def everywhere(app, client, auth, runner, world):
    """{place: {card id: status code}} for every place that shows a status."""
    auth.login(*world["admin"])
    lists, pages, api = {}, {}, {}
    for slug in world["slugs"]:
        page = client.get(f"/collections/{slug}?archived=1").get_data(as_text=True)
        lists.update({int(i): code for i, code in ROW.findall(page)})
    for card_id in world["ids"]:
        pages[card_id] = BADGE.search(client.get(f"/cards/{card_id}").get_data(as_text=True)).group(1)
        api[card_id] = client.get(f"/api/v1/cards/{card_id}", headers={"Authorization": world["token"]}).json["status"]
    result = runner.invoke(args=["check-stale", "--json", "--all", "--dry-run"])
    assert result.exit_code == 0, result.output
    checker = {row["id"]: row["status"] for row in json.loads(result.output)["cards"]}
    queue_page = client.get("/verification/queue").get_data(as_text=True)
    queue = {int(i): code for i, code in QUEUE_ROW.findall(queue_page)}
    auth.logout()
    return {"list": lists, "page": pages, "api": api, "checker": checker}, queue


@pytest.mark.parametrize("days", [0, 8, 40])
def test_every_place_shows_the_same_status_at_any_instant(app, client, auth, runner, demo_world, days):
    with time_machine.travel(utcnow() + timedelta(days=days), tick=False):
        places, queue = everywhere(app, client, auth, runner, demo_world)
    reference = places["page"]
    assert set(reference) == set(demo_world["ids"])
    for place, found in places.items():
        assert found == reference, place
    expected_queue = {i: code for i, code in reference.items() if code in dashboard.QUEUE_STATUSES}
    assert queue == expected_queue
    if days == 40:  # time did its work: cards verified a month ago in a weekly or monthly interval lapsed
        assert sum(code == policy.NEEDS_VERIFICATION for code in reference.values()) > \
            sum(code == policy.NEEDS_VERIFICATION for code in places_now(app).values())


def places_now(app):
    from kb.verification.status import statuses

    with app.app_context():
        return {i: st.code for i, st in statuses(db.session.scalars(select(Card.id))).items()}


def test_three_open_flags_read_three_everywhere(app, client, auth, demo_world):
    from kb.verification import flags

    with app.app_context():
        card = db.session.scalar(select(Card).where(Card.link_key == "damaged-parcel"))
        agent = db.session.scalar(select(User).filter_by(role="agent"))
        flags.flag_card(card, agent, "unclear", "second")
        flags.flag_card(card, agent, "incorrect", "third")
        db.session.commit()
        card_id = card.id
    auth.login(*demo_world["admin"])
    page = client.get(f"/cards/{card_id}").get_data(as_text=True)
    api = client.get(f"/api/v1/cards/{card_id}", headers={"Authorization": demo_world["token"]}).json
    queue = client.get("/verification/queue").get_data(as_text=True)
    search = client.get("/api/v1/search?q=damaged").json
    assert "3 open flags from agents." in page
    assert "3 open flags from agents." in [r["message"] for r in api["reasons"]]
    assert "3 open flags from agents." in queue and "1 open flag" not in queue
    hit = next(r for r in search["results"] if r["id"] == card_id)
    assert "3 open flags from agents." in [r["message"] for r in hit["reasons"]]


def test_a_weekly_card_verified_an_hour_ago_is_not_in_the_queue(app, client, auth, make_team, make_user,
                                                                 make_collection, make_card):
    team = make_team("Logistics")
    expert = make_user("expert", teams=[team], email="expert@example.com")
    coll = make_collection(team, name="Peak", interval=7)
    weekly = make_card(coll, expert, title="Holiday cut-off", interval_days=7,
                       verified_at=utcnow() - timedelta(hours=1))
    soon = make_card(coll, expert, title="Returns desk hours", interval_days=7,
                     verified_at=utcnow() - timedelta(days=4))
    auth.login("expert@example.com")
    page = client.get("/verification/queue").get_data(as_text=True)
    queued = dict(QUEUE_ROW.findall(page))
    assert str(weekly.id) not in queued  # due soon only in the last half of a short interval
    assert queued[str(soon.id)] == policy.DUE_SOON

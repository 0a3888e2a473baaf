"""The same schema, migrations and writes on a real PostgreSQL server.

`.ci/run` starts a server and sets KB_TEST_POSTGRES_URL (e.g. postgresql://postgres@127.0.0.1:54329/postgres);
each test gets a database of its own. Without the variable these tests skip, except under CI where they fail.
"""
import json

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from kb import demo
from kb.accounts import operations as accounts
from kb.cards import operations, transfer
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, CardChange, Revision
from kb.verification import policy

pytestmark = pytest.mark.postgres


def test_migrations_match_the_models_on_postgres(pg_app):
    with pg_app.app_context(), db.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), db.metadata) == []


def test_demo_export_import_round_trip_on_postgres(pg_app):
    now = utcnow()
    with pg_app.app_context():
        demo.seed(now=now)
        db.session.commit()
        exported = list(transfer.export_lines())
        statuses = {c.external_id: policy.card_status(c, now).code for c in db.session.scalars(select(Card))}
        # Re-importing the export changes nothing; times survive the trip through PostgreSQL in UTC.
        report = transfer.import_lines(exported)
        assert (report.created, report.updated, report.verified) == (0, 0, 0)
        assert list(transfer.export_lines()) == exported
        assert {c.external_id: policy.card_status(c, now).code for c in db.session.scalars(select(Card))} == statuses
        assert json.loads(exported[0])["verified_at"] is None or json.loads(exported[0])["verified_at"].endswith("Z")


def test_card_writes_revisions_and_change_feed_on_postgres(pg_app):
    with pg_app.app_context():
        team = accounts.create_team(name="Billing experts")
        owner = accounts.create_user(email="Bianca@Example.com", name="Bianca", role="expert",
                                     password="long-enough-1", teams=[team])
        coll = operations.create_collection(name="Payments & billing", team=team)
        card = operations.create_card(collection=coll, owner=owner, verifier_team=team, author=owner,
                                      title="How do refunds work?", answer="5 days.", tags=["refunds"])
        operations.verify_card(card, owner, note="checked")
        operations.edit_card(card, author=owner, answer="3 days.")
        db.session.commit()
        assert accounts.find_user("bianca@EXAMPLE.com").id == owner.id
        assert db.session.scalar(select(func.count()).select_from(Revision).filter_by(card_id=card.id)) == 2
        assert db.session.scalar(select(func.count()).select_from(CardChange).filter_by(card_id=card.id)) >= 1
        assert policy.card_status(card, utcnow()).reasons[0].code == "edited"
        with pytest.raises(transfer.ImportFailed):
            transfer.import_lines(['{"title": "x"}'])


def test_checker_queue_and_dashboard_on_postgres(pg_app):
    from kb.models import CardState, Notification, Team
    from kb.verification import checker, dashboard, digest

    now = utcnow()
    with pg_app.app_context():
        demo.seed(now=now)
        db.session.commit()
        first = checker.run_check(now=now, send_notifications=True)
        db.session.commit()
        again = checker.run_check(now=now, send_notifications=True)
        db.session.commit()
        assert first.notified > 0 and again.notified == 0 and again.changed == 0
        assert db.session.scalar(select(func.count()).select_from(CardState)) == len(first.verdicts)
        assert digest.send_digests(now=now) > 0
        db.session.commit()
        assert digest.send_digests(now=now) == 0
        team_ids = list(db.session.scalars(select(Team.id)))
        rows = dashboard.queue(team_ids, now, reason="edited")
        assert rows and all("edited" in row.status.reason_codes for row in rows)
        figures = dashboard.current_figures(now)
        assert 0 < figures["score"] < 100 and figures["total"] == len(first.verdicts)
        assert db.session.scalar(select(func.count()).select_from(Notification)) > 0


def test_search_and_gap_report_on_postgres(pg_app):
    from kb.search import gaps, query, synonyms

    with pg_app.app_context():
        demo.seed()
        db.session.commit()
        hits = query.search("cancel order", synonyms=synonyms.table()).hits
        assert hits[0].title == "Can a customer cancel an order before it ships?"
        gaps.record_search(None, "loyalty points", 0, 3.0)
        db.session.commit()
        rows = gaps.report()
        assert rows[0]["example"] == "loyalty points" and rows[0]["no_results"] == 1


def test_a_transaction_committing_late_is_not_skipped_by_the_index(pg_app):
    """PostgreSQL numbers feed rows when they are inserted, not when they commit: a slow transaction
    can commit row N after row N+1 was applied. The watermark must not pass N until N is seen."""
    from sqlalchemy.orm import Session

    from kb.search import index as si
    from kb.search import query

    with pg_app.app_context():
        team = accounts.create_team(name="Care")
        owner = accounts.create_user(email="o@example.com", name="O", role="expert", password="long-enough-1",
                                     teams=[team])
        coll = operations.create_collection(name="Orders", team=team)
        slow_card = operations.create_card(collection=coll, owner=owner, verifier_team=team, author=owner,
                                           title="Slow card", answer="Before.")
        fast_card = operations.create_card(collection=coll, owner=owner, verifier_team=team, author=owner,
                                           title="Fast card", answer="Before.")
        db.session.commit()
        slow = Session(db.engine)
        try:
            card = slow.get(Card, slow_card.id)
            card.answer = "Answer from the slow pelican transaction."
            slow.flush()  # takes its feed number now...
            fast = db.session.get(Card, fast_card.id)
            operations.edit_card(fast, author=db.session.get(type(owner), owner.id), answer="Quick heron.")
            db.session.commit()  # ...while this later number commits first and is applied
            query._cache.clear()
            assert [h.id for h in query.search("heron").hits] == [fast_card.id]
            slow.commit()
        finally:
            slow.close()
        query._cache.clear()
        assert [h.id for h in query.search("pelican").hits] == [slow_card.id]
        assert si.status()["lag"] == 0


def test_a_team_verifying_more_cards_than_postgres_takes_parameters_can_gain_a_member(pg_app):
    """Adding someone to a team re-checks every card the team verifies: 66,000 ids would be one IN list
    beyond PostgreSQL's 65,535 parameters (the load bench's 100,000-card set failed there)."""
    from sqlalchemy import insert

    from kb.models import CardState

    pg_app.config["SEARCH_SYNC_ON_COMMIT"] = False  # indexing the 66,000 re-checked cards is not the point (~45 s)
    with pg_app.app_context():
        team = accounts.create_team(name="Everything")
        owner = accounts.create_user(email="owner@example.com", name="Owner", role="expert",
                                     password="long-enough-1", teams=[team])
        coll = operations.create_collection(name="All of it", team=team)
        db.session.commit()
        now = utcnow()
        rows = [{"external_id": f"bulk-{i}", "link_key": f"bulk-{i}", "collection_id": coll.id, "owner_id": owner.id,
                 "verifier_team_id": team.id, "interval_days": 90, "is_public": False, "is_archived": False,
                 "title": f"Card {i}", "answer": "An answer.", "internal_notes": "", "revision_number": 1,
                 "created_at": now, "updated_at": now} for i in range(66_000)]
        for start in range(0, len(rows), 10_000):
            db.session.execute(insert(Card.__table__), rows[start:start + 10_000])
        db.session.commit()
        newcomer = accounts.create_user(email="new@example.com", name="New", role="expert", password="long-enough-1")
        accounts.set_membership(team, newcomer, actor=None)
        db.session.commit()
        assert db.session.scalar(select(func.count()).select_from(CardState)) >= 66_000


def test_nul_in_search_card_save_and_flag_comment_is_a_400_on_postgres(pg_app, auth_for):
    """PostgreSQL refuses NUL in text (a 500 before the request hook); SQLite would store it silently."""
    from kb.models import Flag, SearchEvent

    password = "vivid-lantern-42-pg"
    with pg_app.app_context():
        team = accounts.create_team(name="Billing experts")
        owner = accounts.create_user(email="bianca@example.com", name="Bianca", role="expert", password=password,
                                     teams=[team])
        coll = operations.create_collection(name="Payments & billing", team=team)
        card = operations.create_card(collection=coll, owner=owner, verifier_team=team, author=owner,
                                      title="How do refunds work?", answer="5 days.")
        db.session.commit()
        ids = {"card": card.id, "coll": coll.id, "owner": owner.id, "team": team.id}
    client = pg_app.test_client()
    auth = auth_for(client)
    assert auth.login("bianca@example.com", password).status_code == 302
    assert client.get("/search", query_string={"q": "refund\x00"}).status_code == 400
    assert auth.post(f"/cards/{ids['card']}/edit", data={
        "title": "How do refunds work?", "answer": "3\x00 days.", "tags": "", "interval": "90",
        "collection": ids["coll"], "owner": ids["owner"], "verifier_team": ids["team"], "base_revision": "1",
    }).status_code == 400
    assert auth.post(f"/cards/{ids['card']}/flags", data={"kind": "incorrect", "comment": "old\x00"}
                     ).status_code == 400
    with pg_app.app_context():
        assert db.session.get(Card, ids["card"]).answer == "5 days."
        assert db.session.scalar(select(func.count()).select_from(Flag)) == 0
        assert db.session.scalar(select(func.count()).select_from(SearchEvent)) == 0

"""JSON Lines import and export: validation, atomicity, updates by external_id, and the round trip."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kb import demo
from kb.cards import operations, transfer
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, Collection, Revision
from kb.verification import policy


def line(**fields):
    row = {"title": "Can I change my address?", "answer": "Yes, before dispatch.", "collection": "Shipping & delivery",
           "owner_email": "leo@example.com", "verifier_team": "Logistics experts"}
    row.update(fields)
    return json.dumps({k: v for k, v in row.items() if v is not ...})


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_import_creates_cards_and_missing_collections(app, world):
    lines = [line(external_id="addr", tags=["Address", "shipping"], public=True, verify_interval_days=30,
                  verified_at="2026-11-01T10:00:00Z", verified_by_email="leo@example.com"),
             line(title="Do you ship to Norway?", collection="International", internal_notes="Check **EORI**.")]
    with app.app_context():
        report = transfer.import_lines(lines)
        assert (report.created, report.verified, report.collections_created) == (2, 1, ["International"])
        card = db.session.scalar(select(Card).filter_by(external_id="addr"))
        assert card.tag_names == ["address", "shipping"] and card.is_public and card.interval_days == 30
        assert card.verified_at.isoformat() == "2026-11-01T10:00:00+00:00" and card.verified_revision_number == 1
        new = db.session.scalar(select(Card).filter_by(title="Do you ship to Norway?"))
        assert new.collection.name == "International" and new.collection.team.name == "Logistics experts"
        assert new.verified_at is None and new.external_id.startswith("kb-")


BAD_LINES = [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must be a JSON object"),
    (line(title=...), "missing title"),
    (line(answer=""), "missing answer"),
    (line(owner_email="ghost@example.com"), "unknown owner 'ghost@example.com'"),
    (line(verifier_team="Nobody"), "unknown verifier_team 'Nobody'"),
    (line(verified_at="yesterday"), "not an ISO 8601 date-time"),
    (line(verified_at="2026-02-30T10:00:00Z"), "not an ISO 8601 date-time"),
    (line(verified_at=(utcnow() + timedelta(days=3)).isoformat()), "in the future"),
    (line(verified_at="2026-01-01", verified_by_email="ghost@example.com"), "unknown verified_by_email"),
    (line(verify_interval_days=0), "verify_interval_days must be between"),
    (line(verify_interval_days="90"), "whole number of days"),
    (line(public="yes"), "public must be true or false"),
    (line(tags="a,b"), "tags must be a list"),
    (line(titel="typo"), "unknown field(s) titel"),
    (line(external_id="has spaces"), "external_id must be"),
    (line(title="x" * 201), "title is longer than"),
]


@pytest.mark.parametrize("bad, message", BAD_LINES)
def test_each_invalid_line_is_reported_with_its_number_and_nothing_is_written(app, world, bad, message):
    with app.app_context():
        before = (count(Card), count(Collection), count(Revision))
        with pytest.raises(transfer.ImportFailed) as exc:
            transfer.import_lines([line(title="Fine one?", collection="New collection"), "", bad])
        assert any(number == 3 and message in text for number, text in exc.value.errors), exc.value.errors
        assert (count(Card), count(Collection), count(Revision)) == before


def test_every_error_is_listed_not_just_the_first(app, world):
    with app.app_context():
        with pytest.raises(transfer.ImportFailed) as exc:
            transfer.import_lines([line(external_id="a"), "{", line(owner_email="x@example.com"),
                                   line(external_id="a")])
        assert [n for n, _ in exc.value.errors] == [2, 3, 4]
        assert "already appears on line 1" in exc.value.errors[-1][1]


def test_a_crash_half_way_through_leaves_the_database_as_it_was(app, world, monkeypatch):
    real_verify, calls = operations.verify_card, []

    def failing_verify(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(operations, "verify_card", failing_verify)
    lines = [line(title=f"Question {i}?", verified_at="2026-10-01T00:00:00Z") for i in range(5)]
    with app.app_context():
        before = (count(Card), count(Revision))
        with pytest.raises(RuntimeError):
            transfer.import_lines(lines)
        assert (count(Card), count(Revision)) == before


def test_dry_run_reports_and_writes_nothing(app, world):
    with app.app_context():
        report = transfer.import_lines([line(), line(title="Another?", collection="Brand new")], dry_run=True)
        assert report.created == 2 and report.collections_created == ["Brand new"]
        assert count(Card) == 2 and db.session.scalar(select(Collection).filter_by(name="Brand new")) is None


def test_reimport_with_changed_content_makes_an_unverified_revision(app, world):
    first = line(external_id="addr", verified_at="2026-11-01T10:00:00Z", verified_by_email="leo@example.com")
    with app.app_context():
        transfer.import_lines([first])
        report = transfer.import_lines([line(external_id="addr", answer="Yes, up to 1 hour after ordering.")])
        assert (report.created, report.updated, report.verified) == (0, 1, 0)
        card = db.session.scalar(select(Card).filter_by(external_id="addr"))
        assert card.revision_number == 2 and card.verified_revision_number == 1
        assert card.answer == "Yes, up to 1 hour after ordering."
        status = policy.card_status(card, utcnow())
        assert status.code == policy.NEEDS_VERIFICATION and "edited" in [r.code for r in status.reasons]
        # The same verification date again does not verify the new text either.
        transfer.import_lines([line(external_id="addr", answer="Changed again.", verified_at="2026-11-01T10:00:00Z",
                                    verified_by_email="leo@example.com")])
        assert card.revision_number == 3 and card.verified_revision_number == 1
        # A newer verification does.
        transfer.import_lines([line(external_id="addr", answer="Changed again.", verified_at="2026-11-20T10:00:00Z",
                                    verified_by_email="leo@example.com")])
        assert card.verified_revision_number == 3


def test_reimport_of_identical_lines_changes_nothing(app, world):
    rows = [line(external_id="addr", tags=["b", "a"])]
    with app.app_context():
        transfer.import_lines(rows)
        report = transfer.import_lines(rows)
        assert (report.created, report.updated, report.unchanged) == (0, 0, 1)
        assert db.session.scalar(select(Card).filter_by(external_id="addr")).revision_number == 1


def test_export_then_import_into_an_empty_database_round_trips(app, make_app):
    """Same accounts and teams, no cards: the import recreates every card with the same status."""
    now = utcnow()
    with app.app_context():
        demo.seed(now=now)
        db.session.commit()
        exported = list(transfer.export_lines())
        statuses = {c.external_id: policy.card_status(c, now).code for c in db.session.scalars(select(Card))}
    assert len(exported) == len(statuses) >= 40
    assert any('"verified": {' in row for row in exported)  # edited cards carry their verified text

    target = make_app("target")
    with target.app_context():
        demo.seed(now=now, with_cards=False)
        db.session.commit()
        assert count(Card) == 0
        report = transfer.import_lines(exported)
        assert report.created == len(exported)
        assert list(transfer.export_lines()) == exported
        again = {c.external_id: policy.card_status(c, now).code for c in db.session.scalars(select(Card))}
        assert again == statuses
        assert set(statuses.values()) >= {"verified", "due_soon", "needs_verification", "draft"}


def test_cli_import_lists_errors_and_exits_non_zero(app, world, runner, tmp_path):
    path = tmp_path / "cards.jsonl"
    path.write_text(line() + "\n" + line(owner_email="ghost@example.com") + "\n{oops\n", encoding="utf-8")
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 1
    assert "cards.jsonl:2: unknown owner" in result.output and "cards.jsonl:3: not valid JSON" in result.output
    assert "2 error(s); nothing was imported" in result.output
    with app.app_context():
        assert count(Card) == 2


def test_cli_import_dry_run_and_export(app, world, runner, tmp_path):
    path = tmp_path / "cards.jsonl"
    path.write_text(line(external_id="addr") + "\n", encoding="utf-8")
    result = runner.invoke(args=["import", "--dry-run", str(path)])
    assert result.exit_code == 0 and "Dry run, nothing written: 1 created" in result.output
    result = runner.invoke(args=["import", str(path)])
    assert result.exit_code == 0 and "Imported: 1 created" in result.output
    out = tmp_path / "export.jsonl"
    result = runner.invoke(args=["export", str(out)])
    assert result.exit_code == 0 and "Exported 3 card(s)" in result.output
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [r["external_id"] for r in rows][-1] == "addr" and rows[-1]["owner_email"] == "leo@example.com"

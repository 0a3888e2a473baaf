"""Views and copies: counted per card (a mild ranking boost) and per user ("Recently viewed")."""
from sqlalchemy import select, update

from kb.dates import utcnow
from kb.extensions import db, insert_ignoring_conflicts
from kb.models import Card, CardChange, CardUsage, CardVisit, SearchEvent
from kb.search.index import usage_level


def record(card_id, user_id, kind, search_ref=None, now=None):
    """Count a view or a copy of a card; credit the search it came from as opened/copied. The caller
    commits (pages run this after their response, through `kb.deferred.later`).

    The index only hears of it when the card moves up a usage level (log scale), so counting stays
    cheap and a view writes no change-feed row; a level change writes a usage row, which waits for the
    next content change or the index-feed job (each index commit makes every searcher refresh: a commit
    per view saturated the workers under load). Rows are created race-free (insert, ignoring conflicts).
    """
    now = now or utcnow()
    before = db.session.execute(select(CardUsage.views, CardUsage.copies).filter_by(card_id=card_id)).first()
    if before is None:
        db.session.execute(insert_ignoring_conflicts(CardUsage.__table__),
                           [{"card_id": card_id, "views": 0, "copies": 0}])
    column = CardUsage.views if kind == "view" else CardUsage.copies
    values = {column.key: column + 1}
    if kind == "view":
        values["last_viewed_at"] = now
    db.session.execute(update(CardUsage).where(CardUsage.card_id == card_id).values(values))
    if user_id is not None and kind == "view":
        db.session.execute(insert_ignoring_conflicts(CardVisit.__table__),
                           [{"user_id": user_id, "card_id": card_id, "visited_at": now}])
        db.session.execute(update(CardVisit).filter_by(user_id=user_id, card_id=card_id).values(visited_at=now))
    if search_ref and user_id is not None:
        target = SearchEvent.opened_card_id if kind == "view" else SearchEvent.copied_card_id
        db.session.execute(update(SearchEvent).where(SearchEvent.ref == search_ref[:32],
                                                     SearchEvent.user_id == user_id)
                           .values({target.key: card_id}))
    after = db.session.execute(select(CardUsage.views, CardUsage.copies).filter_by(card_id=card_id)).first()
    if usage_level(*after) != (usage_level(*before) if before else 0):
        # No "kb.feed_written": the index applies usage with the next content change or its feed job.
        db.session.add(CardChange(card_id=card_id, changed_at=now, kind=CardChange.USAGE))


def recently_viewed(user, limit=8):
    return db.session.scalars(
        select(Card).join(CardVisit, CardVisit.card_id == Card.id)
        .where(CardVisit.user_id == user.id, ~Card.is_archived)
        .order_by(CardVisit.visited_at.desc()).limit(limit)).all()


def most_used(limit=8):
    score = CardUsage.views + 3 * CardUsage.copies
    return db.session.scalars(
        select(Card).join(CardUsage, CardUsage.card_id == Card.id).where(~Card.is_archived, score > 0)
        .order_by(score.desc(), Card.id).limit(limit)).all()

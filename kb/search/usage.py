"""Views and copies: counted per card (a mild ranking boost) and per user ("Recently viewed")."""
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, CardChange, CardUsage, CardVisit, SearchEvent
from kb.search.index import usage_level


def record(card, user, kind, search_id=None, now=None):
    """Count a view or a copy of `card`; mark the search it came from as opened/copied. Commits.

    The index only hears of it when the card moves up a usage level (log scale), so counting stays
    cheap. A race on a first row is ignored: a lost count is better than a failed page.
    """
    now = now or utcnow()
    column = CardUsage.views if kind == "view" else CardUsage.copies
    row = db.session.get(CardUsage, card.id)
    before = usage_level(row.views, row.copies) if row else 0
    try:
        if row is None:
            row = CardUsage(card_id=card.id, views=int(kind == "view"), copies=int(kind == "copy"),
                            last_viewed_at=now if kind == "view" else None)
            db.session.add(row)
            db.session.flush()
        else:
            values = {column.key: column + 1}
            if kind == "view":
                values["last_viewed_at"] = now
            db.session.execute(update(CardUsage).where(CardUsage.card_id == card.id).values(values))
            db.session.refresh(row)
        if user is not None and kind == "view":
            visit = db.session.get(CardVisit, (user.id, card.id))
            if visit is None:
                db.session.add(CardVisit(user_id=user.id, card_id=card.id, visited_at=now))
            else:
                visit.visited_at = now
        if search_id is not None and user is not None:
            target = SearchEvent.opened_card_id if kind == "view" else SearchEvent.copied_card_id
            db.session.execute(update(SearchEvent).where(SearchEvent.id == search_id,
                                                         SearchEvent.user_id == user.id)
                               .values({target.key: card.id}))
        if usage_level(row.views, row.copies) != before:
            db.session.add(CardChange(card_id=card.id, changed_at=now))
            db.session.info["kb.feed_written"] = True
        db.session.commit()
    except IntegrityError:
        db.session.rollback()


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

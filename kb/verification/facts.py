"""Gather the policy's facts from the database, for any number of cards, with a fixed number of set-based
queries whatever their number. `kb.verification.status` turns them into statuses.
"""
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from kb.dates import local_day
from kb.extensions import db
from kb.models import VERIFIER_ROLES, Card, CardLink, Flag, Membership, User
from kb.verification.policy import Facts


def user_active_at(now):
    """SQL: the user may work at `now` (active, and their seasonal account has not expired)."""
    return and_(User.active, or_(User.expires_on.is_(None), User.expires_on >= local_day(now)))


def user_is_active_at(user, now):
    """The same rule in Python, for one user already loaded."""
    return user.is_active_at(now)


def teams_with_verifiers(now, team_ids=None):
    """Ids of the teams that have someone who can verify at `now` (an active expert or admin)."""
    query = (select(Membership.team_id).join(User, User.id == Membership.user_id)
             .where(user_active_at(now), User.role.in_(VERIFIER_ROLES)).distinct())
    if team_ids is not None:
        query = query.where(Membership.team_id.in_(team_ids))
    return set(db.session.scalars(query))


def _changed_links_query(now):
    """(card id, linked title) where the linked card's verified wording changed, or it was archived, after
    the card's own verification."""
    target = aliased(Card)
    return (
        select(CardLink.card_id, target.title)
        .join(Card, Card.id == CardLink.card_id)
        .join(target, target.id == CardLink.target_id)
        .where(Card.verified_at.is_not(None),
               or_(and_(target.verified_revision_at > Card.verified_at, target.verified_revision_at <= now),
                   and_(target.archived_at > Card.verified_at, target.archived_at <= now)))
    )


CARD_COLUMNS = (Card.id, Card.title, Card.collection_id, Card.owner_id, Card.verifier_team_id, Card.interval_days,
                Card.revision_number, Card.verified_revision_number, Card.verified_at, Card.is_archived)


MANY_IDS = 5000


def all_facts(now, card_ids=None):
    """((id, title, collection id, owner id, team id), Facts) for every card, or for the given ids,
    from five queries."""
    flag_query = select(Flag.card_id, func.count()).where(Flag.state == "open").group_by(Flag.card_id)
    link_query = _changed_links_query(now).order_by(CardLink.card_id, CardLink.target_id)
    card_query = select(*CARD_COLUMNS).order_by(Card.id)
    # Many ids (a team of 100,000 cards): read them all and keep those, rather than bind more parameters
    # than PostgreSQL takes (65,535) in one IN list.
    wanted = set(card_ids) if card_ids is not None and len(card_ids) > MANY_IDS else None
    if card_ids is not None and wanted is None:
        ids = sorted(card_ids)
        flag_query = flag_query.where(Flag.card_id.in_(ids))
        link_query = link_query.where(CardLink.card_id.in_(ids))
        card_query = card_query.where(Card.id.in_(ids))
    flags = dict(db.session.execute(flag_query).all())
    inactive_owners = set(db.session.scalars(select(User.id).where(~user_active_at(now))))
    verifying_teams = teams_with_verifiers(now)
    changed = {}
    for card_id, title in db.session.execute(link_query):
        changed.setdefault(card_id, []).append(title)
    # Plain tuples: attribute access on 100,000 result rows costs more than the rest of the check.
    for card_id, title, collection_id, owner_id, team_id, interval, revision, verified_revision, verified_at, \
            archived in db.session.execute(card_query):
        if wanted is not None and card_id not in wanted:
            continue
        yield (card_id, title, collection_id, owner_id, team_id), Facts(
            interval, revision, verified_revision, verified_at, archived, flags.get(card_id, 0),
            tuple(changed.get(card_id, ())), owner_id not in inactive_owners, team_id in verifying_teams)

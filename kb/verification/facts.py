"""Gather the policy's facts from the database, for any number of cards, with a fixed number of set-based
queries whatever their number. `kb.verification.status` turns them into statuses.
"""
from functools import cache

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.orm import aliased

from kb.dates import local_day
from kb.extensions import db
from kb.models import VERIFIER_ROLES, Card, CardLink, Flag, Membership, User
from kb.verification.policy import Facts


def user_active_at(now):
    """SQL: the user may work at `now` (active, and their seasonal account has not expired)."""
    return user_active_on(local_day(now))


def user_active_on(day):
    """SQL: the user may work on `day` (a date or a bound parameter)."""
    return and_(User.active, or_(User.expires_on.is_(None), User.expires_on >= day))


def user_is_active_at(user, now):
    """The same rule in Python, for one user already loaded."""
    return user.is_active_at(now)


def teams_with_verifiers(now, team_ids=None):
    """Ids of the teams that have someone who can verify at `now` (an active expert or admin)."""
    query = _verifying_teams(user_active_at(now))
    if team_ids is not None:
        query = query.where(Membership.team_id.in_(team_ids))
    return set(db.session.scalars(query))


def _verifying_teams(active):
    return (select(Membership.team_id).join(User, User.id == Membership.user_id)
            .where(active, User.role.in_(VERIFIER_ROLES)).distinct())


def _changed_links_query(now):
    """(card id, linked title) where the linked card's verified wording changed, or it was archived, after
    the card's own verification (`now` a value or a bound parameter)."""
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


@cache
def _statements(by_id):
    """The five queries of `all_facts`, built once per process with bound parameters (now, today and, when
    `by_id`, an expanding list of ids): building SQLAlchemy statements cost more than running them on the
    as-you-type path (~8 ms of a 40 ms request at 8 cards)."""
    now, active = bindparam("now"), user_active_on(bindparam("today"))
    flags = select(Flag.card_id, func.count()).where(Flag.state == "open").group_by(Flag.card_id)
    links = _changed_links_query(now).order_by(CardLink.card_id, CardLink.target_id)
    cards = select(*CARD_COLUMNS).order_by(Card.id)
    if by_id:
        ids = bindparam("ids", expanding=True)
        flags, links, cards = flags.where(Flag.card_id.in_(ids)), links.where(CardLink.card_id.in_(ids)), \
            cards.where(Card.id.in_(ids))
    inactive = select(User.id).where(~active)
    return flags, links, cards, inactive, _verifying_teams(active)


def all_facts(now, card_ids=None):
    """((id, title, collection id, owner id, team id), Facts) for every card, or for the given ids,
    from five queries."""
    # Many ids (a team of 100,000 cards): read them all and keep those, rather than bind more parameters
    # than PostgreSQL takes (65,535) in one IN list.
    wanted = set(card_ids) if card_ids is not None and len(card_ids) > MANY_IDS else None
    by_id = card_ids is not None and wanted is None
    flag_query, link_query, card_query, inactive_query, verifying_query = _statements(by_id)
    values = {"now": now, "today": local_day(now)}
    if by_id:
        values["ids"] = sorted(card_ids)
    flags = dict(db.session.execute(flag_query, values).all())
    inactive_owners = set(db.session.scalars(inactive_query, values))
    verifying_teams = set(db.session.scalars(verifying_query, values))
    changed = {}
    for card_id, title in db.session.execute(link_query, values):
        changed.setdefault(card_id, []).append(title)
    # Plain tuples: attribute access on 100,000 result rows costs more than the rest of the check.
    for card_id, title, collection_id, owner_id, team_id, interval, revision, verified_revision, verified_at, \
            archived in db.session.execute(card_query, values):
        if wanted is not None and card_id not in wanted:
            continue
        yield (card_id, title, collection_id, owner_id, team_id), Facts(
            interval, revision, verified_revision, verified_at, archived, flags.get(card_id, 0),
            tuple(changed.get(card_id, ())), owner_id not in inactive_owners, team_id in verifying_teams)

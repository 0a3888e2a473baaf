"""Who may do what. Plain predicates shared by pages, the API and the CLI.

agent: read everything internal. expert: write cards in collections their teams own, verify cards
their teams verify. admin: everything.
"""
from kb.models import VERIFIER_ROLES


def is_admin(user):
    return bool(user and user.is_authenticated and user.role == "admin")


def is_verifier(user):
    """Experts and admins: the people who can own and verify cards."""
    return bool(user and user.is_authenticated and user.role in VERIFIER_ROLES)


def can_write_in(user, collection):
    """Create or edit cards in `collection`."""
    if is_admin(user):
        return True
    return bool(user and user.is_authenticated and user.role == "expert" and user.is_member_of(collection.team))


def can_edit(user, card):
    return can_write_in(user, card.collection)


def can_verify(user, card):
    if is_admin(user):
        return True
    return bool(
        user and user.is_authenticated and user.role == "expert" and user.is_member_of(card.verifier_team)
    )


def can_set_verifier_team(user, current, new):
    """Who verifies a card is a lead's or an admin's decision (a lead of the team that verifies it now or of
    the one that would): an expert free to pick a team they verify for could verify their own edit."""
    if current is not None and new is not None and current.id == new.id:
        return True
    return leads(user, current) or leads(user, new)


def leads(user, team):
    """Team leads (and admins) run their team's onboarding: paths, cohorts, pushes, reports."""
    if is_admin(user):
        return True
    return bool(user and user.is_authenticated and team is not None and any(
        m.team_id == team.id and m.is_lead for m in user.memberships))


def is_lead(user):
    """Leads some team (or is an admin): may open the onboarding lead pages."""
    if is_admin(user):
        return True
    return bool(user and user.is_authenticated and any(m.is_lead for m in user.memberships))

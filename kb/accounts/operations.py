"""Every write to users, teams and memberships; each one is audited. Callers commit."""
import functools
import gzip
import os
import re
import unicodedata

from sqlalchemy import func, select

from kb import audit
from kb.accounts.emails import clean_email, email_key, script_problem
from kb.extensions import db
from kb.models import ROLES, Membership, Team, User
from kb.text import clean_line
from kb.validation import Invalid

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
NAME_MAX = User.__table__.c.name.type.length
# The password hash of an account that has never chosen a password (a cohort import, before its hire opens
# the set-password link). Werkzeug reads no method in it, so `check_password` never matches it, and writing
# it costs nothing, unlike a scrypt hash per hire of a 3,000-person cohort.
UNUSABLE_PASSWORD = "!unset"


class InvalidAccount(Invalid):
    """An account or team change was refused."""


def find_user(email):
    """The user with this e-mail address, compared as kb.accounts.emails says, or None."""
    return db.session.scalar(select(User).where(User.email_key == email_key(email)))


def find_team(name):
    return db.session.scalar(select(Team).where(func.lower(Team.name) == (name or "").strip().lower()))


def email_problem(email):
    """Why an address (as `clean_email` returns it) cannot be an account's, or None."""
    if not EMAIL.match(email or "") or len(email) > 254:
        return "is not a valid e-mail address"
    return script_problem(email)


def name_problem(name):
    if not (name or "").strip():
        return "is required"
    if len(name.strip()) > NAME_MAX:
        return f"is longer than {NAME_MAX} characters"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "contains control characters (a line break or a tab)"
    return None


def password_problem(password, *, email=None, name=None):
    """Why a password cannot be an account's, or None: the one password rule, for every way a password is set.

    Length alone let `password` through for an admin. Guessing tools try the common passwords first, then
    their variants (`Password1!`, `p@ssw0rd`) and the person's own name, so those are refused too."""
    password = password or ""
    if len(password) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters"
    if any(variant in _common_passwords() for variant in _variants(password)):
        return "is a common password (or one with capitals, digits or symbols added to one): choose another"
    words = _identity_words(email, name)
    if words and len(_without(_core(password.casefold()), words)) < 4:
        return "is too close to your e-mail address or name: add words of your own"
    return None


# Leetspeak undone; "1" and "!" are read both as "i" and as "l".
_LEET = [str.maketrans("0134@$57!8", "oieaasstib"), str.maketrans("0134@$57!8", "oleaasstlb")]


def _core(text):
    """The password without the digits and symbols people put before or after a weak word."""
    return re.sub(r"^[\W\d_]+|[\W\d_]+$", "", text)


def _variants(password):
    folded = password.casefold()
    forms = {folded, _core(folded)}
    for table in _LEET:
        forms |= {folded.translate(table), _core(folded.translate(table)), _core(folded).translate(table)}
    return forms - {""}


def _identity_words(email, name):
    """The e-mail's local part and its pieces, and each word of the name, of three letters or more."""
    local = (email or "").partition("@")[0].casefold()
    words = {local, *re.split(r"[._+-]+", local), *(name or "").casefold().split()}
    return sorted((w for w in words if len(w) >= 3), key=len, reverse=True)


def _without(text, words):
    """What is left of `text`, as letters and digits, once every identity word is taken out of it."""
    for word in words:
        text = text.replace(word, "")
    return re.sub(r"[\W_]+", "", text)


@functools.cache
def _common_passwords():
    """Django's list of 20,000 common passwords (BSD-3-Clause, kb/data/LICENSE-django-common-passwords.txt)."""
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "common-passwords.txt.gz")
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def has_password(user):
    """Whether the account ever chose a password (an imported hire has not, until their link)."""
    return user.password_hash != UNUSABLE_PASSWORD


def _check_user(email, name, role, password, exclude=None):
    errors = {}
    # An address the account already has is not judged again: a look-alike made before the rule can be deactivated.
    if (exclude is None or email != exclude.email) and email_problem(email):
        errors["email"] = email_problem(email)
    else:
        clash = find_user(email)
        if clash is not None and clash is not exclude:
            errors["email"] = "is already in use"
    if name_problem(name):
        errors["name"] = name_problem(name)
    if role not in ROLES:
        errors["role"] = f"must be one of {', '.join(ROLES)}"
    problem = password_problem(password, email=email, name=name) if password is not None else None
    if problem:
        errors["password"] = problem
    if errors:
        raise InvalidAccount(errors)


def create_user(*, email, name, role, password, teams=(), expires_on=None, actor=None):
    """Create an account; `teams` are Team objects. Raises InvalidAccount with every problem."""
    email = clean_email(email)
    _check_user(email, name, role, password)
    user = User(email=email, name=clean_line(name), role=role, expires_on=expires_on)
    user.set_password(password)
    db.session.add(user)
    for team in teams:
        user.memberships.append(Membership(team=team))
    db.session.flush()
    audit.record(actor, "user.create", f"user:{user.id}", email=email, role=role,
                 teams=[t.name for t in teams], expires_on=expires_on)
    return user


def update_user(user, *, actor, email, name, role, active, expires_on, password=None):
    """Change an account; a new password or deactivation signs the user out everywhere."""
    email = clean_email(email)
    _check_user(email, name, role, password or None, exclude=user)
    if actor is not None and actor.id == user.id and (role != user.role or not active):
        raise InvalidAccount({"role": "you cannot change your own role or deactivate yourself"})
    before = {"email": user.email, "name": user.name, "role": user.role, "active": user.active,
              "expires_on": user.expires_on}
    user.email, user.name, user.role, user.expires_on = email, clean_line(name), role, expires_on
    if user.active and not active:
        user.sign_out_everywhere()
    user.active = active
    if password:
        user.set_password(password)
    after = {"email": user.email, "name": user.name, "role": user.role, "active": user.active,
             "expires_on": user.expires_on}
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if password:
        changed["password"] = "changed"
    if changed:
        audit.record(actor, "user.update", f"user:{user.id}", changes=changed)
    db.session.flush()
    return user


def create_team(*, name, description="", actor=None):
    name = clean_line(name)
    if not name:
        raise InvalidAccount({"name": "is required"})
    if len(name) > 80:
        raise InvalidAccount({"name": "is longer than 80 characters"})
    if find_team(name) is not None:
        raise InvalidAccount({"name": "another team already has this name"})
    team = Team(name=name, description=(description or "").strip())
    db.session.add(team)
    db.session.flush()
    audit.record(actor, "team.create", f"team:{team.id}", name=name)
    return team


def set_teams(user, teams, *, actor):
    """Make `teams` exactly the user's teams, keeping lead flags where membership stays."""
    wanted = {team.id for team in teams}
    for membership in list(user.memberships):
        if membership.team_id not in wanted:
            set_membership(membership.team, user, actor=actor, member=False)
    for team in teams:
        if not user.is_member_of(team):
            set_membership(team, user, actor=actor)


def set_membership(team, user, *, actor, member=True, is_lead=False):
    """Add, update or remove a user's membership of a team."""
    membership = db.session.get(Membership, (user.id, team.id))
    if not member:
        if membership is not None:
            db.session.delete(membership)
            audit.record(actor, "team.remove_member", f"team:{team.id}", user=user.email)
    elif membership is None:
        membership = Membership(user=user, team=team, is_lead=is_lead)
        db.session.add(membership)
        audit.record(actor, "team.add_member", f"team:{team.id}", user=user.email, lead=is_lead)
    elif membership.is_lead != is_lead:
        membership.is_lead = is_lead
        audit.record(actor, "team.set_lead", f"team:{team.id}", user=user.email, lead=is_lead)
    db.session.flush()
    return membership

"""A cohort of hires from a CSV file: parsed and checked whole, then applied in a few bulk statements.

The file is a spreadsheet export: `email` (required), `name`, `role`, `expires` (YYYY-MM-DD) columns in any
case and order, comma- or semicolon-separated, with or without a UTF-8 BOM, any line endings. Checking is
all or nothing: every bad line is reported with its number, and if there is one, nothing is written.

Applying (`apply`, shared by `kb users import` and /cohorts/import) matches people by e-mail key
(kb.accounts.emails), so a hire listed again, in another case or Unicode form, is the same account:

- a new address becomes an account with the row's (or the import's) role, no usable password, and a
  one-time set-password link;
- an existing account joins the team and is never duplicated; it keeps its role (an import never raises
  or lowers anyone: an admin listed by mistake stays an admin, an agent is promoted on the admin pages);
- an account that ended (deactivated, or past its last day) is a rehire: it works again, with the new end
  date, a new set-password link, and its history (what it read, answered, verified) as it was;
- an import never gives an end date to an account that has none, so a permanent colleague listed by
  mistake keeps working after the season.
"""
import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from sqlalchemy import select

from kb import audit
from kb.accounts import links
from kb.accounts.emails import clean_email, email_key
from kb.accounts.operations import UNUSABLE_PASSWORD, email_problem, name_problem
from kb.dates import local_day, utcnow
from kb.extensions import db
from kb.models import ROLES, AuditEvent, Membership, User, UserImport
from kb.validation import Invalid

COLUMNS = ("email", "name", "role", "expires")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CHUNK = 500  # addresses per SELECT: far below every backend's parameter limit


class CohortRefused(Invalid):
    """The file was refused; `problems` lists (line number or None for the whole file, reason). Nothing
    was written."""

    def __init__(self, problems):
        self.problems = problems
        super().__init__({(f"line {line}" if line else "file"): reason for line, reason in problems})

    def lines(self):
        """Each problem as one line of text: "line 4: ..." or the file's own problem."""
        return [f"line {line}: {reason}" if line else reason for line, reason in self.problems]


@dataclass(frozen=True)
class Row:
    line: int
    email: str
    key: str
    name: str
    role: str | None  # None: the import's
    expires_on: date | None  # None: the import's


@dataclass
class Result:
    """What an import did, for the summary page, the command's output and the audit trail."""

    user_import: UserImport
    created: list = field(default_factory=list)  # new accounts
    updated: list = field(default_factory=list)  # existing accounts changed (team, end date, rehired)
    unchanged: list = field(default_factory=list)
    rehired: list = field(default_factory=list)  # ended accounts that work again (also in `updated`)
    kept_role: list = field(default_factory=list)  # existing accounts whose role differs from the asked one
    links: list = field(default_factory=list)  # kb.accounts.links.Issued, one per account needing a password

    def summary(self):
        text = (f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged; "
                f"{len(self.links)} set-password link(s)")
        if self.rehired:
            text += f"; {len(self.rehired)} ended account(s) reactivated"
        if self.kept_role:
            text += f"; {len(self.kept_role)} existing account(s) kept their role"
        return text


# -- Reading the file ---------------------------------------------------------------------------------

def _decode(data):
    limit = current_app.config["COHORT_MAX_BYTES"]
    if len(data) > limit:
        raise CohortRefused([(None, f"The file is {len(data) / 1e6:.1f} MB; a cohort file may be at most "
                                    f"{limit / 1e6:.0f} MB (split it into several imports).")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise CohortRefused([(line, "the file is not UTF-8 text: save it from your spreadsheet as "
                                    "\"CSV UTF-8\" and import it again")]) from None


def _delimiter(first_line):
    return ";" if first_line.count(";") > first_line.count(",") else ","


def _has_control(text):
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def parse(data, *, allowed_roles=ROLES, now=None):
    """The rows of a cohort file (bytes), checked whole. Raises CohortRefused listing every bad line."""
    text = _decode(data)
    first = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(first), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CohortRefused([(1, f"the header is not valid CSV ({exc})")]) from None
    names = [h.strip().lower() for h in header or []]
    _check_header(names)
    today, max_rows = local_day(now), current_app.config["COHORT_MAX_ROWS"]
    rows, problems, seen = [], [], {}
    line = reader.line_num
    while True:
        start = line + 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            problems.append((start, f"is not valid CSV ({exc})"))
            break  # the reader cannot resynchronise after a broken quote
        line = reader.line_num
        if cells is None:
            break
        if not any(c.strip() for c in cells):
            continue  # blank lines (a spreadsheet's trailing ones)
        if len(rows) + len(problems) >= max_rows:
            raise CohortRefused([(None, f"The file has more than {max_rows:,} people; split it into several "
                                        "imports.")])
        row, reasons = _row(start, names, cells, allowed_roles, today, seen)
        if reasons:
            problems.append((start, "; ".join(reasons)))
        else:
            rows.append(row)
    if problems:
        raise CohortRefused(problems)
    if not rows:
        raise CohortRefused([(None, "The file lists nobody: it needs a header line (email,name,…) and one "
                                    "line per person.")])
    return rows


def _check_header(names):
    if not names or names == [""]:
        raise CohortRefused([(1, "the file is empty; the first line must name the columns: "
                                 + ", ".join(COLUMNS))])
    unknown = [n for n in names if n not in COLUMNS]
    if unknown:
        raise CohortRefused([(1, f"unknown column {unknown[0]!r} (the columns are {', '.join(COLUMNS)}; "
                                 "remove the others)")])
    doubled = [n for n in COLUMNS if names.count(n) > 1]
    if doubled:
        raise CohortRefused([(1, f"the column {doubled[0]!r} appears twice")])
    if "email" not in names:
        raise CohortRefused([(1, "the first line must name the columns, with at least an \"email\" column "
                                 f"(the columns are {', '.join(COLUMNS)})")])


def _row(line, names, cells, allowed_roles, today, seen):
    """(Row or None, reasons) for one line; `seen` maps e-mail keys to the line that had them first."""
    reasons = []
    if len(cells) > len(names):
        return None, [f"has {len(cells)} cells but the header names {len(names)} columns"]
    values = dict(zip(names, (c.strip() for c in cells), strict=False))
    raw_email, name = values.get("email", ""), values.get("name", "")
    if _has_control(raw_email):
        reasons.append("the e-mail address contains control characters")
    email = clean_email(raw_email)
    key = email_key(email)
    if not raw_email:
        reasons.append("the e-mail address is missing")
    elif email_problem(email):
        reasons.append(f"{raw_email!r} {email_problem(email)}")  # a look-alike says which letter to retype
    elif key in seen:
        reasons.append(f"{raw_email} is a duplicate of line {seen[key]}")
    else:
        seen[key] = line
    name = name or email.partition("@")[0]
    problem = name_problem(name)
    if problem and email:
        reasons.append(f"the name {problem}")
    role = values.get("role", "").lower() or None
    if role is not None and role not in allowed_roles:
        reasons.append(f"unknown role {values['role']!r} (use {', '.join(allowed_roles)})"
                       if role not in ROLES else f"you cannot give the role {role} (use {', '.join(allowed_roles)})")
    expires_on = None
    if values.get("expires"):
        expires_on, problem = parse_expiry(values["expires"], today)
        if problem:
            reasons.append(problem)
    if reasons:
        return None, reasons
    return Row(line, email, key, " ".join(name.split()), role, expires_on), []


def parse_expiry(text, today):
    """(date, None) or (None, reason) for a last working day written YYYY-MM-DD, today or later."""
    try:
        if not ISO_DATE.match(text):
            raise ValueError
        day = date.fromisoformat(text)
    except ValueError:
        return None, f"the expiry {text!r} is not a date written YYYY-MM-DD"
    if day < today:
        return None, f"the expiry {text} is in the past"
    return day, None


# -- Applying it --------------------------------------------------------------------------------------

def existing_by_key(keys):
    """{e-mail key: User} for the keys that are already accounts, a few hundred per query."""
    keys, found = list(keys), {}
    for start in range(0, len(keys), CHUNK):
        found.update((u.email_key, u) for u in db.session.scalars(
            select(User).where(User.email_key.in_(keys[start:start + CHUNK]))))
    return found


def apply(rows, team, expires_on, role, actor, now=None):
    """Create or update the accounts of checked `rows` in `team`; returns a Result. Flushes once for the
    whole cohort; the caller commits (or rolls back, for a dry run).

    :param expires_on: last working day of rows that give none (None: no end, for new accounts).
    :param role: role of new accounts whose row gives none.
    """
    now = now or utcnow()
    if role not in ROLES:
        raise Invalid({"role": f"must be one of {', '.join(ROLES)}"})
    existing = existing_by_key(r.key for r in rows)
    members = {}
    ids = [u.id for u in existing.values()]
    for start in range(0, len(ids), CHUNK):
        members.update((m.user_id, m) for m in db.session.scalars(select(Membership).where(
            Membership.team_id == team.id, Membership.user_id.in_(ids[start:start + CHUNK]))))
    record = UserImport(created_by_id=getattr(actor, "id", None), created_at=now, team_id=team.id)
    result = Result(record)
    new_users, new_members = [], []
    for row in rows:
        ends = row.expires_on or expires_on
        user = existing.get(row.key)
        if user is None:
            user = User(email=row.email, name=row.name, role=row.role or role, expires_on=ends,
                        password_hash=UNUSABLE_PASSWORD, created_at=now)
            new_users.append(user)
            new_members.append(Membership(user=user, team_id=team.id, joined_at=now))
            result.created.append(user)
            continue
        _update(user, row, team, ends, role, members.get(user.id), new_members, result, now)
    db.session.add_all(new_users + new_members)
    db.session.flush()
    # A link for each new account, each rehire, and each account whose earlier link went unused.
    rehired = {u.id for u in result.rehired}
    needing = {u.id: u for u in result.updated + result.unchanged
               if u.id in rehired or u.password_hash == UNUSABLE_PASSWORD}
    result.links = links.issue_many(result.created + list(needing.values()), now=now)
    record.created_count, record.updated_count = len(result.created), len(result.updated)
    db.session.add(record)
    db.session.flush()
    _audit(result, actor, team, now)
    return result


def _update(user, row, team, ends, role, membership, new_members, result, now):
    """An existing account in the cohort: it joins the team, takes the new end date, works again."""
    ended = not user.is_active_at(now)
    changed = False
    if membership is None:
        new_members.append(Membership(user=user, team_id=team.id, joined_at=now))
        changed = True
    elif ended:
        membership.joined_at = now  # a rehire's path is due from this season, not the last
    if ended and user.expires_on != ends:
        user.expires_on = ends  # a rehire works until this season's end (or for good, if it has none)
        changed = True
    elif not ended and ends is not None and user.expires_on is not None and user.expires_on != ends:
        user.expires_on = ends  # never on an account without an end: a permanent colleague keeps working
        changed = True
    if not user.active:
        user.active = True
        changed = True
    if ended:
        result.rehired.append(user)
        changed = True
    if (row.role or role) != user.role:
        result.kept_role.append(user)
    (result.updated if changed else result.unchanged).append(user)


def _audit(result, actor, team, now):
    """One event for the import, one per account it created or changed (bulk: a cohort is thousands)."""
    actor_id = getattr(actor, "id", None)
    events = [{"actor_id": actor_id, "action": "user.create", "subject": f"user:{u.id}", "created_at": now,
               "detail_json": json.dumps({"email": u.email, "role": u.role, "teams": [team.name],
                                          "expires_on": u.expires_on, "import": result.user_import.id},
                                         default=str, sort_keys=True)} for u in result.created]
    rehired = {u.id for u in result.rehired}
    events += [{"actor_id": actor_id, "action": "user.import_update", "subject": f"user:{u.id}", "created_at": now,
                "detail_json": json.dumps({"email": u.email, "team": team.name, "expires_on": u.expires_on,
                                           "rehired": u.id in rehired, "import": result.user_import.id},
                                          default=str, sort_keys=True)} for u in result.updated]
    if events:
        db.session.execute(AuditEvent.__table__.insert(), events)
    audit.record(actor, "cohort.import", f"import:{result.user_import.id}", team=team.name,
                 created=len(result.created), updated=len(result.updated), unchanged=len(result.unchanged),
                 rehired=len(result.rehired), links=len(result.links))


def hand_out(result):
    """After the import is committed: e-mail the links when mail is configured; keep the rest (all of them
    without mail, or those the server refused) in the import's links CSV, for its lead to download once.
    Returns (mailed, kept). Commits."""
    pending = result.links
    if pending and links.mail_configured():
        pending = links.send(pending, result.user_import.team.name if result.user_import.team else None)
    result.user_import.links_csv = links.to_csv(pending) if pending else None
    db.session.commit()
    return len(result.links) - len(pending), len(pending)


def download_links(user_import, actor, now=None):
    """The import's links CSV, once: it is erased as it is handed over. Raises Invalid if it is gone."""
    if user_import.links_csv is None:
        if user_import.downloaded_at is not None:
            raise Invalid({"links": "were already downloaded (links are handed out once); a new import of the "
                                    "same file issues new links to those who have not chosen a password"})
        raise Invalid({"links": "there is no list to download: the links were e-mailed"})
    text = user_import.links_csv
    user_import.links_csv, user_import.downloaded_at = None, now or utcnow()
    audit.record(actor, "cohort.download_links", f"import:{user_import.id}")
    return text

"""Import and export of cards as JSON Lines, one card a line. All or nothing.

The format: title, answer, internal_notes, tags, collection, public, owner_email, verifier_team,
verify_interval_days, verified_at, verified_by_email, archived, external_id, link_key. Required: title,
answer, collection and owner_email. `external_id` is any id another tool exports (a URL, "zendesk:360001234"),
kept exactly; `link_key` (written by export) keeps the card's /cards/by-key/ links, and is derived from the
external id when absent. `verifier_team` defaults to the collection's team; a collection the import creates
takes the first team its lines name, so at least one of them must name it. On a card that exists, an absent
`verifier_team` leaves its team as it is. Export adds `verified` (the verified revision's title, answer,
internal_notes and tags) when the card was edited since its verification, and `verified_revision_at` when
the verified wording is older than the last verification (a re-verification of unchanged text), so that a
round trip keeps a card's status exactly.
"""
import json
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from kb import text
from kb.cards import operations
from kb.dates import parse_iso, utcnow
from kb.extensions import db
from kb.models import Card, Collection, Team, User

FIELDS = ("external_id", "link_key", "title", "answer", "internal_notes", "tags", "collection", "public",
          "owner_email", "verifier_team", "verify_interval_days", "verified_at", "verified_by_email", "archived",
          "verified", "verified_revision_at")
REQUIRED = ("title", "answer", "collection", "owner_email")


class ImportFailed(Exception):
    """The file was refused; `errors` lists (line number, message), and nothing was written."""

    def __init__(self, errors):
        super().__init__(f"{len(errors)} error(s); nothing was imported")
        self.errors = errors


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    verified: int = 0
    collections_created: list = field(default_factory=list)

    def summary(self):
        text = (f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.verified} verification(s) recorded")
        if self.collections_created:
            text += f"; new collections: {', '.join(self.collections_created)}"
        return text


def _bool(row, name, errors, default=None):
    value = row.get(name, default)
    if value is not None and not isinstance(value, bool):
        errors.append(f"{name} must be true or false")
        return default
    return value


def _instant(row, name, errors):
    """An optional ISO 8601 field as an aware UTC datetime, or None; a bad value adds an error."""
    if row.get(name) in (None, ""):
        return None
    try:
        return parse_iso(row[name])
    except ValueError as exc:
        errors.append(f"{name}: {exc}")
        return None


def _field(clean_value, row, name, errors):
    """An optional field through an operations check; its error is reported under the field's name."""
    if row.get(name) is None:
        return None
    try:
        return clean_value(row[name])
    except operations.InvalidCard as exc:
        errors.append(f"{name} {exc.errors[name]}")
        return None


def _validate(row, users, teams, seen_ids):
    """Check one parsed line; returns (clean dict, list of error messages)."""
    errors = []
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        errors.append(f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(FIELDS)})")
    missing = [name for name in REQUIRED if row.get(name) in (None, "")]
    if missing:
        errors.append(f"missing {', '.join(missing)}")
    clean = {}
    if not isinstance(row.get("tags", []), list):
        errors.append("tags must be a list of strings")
    try:
        clean.update(operations.clean_content(row.get("title"), row.get("answer"), row.get("internal_notes", ""),
                                              row.get("tags", [])))
    except operations.InvalidCard as exc:
        errors += [f"{k} {v}" for k, v in exc.errors.items() if k not in missing]
    ext = _field(operations.clean_external_id, row, "external_id", errors)
    if ext in seen_ids:
        errors.append(f"external_id {ext!r} already appears on line {seen_ids[ext]}")
    clean["external_id"] = ext
    clean["link_key"] = _field(operations.clean_link_key, row, "link_key", errors)
    clean["link_key_given"] = clean["link_key"] is not None
    if clean["link_key"] is not None and row.get("external_id") is None:
        errors.append("link_key needs the external_id it belongs to")
    if clean["link_key"] is None and ext is not None:
        clean["link_key"] = operations.link_key_for(ext)
    coll = row.get("collection")
    if coll is not None and (not isinstance(coll, str) or not coll.strip() or len(coll) > 120):
        errors.append("collection must be a name of 1-120 characters")
    clean["collection"] = coll.strip() if isinstance(coll, str) else coll
    owner_email = row.get("owner_email")
    clean["owner"] = users.get(owner_email.strip().lower()) if isinstance(owner_email, str) else None
    if owner_email and clean["owner"] is None:
        errors.append(f"unknown owner {owner_email!r} (create the account first)")
    team_name = row.get("verifier_team")
    clean["team"] = teams.get(team_name.strip().lower()) if isinstance(team_name, str) else None
    clean["team_named"] = team_name not in (None, "")
    if clean["team_named"] and clean["team"] is None:
        errors.append(f"unknown verifier_team {team_name!r}")
    interval = row.get("verify_interval_days")
    if interval is not None:
        try:
            operations.clean_interval(interval)
        except operations.InvalidCard as exc:
            errors.append(f"verify_interval_days {exc.errors['interval_days']}")
    clean["interval_days"] = interval
    clean["public"] = _bool(row, "public", errors)
    clean["archived"] = _bool(row, "archived", errors, False)
    clean["verified_by"] = None
    clean["verified_at"] = _instant(row, "verified_at", errors)
    if clean["verified_at"] is not None and clean["verified_at"] > utcnow():
        errors.append("verified_at is in the future")
    if row.get("verified_at") not in (None, ""):
        by = row.get("verified_by_email")
        if by:
            clean["verified_by"] = users.get(by.strip().lower()) if isinstance(by, str) else None
            if clean["verified_by"] is None:
                errors.append(f"unknown verified_by_email {by!r}")
        else:
            clean["verified_by"] = clean["owner"]
    elif row.get("verified_by_email"):
        errors.append("verified_by_email given without verified_at")
    clean["verified_revision_at"] = _instant(row, "verified_revision_at", errors)
    if clean["verified_revision_at"] is not None and (
            clean["verified_at"] is None or clean["verified_revision_at"] > clean["verified_at"]):
        errors.append("verified_revision_at must come with verified_at and not be later than it")
    clean["verified"] = None
    if row.get("verified") is not None:
        old = row["verified"]
        if not isinstance(old, dict) or clean["verified_at"] is None:
            errors.append("verified must be an object with the verified title and answer, next to verified_at")
        else:
            try:
                clean["verified"] = operations.clean_content(old.get("title"), old.get("answer"),
                                                             old.get("internal_notes", ""), old.get("tags", []))
            except operations.InvalidCard as exc:
                errors += [f"verified.{k} {v}" for k, v in exc.errors.items()]
    return clean, errors


def _default_teams(rows):
    """Give each line its verifier team and its collection's: an existing collection's team, else (for a
    collection this import creates) the first team its lines name. Returns the errors of lines with neither."""
    teams = {c.name.lower(): c.team for c in db.session.scalars(select(Collection).options(
        selectinload(Collection.team)))}
    for _, clean in rows:
        if clean["team"] is not None and isinstance(clean["collection"], str):
            teams.setdefault(clean["collection"].lower(), clean["team"])
    errors = []
    for number, clean in rows:
        if not isinstance(clean["collection"], str) or not clean["collection"]:
            continue  # already reported
        clean["collection_team"] = teams.get(clean["collection"].lower())
        clean["verifier_team"] = clean["team"] or clean["collection_team"]
        if clean["collection_team"] is None and not clean["team_named"]:
            errors.append((number, f"missing verifier_team: the collection {clean['collection']!r} is new, so it "
                                   "has no team to default to (name verifier_team on at least one of its lines)"))
    return errors


def _link_key_errors(rows):
    """Two cards may not share a link key: not two lines of the file, nor a new card and a card of the
    database (an IntegrityError half-way through the import otherwise). A card that exists keeps its key."""
    lines = [(number, clean) for number, clean in rows if clean["link_key"] is not None]
    keys, ids = [clean["link_key"] for _, clean in lines], [clean["external_id"] for _, clean in lines]
    holder = {}  # link key -> external id, of the cards these lines name or whose keys they want
    for chunk in range(0, len(lines), 500):
        holder.update(db.session.execute(select(Card.link_key, Card.external_id).where(or_(
            Card.link_key.in_(keys[chunk:chunk + 500]), Card.external_id.in_(ids[chunk:chunk + 500])))).all())
    key_of = {ext: key for key, ext in holder.items()}
    errors, seen = [], {}
    for number, clean in lines:
        key, ext = clean["link_key"], clean["external_id"]
        if ext in key_of:
            if clean["link_key_given"] and key != key_of[ext]:
                errors.append((number, f"link_key {key!r} differs from the card's {key_of[ext]!r}, which links "
                                       "to it use (a link key never changes)"))
            key = key_of[ext]
        elif key in holder:
            errors.append((number, f"link_key {key!r} is already the key of the card {holder[key]!r}"))
        if key in seen and seen[key][1] != ext:
            errors.append((number, f"link_key {key!r} is also the key of line {seen[key][0]}"))
        seen.setdefault(key, (number, ext))
    return errors


def _with_defaults(row, defaults, existing_collections):
    """Fill what another tool's export cannot know (our owners, teams, collections) from the command's
    defaults: a line's own value always wins; the team only for collections the import creates."""
    for name in ("owner_email", "collection"):
        if defaults.get(name) and row.get(name) in (None, ""):
            row[name] = defaults[name]
    collection = row.get("collection")
    if defaults.get("verifier_team") and row.get("verifier_team") in (None, "") and isinstance(collection, str) \
            and collection.strip().lower() not in existing_collections:
        row["verifier_team"] = defaults["verifier_team"]
    return row


def parse(lines, defaults=None):
    """Parse and validate every line against the database; raises ImportFailed listing every error.
    `defaults`: owner_email, collection and verifier_team for lines that have none (see `_with_defaults`)."""
    users = {u.email.lower(): u for u in db.session.scalars(select(User))}
    teams = {t.name.lower(): t for t in db.session.scalars(select(Team))}
    existing = {name.lower() for name in db.session.scalars(select(Collection.name))}
    rows, errors, seen_ids = [], [], {}
    for number, line in enumerate(lines, start=1):
        if number == 1:
            line = line.removeprefix("\ufeff")  # the byte order mark some editors and tools write
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append((number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        except RecursionError:
            errors.append((number, f"nested more than {text.MAX_DEPTH} levels deep"))
            continue
        if not isinstance(row, dict):
            errors.append((number, "each line must be a JSON object"))
            continue
        refused = text.value_problem(row)
        if refused:  # PostgreSQL cannot store a NUL, nor SQLite a lone surrogate
            errors.append((number, " ".join(refused)))
            continue
        row = _with_defaults(row, defaults or {}, existing)
        clean, line_errors = _validate(row, users, teams, seen_ids)
        errors += [(number, message) for message in line_errors]
        if clean.get("external_id"):
            seen_ids.setdefault(clean["external_id"], number)
        rows.append((number, clean))
    errors += _default_teams(rows) + _link_key_errors(rows)
    if errors:
        raise ImportFailed(sorted(errors, key=lambda error: error[0]))
    if not rows:
        raise ImportFailed([(0, "the file has no cards")])
    return rows


def _collection(name, team, cache, report, actor):
    key = name.lower()
    if key not in cache:
        collection = operations.create_collection(name=name, team=team, actor=actor, slug=_free_slug(name))
        cache[key] = collection
        report.collections_created.append(name)
    return cache[key]


def _free_slug(name):
    """The slug of a new collection's name, numbered if another collection has it (and still not too long)."""
    candidate, n = operations.slugify(name), 2
    while db.session.scalar(select(Collection.id).filter_by(slug=candidate)) is not None:
        suffix = f"-{n}"
        candidate = operations.slugify(name, max_chars=operations.COLLECTION_SLUG_MAX_CHARS - len(suffix)) + suffix
        n += 1
    return candidate


def apply(rows, actor=None):
    """Write validated rows in the current transaction (the caller commits or rolls back)."""
    report = ImportReport()
    collections = {c.name.lower(): c for c in db.session.scalars(select(Collection))}
    wanted = [clean["external_id"] for _, clean in rows if clean["external_id"]]
    existing = {}
    for chunk in range(0, len(wanted), 500):
        for card in db.session.scalars(
            select(Card).where(Card.external_id.in_(wanted[chunk:chunk + 500])).options(selectinload(Card.tags))
        ):
            existing[card.external_id] = card
    now = utcnow()
    pending = []  # verifications and archive flags, applied once the cards have ids
    created = set()  # new cards cannot have flags to resolve
    for index, (number, clean) in enumerate(rows, start=1):
        collection = _collection(clean["collection"], clean["collection_team"], collections, report, actor)
        card = existing.get(clean["external_id"])
        author = actor or clean["owner"]
        content = {k: clean[k] for k in ("title", "answer", "internal_notes", "tags")}
        if card is None:
            try:
                card = operations.create_card(
                    collection=collection, owner=clean["owner"], verifier_team=clean["verifier_team"], author=author,
                    interval_days=clean["interval_days"], is_public=clean["public"],
                    external_id=clean["external_id"], link_key=clean["link_key"], summary="Imported",
                    now=clean["verified_at"] or now, **(clean["verified"] or content),
                )
            except operations.InvalidCard as exc:  # parse checked the file: a generated id met another one
                raise ImportFailed([(number, f"{k} {v}") for k, v in exc.errors.items()]) from None
            report.created += 1
            created.add(id(card))
            if clean["verified"] is not None:
                # Recreate "edited since verification": verify the old text, then apply the current one.
                operations.verify_card(card, clean["verified_by"], note="Imported verification",
                                       at=clean["verified_at"], has_flags=False)
                card.verified_revision_at = clean["verified_revision_at"] or clean["verified_at"]
                report.verified += 1
                operations.edit_card(card, author=author, summary="Imported (edited since verification)",
                                     now=now, quiet=True, **content)
        else:
            meta = {"collection": collection, "owner": clean["owner"]}
            if clean["team_named"]:
                meta["verifier_team"] = clean["team"]
            if clean["interval_days"] is not None:
                meta["interval_days"] = clean["interval_days"]
            if clean["public"] is not None:
                meta["is_public"] = clean["public"]
            before = (card.revision_number, card.updated_at)
            operations.edit_card(card, author=author, summary="Imported", now=now, quiet=True,
                                 by_operator=actor is None, **content, **meta)
            changed = (card.revision_number, card.updated_at) != before or card.is_archived != clean["archived"]
            report.updated += changed
            report.unchanged += not changed
        pending.append((card, clean))
        if index % 500 == 0:
            db.session.flush()
    db.session.flush()
    # Links by key to cards that came later in the file resolve now that every card exists.
    for card, _ in pending:
        if "/cards/" in card.answer or "/cards/" in card.internal_notes:
            operations.sync_links(card)
    for card, clean in pending:
        # Only a verification newer than the recorded one verifies the current revision: re-importing
        # changed content with old (or no) verification fields never silently verifies it.
        if clean["verified_at"] and (card.verified_at is None or clean["verified_at"] > card.verified_at):
            operations.verify_card(card, clean["verified_by"], note="Imported verification", at=clean["verified_at"],
                                   has_flags=id(card) not in created)
            report.verified += 1
            if clean["verified_revision_at"]:
                card.verified_revision_at = clean["verified_revision_at"]
        if card.is_archived != clean["archived"]:
            operations.set_archived(card, actor, clean["archived"], now=now)
    db.session.flush()
    return report


def import_lines(lines, actor=None, dry_run=False, defaults=None):
    """Validate then import, all or nothing. Returns an ImportReport; raises ImportFailed."""
    rows = parse(lines, defaults)
    try:
        report = apply(rows, actor)
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
    except StaleDataError:
        db.session.rollback()
        raise ImportFailed([(0, "a card of the file was changed by someone else during the import, so nothing was "
                                "imported: run the import again")]) from None
    except Exception:
        db.session.rollback()
        raise
    return report


def export_rows():
    """Every card, archived included, in the import format, in a stable order."""
    cards = db.session.scalars(
        select(Card).order_by(Card.id).options(selectinload(Card.tags), selectinload(Card.collection),
                                              selectinload(Card.owner), selectinload(Card.verifier_team),
                                              selectinload(Card.verified_by))
    )
    for card in cards:
        row = {
            "external_id": card.external_id,
            "link_key": card.link_key,
            "title": card.title,
            "answer": card.answer,
            "internal_notes": card.internal_notes,
            "tags": card.tag_names,
            "collection": card.collection.name,
            "public": card.is_public,
            "owner_email": card.owner.email,
            "verifier_team": card.verifier_team.name,
            "verify_interval_days": card.interval_days,
            "verified_at": card.verified_at.isoformat().replace("+00:00", "Z") if card.verified_at else None,
            "verified_by_email": card.verified_by.email if card.verified_by else None,
            "archived": card.is_archived,
        }
        if card.verified_revision_at and card.verified_revision_at != card.verified_at:
            row["verified_revision_at"] = card.verified_revision_at.isoformat().replace("+00:00", "Z")
        if card.verified_revision_number and card.verified_revision_number != card.revision_number:
            old = operations.get_revision(card, card.verified_revision_number)
            row["verified"] = {"title": old.title, "answer": old.answer, "internal_notes": old.internal_notes,
                               "tags": old.tags}
        yield row


def export_lines():
    for row in export_rows():
        yield json.dumps(row, ensure_ascii=False) + "\n"

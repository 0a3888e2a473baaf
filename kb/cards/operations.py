"""Every write to cards and collections. Pages, the API, import and the CLI all come through here.

Operations validate and change the session; the caller commits once (or rolls back). They flush only
when they need an id, so that a bulk import can batch thousands of cards into few round trips.
"""
import hashlib
import json
import re
import secrets
import unicodedata

from flask import current_app
from slugify import slugify as _slugify
from sqlalchemy import delete, or_, select

from kb import audit
from kb.accounts import permissions
from kb.dates import utcnow
from kb.extensions import db
from kb.markup import TooComplex, check_complexity, linked_cards, render
from kb.models import Card, CardLink, CardTag, Collection, Revision, Verification
from kb.text import clean_line
from kb.validation import Invalid
from kb.verification.flags import resolve_open_flags
from kb.verification.notify import notify, verifiers_of

CONTENT_FIELDS = ("title", "answer", "internal_notes", "tags")
META_FIELDS = ("collection", "owner", "verifier_team", "interval_days", "is_public")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
COLLECTION_SLUG_MAX_CHARS = Collection.__table__.c.slug.type.length
EXTERNAL_ID_MAX_CHARS = Card.__table__.c.external_id.type.length
# What a /cards/by-key/<key> link may carry (kb.markup.CARD_LINK, kb.channels.faq.CARD_HREF).
LINK_KEY_MAX_CHARS = Card.__table__.c.link_key.type.length
LINK_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,%d}$" % LINK_KEY_MAX_CHARS)
LINK_KEY_HASH_CHARS = 10  # 40 bits of the id's SHA-256: two ids with the same slug never meet in practice
# Never in an id: controls (C0, DEL, C1: NUL, tab, newline), invisible format characters (zero-width
# spaces and joiners, bidi overrides and isolates, BOM, soft hyphen), line and paragraph separators, and
# lone surrogates (which no database can store).
REFUSED_IN_IDS = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


class InvalidCard(Invalid):
    """A card or collection was refused."""


def _limit(name):
    return current_app.config[name]


def clean_tags(tags):
    """Tags from a list or a comma-separated string: trimmed, lower-case, unique, sorted."""
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, (list, tuple)) or not all(isinstance(t, str) for t in tags):
        raise InvalidCard({"tags": "must be a list of words"})
    cleaned = sorted({" ".join(t.split()).lower() for t in tags if t.strip()})
    too_long = [t for t in cleaned if len(t) > _limit("TAG_MAX_CHARS")]
    if too_long:
        raise InvalidCard({"tags": f"tag {too_long[0][:20]!r}… is longer than {_limit('TAG_MAX_CHARS')} characters"})
    if len(cleaned) > _limit("TAGS_MAX"):
        raise InvalidCard({"tags": f"at most {_limit('TAGS_MAX')} tags"})
    return cleaned


def clean_interval(days):
    """A verification interval in whole days, within limits."""
    if isinstance(days, bool) or not isinstance(days, int):
        raise InvalidCard({"interval_days": "must be a whole number of days"})
    if not 1 <= days <= _limit("INTERVAL_MAX_DAYS"):
        raise InvalidCard({"interval_days": f"must be between 1 and {_limit('INTERVAL_MAX_DAYS')} days"})
    return days


def _check_complexity(errors, field, text):
    """The cheap half of the render budget, so that every error of a form or an import line shows at once."""
    try:
        check_complexity(text, "answer" if field == "answer" else "text")
    except TooComplex as exc:
        errors[field] = str(exc)


def clean_content(title, answer, internal_notes="", tags=()):
    """Validate a card's content; returns the normalised fields or raises InvalidCard with every error."""
    errors = {}
    title = clean_line(title) if isinstance(title, str) else None
    if not title:
        errors["title"] = "is required"
    elif len(title) > _limit("TITLE_MAX_CHARS"):
        errors["title"] = f"is longer than {_limit('TITLE_MAX_CHARS')} characters"
    if not isinstance(answer, str) or not answer.strip():
        errors["answer"] = "is required"
    elif len(answer) > _limit("ANSWER_MAX_CHARS"):
        errors["answer"] = f"is longer than {_limit('ANSWER_MAX_CHARS')} characters"
    else:
        _check_complexity(errors, "answer", answer)
    if internal_notes is None:
        internal_notes = ""
    if not isinstance(internal_notes, str):
        errors["internal_notes"] = "must be text"
    elif len(internal_notes) > _limit("NOTES_MAX_CHARS"):
        errors["internal_notes"] = f"is longer than {_limit('NOTES_MAX_CHARS')} characters"
    else:
        _check_complexity(errors, "internal_notes", internal_notes)
    try:
        tags = clean_tags(tags)
    except InvalidCard as exc:
        errors.update(exc.errors)
    if errors:
        raise InvalidCard(errors)
    # Normalise line endings so that browsers (CRLF) and files (LF) give identical revisions.
    return {
        "title": title,
        "answer": answer.replace("\r\n", "\n").strip("\n"),
        "internal_notes": internal_notes.replace("\r\n", "\n").strip("\n"),
        "tags": tags,
    }


def new_external_id():
    """An id for a card that came without one; URL-safe, so it is its own link key."""
    return "kb-" + secrets.token_hex(6)


def _character(char):
    return f"U+{ord(char):04X} {unicodedata.name(char, '(a control character)')}"


def clean_external_id(value):
    """Another system's id, kept exactly as given (it is an identity, so it is refused rather than trimmed)."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidCard({"external_id": "must be text, not blank"})
    if len(value) > EXTERNAL_ID_MAX_CHARS:
        raise InvalidCard({"external_id": f"is longer than {EXTERNAL_ID_MAX_CHARS} characters"})
    if value != value.strip():
        raise InvalidCard({"external_id": "must not start or end with white space"})
    for position, char in enumerate(value, start=1):
        if unicodedata.category(char) in REFUSED_IN_IDS:
            raise InvalidCard({"external_id": f"contains {_character(char)} at character {position} "
                                              "(control and invisible characters are refused)"})
    return value


def clean_link_key(value):
    """A link key given with a card (an export writes it), as strict as the links that carry it."""
    if not isinstance(value, str) or not LINK_KEY.match(value):
        raise InvalidCard({"link_key": f"must be 1-{LINK_KEY_MAX_CHARS} letters, digits, '.', '_', ':' or '-'"})
    return value


def link_key_for(external_id):
    """The key of /cards/by-key/ links: the id itself when it is URL-safe (so older links keep working),
    else a readable slug of it and a hash of the whole id, the same in every database so links survive a move."""
    if LINK_KEY.match(external_id):
        return external_id
    digest = hashlib.sha256(external_id.encode("utf-8")).hexdigest()[:LINK_KEY_HASH_CHARS]
    return f"{slugify(external_id, fallback='card', max_chars=60)}-{digest}"


def _refuse_taken(external_id, link_key):
    """A clear error rather than the database's IntegrityError. It reads what is flushed only: an import
    checks its own lines against each other first (kb.cards.transfer)."""
    with db.session.no_autoflush:
        clash = db.session.execute(select(Card.external_id).where(
            or_(Card.external_id == external_id, Card.link_key == link_key)).limit(1)).scalar()
    if clash == external_id:
        raise InvalidCard({"external_id": f"another card already has the external_id {external_id!r}"})
    if clash is not None:
        raise InvalidCard({"link_key": f"{link_key!r} is already the link key of the card {clash!r}"})


def rendered_answer(answer, internal_notes=""):
    """The answer rendered for storing with its revision, once; the notes are rendered as a check only (the
    card page renders them). Raises InvalidCard when either costs more than kb.markup's budget to show."""
    try:
        html = render(answer)
    except TooComplex as exc:
        raise InvalidCard({"answer": str(exc)}) from None
    try:
        render(internal_notes, what="text")
    except TooComplex as exc:
        raise InvalidCard({"internal_notes": str(exc)}) from None
    return str(html)


def check_verifier_team(user, current, new):
    """Refuse a change of verifying team that `user` may not decide (kb.accounts.permissions)."""
    if not permissions.can_set_verifier_team(user, current, new):
        raise InvalidCard({"verifier_team": f"only an admin or a lead of {current.name} or {new.name} may make "
                                            f"{new.name} verify this card (it is verified by {current.name})"})


def _snapshot(card, author, summary, now):
    html = rendered_answer(card.answer, card.internal_notes)
    card.revision_number += 1
    card.updated_at = now
    revision = Revision(
        card=card,
        number=card.revision_number,
        title=card.title,
        answer=card.answer,
        answer_html=html,
        internal_notes=card.internal_notes,
        tags_json=json.dumps(card.tag_names),
        summary=(summary or "")[:300],
        author=author,
        created_at=now,
    )
    db.session.add(revision)
    return revision


def sync_links(card):
    """Keep card_links in step with the links in the card's current answer and notes."""
    ids, keys = linked_cards(card.answer + "\n" + card.internal_notes)
    if keys:
        ids |= set(db.session.scalars(select(Card.id).where(Card.link_key.in_(keys))))
    if card.id is None:
        if not ids:
            return
        db.session.flush()
    ids.discard(card.id)
    current = set(db.session.scalars(select(CardLink.target_id).filter_by(card_id=card.id)))
    if ids - current:
        existing = set(db.session.scalars(select(Card.id).where(Card.id.in_(ids - current))))
        db.session.add_all(CardLink(card_id=card.id, target_id=t) for t in sorted(existing))
    if current - ids:
        db.session.execute(delete(CardLink).where(CardLink.card_id == card.id, CardLink.target_id.in_(current - ids)))


def _set_tags(card, tags):
    existing = {t.name: t for t in card.tags}
    card.tags = [existing.get(name) or CardTag(name=name) for name in tags]


def create_card(*, collection, owner, verifier_team, author, title, answer, internal_notes="", tags=(),
                interval_days=None, is_public=None, external_id=None, link_key=None, summary="Created", now=None):
    """Create a card and its first revision. Public and interval default to the collection's; the link key
    is derived from the external id unless given (an import keeps the key the card had)."""
    content = clean_content(title, answer, internal_notes, tags)
    interval = clean_interval(collection.default_interval_days if interval_days is None else interval_days)
    external_id = new_external_id() if external_id is None else clean_external_id(external_id)
    link_key = link_key_for(external_id) if link_key is None else clean_link_key(link_key)
    _refuse_taken(external_id, link_key)
    now = now or utcnow()
    card = Card(
        external_id=external_id,
        link_key=link_key,
        collection=collection,
        owner=owner,
        verifier_team=verifier_team,
        interval_days=interval,
        is_public=collection.is_public if is_public is None else bool(is_public),
        title=content["title"],
        answer=content["answer"],
        internal_notes=content["internal_notes"],
        revision_number=0,
        created_at=now,
        updated_at=now,
    )
    _set_tags(card, content["tags"])
    db.session.add(card)
    _snapshot(card, author, summary, now)
    sync_links(card)
    return card


def edit_card(card, *, author, summary="", now=None, quiet=False, verifying=False, by_operator=False, **changes):
    """Apply changes; a change of content makes a new revision (returned), metadata alone does not.

    The card's verifiers hear of a content edit by someone else, a new owner of the reassignment
    (unless `quiet`, as for bulk imports). `verifying`: the author verifies the edit in the same step, so
    the verifiers are not told it needs verification. A new verifying team needs a lead or an admin
    (`check_verifier_team`), unless `by_operator`: a command run by whoever runs the server, such as an import.
    """
    unknown = set(changes) - set(CONTENT_FIELDS) - set(META_FIELDS)
    if unknown:
        raise TypeError(f"unknown card fields: {sorted(unknown)}")
    new_team = changes.get("verifier_team")
    if new_team is not None and new_team.id != card.verifier_team_id and not by_operator:
        check_verifier_team(author, card.verifier_team, new_team)
    merged = {f: changes.get(f, getattr(card, "tag_names" if f == "tags" else f)) for f in CONTENT_FIELDS}
    content = clean_content(**merged)
    if "interval_days" in changes:
        changes["interval_days"] = clean_interval(changes["interval_days"])
    now = now or utcnow()
    old_owner = card.owner
    for name in META_FIELDS:
        if name in changes and getattr(card, name) != changes[name]:
            setattr(card, name, changes[name])
            card.updated_at = now
    if card.owner is not old_owner and not quiet and card.owner.id != getattr(author, "id", None):
        notify(card.owner, key=f"reassigned:{card.id}:{card.owner.id}:{now.isoformat()}", kind="reassigned",
               card=card, subject=f"You now own “{card.title}”",
               body=f"{author.name} made you the owner of “{card.title}” (previously {old_owner.name}).")
    if all(content[f] == (card.tag_names if f == "tags" else getattr(card, f)) for f in CONTENT_FIELDS):
        return None
    card.title, card.answer, card.internal_notes = content["title"], content["answer"], content["internal_notes"]
    _set_tags(card, content["tags"])
    revision = _snapshot(card, author, summary, now)
    sync_links(card)
    if not quiet and not verifying and card.verified_at is not None:
        for verifier in verifiers_of(card.verifier_team, exclude=author):
            notify(verifier, key=f"edited:{card.id}:{revision.number}", kind="edited", card=card,
                   subject=f"Edited: {card.title}",
                   body=f"{author.name} saved revision {revision.number} of “{card.title}”"
                        + (f": {summary}" if summary else "") + ". It needs verification again.")
    return revision


def get_revision(card, number):
    return db.session.scalar(select(Revision).filter_by(card_id=card.id, number=number))


def restore_revision(card, number, author, now=None):
    """Make an old revision's content current again, as a new revision (history stays intact)."""
    old = get_revision(card, number)
    if old is None:
        raise LookupError(f"card {card.id} has no revision {number}")
    return edit_card(
        card,
        author=author,
        summary=f"Restored revision {number}",
        now=now,
        title=old.title,
        answer=old.answer,
        internal_notes=old.internal_notes,
        tags=old.tags,
    )


def clean_source_url(url):
    url = (url or "").strip()
    if url and not re.match(r"^https?://\S+$", url):
        raise InvalidCard({"source_url": "must be an http(s) link"})
    if len(url) > 500:
        raise InvalidCard({"source_url": "is longer than 500 characters"})
    return url


def verify_card(card, user, note="", source_url="", at=None, has_flags=True, change_kind=None):
    """Record that `user` checked the card's current revision, at `at` (default now); this answers its
    open flags (`has_flags=False` skips looking for them, for cards created in the same import).

    When this changes the served wording, `change_kind` says what it means for people who read the old
    one (kb.onboarding.reading): "material" (the default: sends the card back to them) or "minor"."""
    from kb.onboarding import reading

    if card.is_archived:
        raise InvalidCard({"card": "is archived: restore it from the archive before verifying it"})
    at = at or utcnow()
    if card.id is None:
        db.session.flush()  # the audit trail names the card by id
    verification = Verification(
        card=card,
        revision_number=card.revision_number,
        user=user,
        verified_at=at,
        note=(note or "").strip(),
        source_url=clean_source_url(source_url),
        change_kind=reading.clean_change_kind(change_kind) if reading.wording_changes(card, card.revision_number)
        else None,
    )
    db.session.add(verification)
    if card.verified_revision_number != card.revision_number:
        card.verified_revision_at = at
    card.verified_at = at
    card.verified_by = user
    card.verified_revision_number = card.revision_number
    audit.record(user, "card.verify", f"card:{card.id}", revision=card.revision_number, note=verification.note)
    if has_flags:
        resolve_open_flags(card, user, verification.note)
    return verification


def set_archived(card, actor, archived, now=None):
    if card.is_archived == archived:
        return
    if card.id is None:
        db.session.flush()
    card.is_archived = archived
    card.updated_at = now or utcnow()
    if archived:
        card.archived_at = card.updated_at
    audit.record(actor, "card.archive" if archived else "card.unarchive", f"card:{card.id}")


def clean_collection(name, slug, default_interval_days, team, exclude=None):
    errors = {}
    name = clean_line(name)
    slug = (slug or "").strip().lower()
    if not name:
        errors["name"] = "is required"
    elif len(name) > 120:
        errors["name"] = "is longer than 120 characters"
    if not SLUG.match(slug) or len(slug) > COLLECTION_SLUG_MAX_CHARS:
        errors["slug"] = f"use lower-case letters, digits and single dashes (e.g. {slugify(name or slug)})"
    if team is None:
        errors["team"] = "is required"
    try:
        clean_interval(default_interval_days)
    except InvalidCard:
        errors["default_interval_days"] = f"must be between 1 and {_limit('INTERVAL_MAX_DAYS')} days"
    for field, value in (("name", name), ("slug", slug)):
        clash = db.session.scalar(select(Collection).filter_by(**{field: value}))
        if clash is not None and clash is not exclude and field not in errors:
            errors[field] = f"another collection already uses {value!r}"
    if errors:
        raise InvalidCard(errors)
    return name, slug


def slugify(text, fallback="collection", max_chars=COLLECTION_SLUG_MAX_CHARS):
    """A URL slug of `text` that keeps every language readable ("Când" → "cand", "Straße" → "strasse"):
    lower-case ASCII letters, digits and single dashes, cut at a word, else `fallback`.

    The backend is named (the library's default prefers Unidecode when it happens to be installed) and the
    library's legacy algorithm is frozen, so a text gives the same slug on every machine.
    """
    return _slugify(text, max_length=max_chars, word_boundary=True, save_order=True,
                    backend="text-unidecode") or fallback


def create_collection(*, name, team, actor=None, slug=None, description="", default_interval_days=90,
                      is_public=False):
    name, slug = clean_collection(name, slug or slugify(name), default_interval_days, team)
    position = (db.session.scalar(select(db.func.max(Collection.position))) or 0) + 1
    collection = Collection(
        name=name, slug=slug, team=team, description=(description or "").strip(),
        default_interval_days=default_interval_days, is_public=bool(is_public), position=position,
    )
    db.session.add(collection)
    db.session.flush()
    audit.record(actor, "collection.create", f"collection:{collection.id}", name=name, public=collection.is_public)
    return collection


def update_collection(collection, *, actor, name, slug, team, description, default_interval_days, is_public):
    name, slug = clean_collection(name, slug, default_interval_days, team, exclude=collection)
    before = {"name": collection.name, "slug": collection.slug, "team": collection.team.name,
              "public": collection.is_public, "interval": collection.default_interval_days}
    collection.name, collection.slug, collection.team = name, slug, team
    collection.description = (description or "").strip()
    collection.default_interval_days = default_interval_days
    collection.is_public = bool(is_public)
    audit.record(actor, "collection.update", f"collection:{collection.id}", before=before)
    db.session.flush()
    return collection

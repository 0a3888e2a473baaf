"""Building paths: named sections of live cards, in order, and who they are assigned to.

Positions are kept dense (0, 1, 2, …) within each list, so "move up", "move down" and a drag-and-drop
layout are the same operation: rewrite the order. Callers commit; every change is audited.
"""
from sqlalchemy import func, select

from kb import audit
from kb.dates import utcnow
from kb.extensions import db
from kb.models import Card, Path, PathAssignment, PathItem, PathSection
from kb.text import clean_line
from kb.validation import Invalid

NAME_MAX, SECTION_MAX = 120, 120
DUE_DAYS_MAX = 365


def _name(value, what, limit):
    value = clean_line(value)  # no bidirectional controls: a "‮" must not turn a title around
    if not value:
        raise Invalid({what: "is required"})
    if len(value) > limit:
        raise Invalid({what: f"is longer than {limit} characters"})
    return value


def _touch(path):
    path.updated_at = utcnow()


def create_path(*, name, team, actor, description="", sections=()):
    name = _name(name, "name", NAME_MAX)
    if db.session.scalar(select(Path.id).where(func.lower(Path.name) == name.lower())) is not None:
        raise Invalid({"name": "another path already has this name"})
    path = Path(name=name, team=team, description=(description or "").strip(), created_by_id=actor and actor.id)
    db.session.add(path)
    for title in sections:
        path.sections.append(PathSection(title=_name(title, "section", SECTION_MAX), position=len(path.sections)))
    db.session.flush()
    audit.record(actor, "path.create", f"path:{path.id}", name=name, team=team.name)
    return path


def update_path(path, *, name, description, actor):
    name = _name(name, "name", NAME_MAX)
    clash = db.session.scalar(select(Path.id).where(func.lower(Path.name) == name.lower(), Path.id != path.id))
    if clash is not None:
        raise Invalid({"name": "another path already has this name"})
    path.name, path.description = name, (description or "").strip()
    _touch(path)
    audit.record(actor, "path.update", f"path:{path.id}", name=name)


def add_section(path, title, actor):
    section = PathSection(title=_name(title, "section", SECTION_MAX), position=len(path.sections))
    path.sections.append(section)
    _touch(path)
    db.session.flush()
    audit.record(actor, "path.add_section", f"path:{path.id}", section=section.title)
    return section


def rename_section(section, title, actor):
    section.title = _name(title, "section", SECTION_MAX)
    _touch(section.path)
    audit.record(actor, "path.rename_section", f"path:{section.path_id}", section=section.title)


def remove_section(section, actor):
    path = section.path
    if section.items:
        raise Invalid({"section": "still holds cards: move or remove them first"})
    path.sections.remove(section)
    _renumber(path.sections)
    _touch(path)
    audit.record(actor, "path.remove_section", f"path:{path.id}", section=section.title)


def add_card(path, section, card, actor, must_acknowledge=False):
    if section.path_id != path.id:
        raise Invalid({"section": "is not in this path"})
    if card.is_archived:
        raise Invalid({"card": "is archived"})
    if db.session.scalar(select(PathItem.id).filter_by(path_id=path.id, card_id=card.id)) is not None:
        raise Invalid({"card": "is already in this path"})
    item = PathItem(path_id=path.id, card=card, position=len(section.items), must_acknowledge=must_acknowledge)
    section.items.append(item)
    _touch(path)
    db.session.flush()
    audit.record(actor, "path.add_card", f"path:{path.id}", card=card.id, section=section.title)
    return item


def remove_item(item, actor):
    section = item.section
    section.items.remove(item)
    _renumber(section.items)
    _touch(section.path)
    audit.record(actor, "path.remove_card", f"path:{section.path_id}", card=item.card_id)


def set_must_acknowledge(item, value, actor):
    if item.must_acknowledge != value:
        item.must_acknowledge = value
        _touch(item.section.path)
        audit.record(actor, "path.must_acknowledge", f"path:{item.path_id}", card=item.card_id, value=value)


def _renumber(rows):
    for position, row in enumerate(rows):
        row.position = position


def move(path, kind, row_id, delta, actor):
    """Move a section or an item one place up (-1) or down (+1); an item at the edge of its section moves
    into the neighbouring section, as dragging it there would."""
    if kind == "section":
        order = list(path.sections)
        row = next((s for s in order if s.id == row_id), None)
        if row is None:
            raise Invalid({"section": "is not in this path"})
        index = order.index(row)
        target = max(0, min(len(order) - 1, index + delta))
        order.insert(target, order.pop(index))
        return apply_layout(path, [(s.id, [i.id for i in s.items]) for s in order], actor)
    layout = [(s.id, [i.id for i in s.items]) for s in path.sections]
    for number, (section_id, items) in enumerate(layout):
        if row_id in items:
            index = items.index(row_id)
            if 0 <= index + delta < len(items):
                items.insert(index + delta, items.pop(index))
            elif 0 <= number + delta < len(layout):
                items.remove(row_id)
                neighbour = layout[number + delta][1]
                neighbour.insert(len(neighbour) if delta < 0 else 0, row_id)
            return apply_layout(path, layout, actor)
    raise Invalid({"item": "is not in this path"})


def apply_layout(path, layout, actor):
    """Make the path's order exactly `layout`: [(section id, [item id, …]), …] naming every section and
    every item once (what the drag-and-drop editor sends). Anything else is refused and changes nothing."""
    sections = {s.id: s for s in path.sections}
    items = {i.id: i for s in path.sections for i in s.items}
    try:
        section_ids = [int(section_id) for section_id, _ in layout]
        item_ids = [int(item_id) for _, ids in layout for item_id in ids]
    except (TypeError, ValueError):
        raise Invalid({"layout": "is not a list of sections and their cards"}) from None
    if sorted(section_ids) != sorted(sections) or sorted(item_ids) != sorted(items):
        raise Invalid({"layout": "must name every section and card of the path once (reload the page)"})
    path.sections.sort(key=lambda s: section_ids.index(s.id))
    _renumber(path.sections)
    for section_id, ids in layout:
        section = sections[int(section_id)]
        for position, item_id in enumerate(ids):
            item = items[int(item_id)]
            if item.section_id != section.id:
                item.section.items.remove(item)
                section.items.append(item)
            item.position = position
        section.items.sort(key=lambda i: i.position)
    _touch(path)
    db.session.flush()
    audit.record(actor, "path.reorder", f"path:{path.id}")
    return path


def clean_due_days(value):
    if value in (None, ""):
        return None
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise Invalid({"due_days": "must be a whole number of days"}) from None
    if not 1 <= days <= DUE_DAYS_MAX:
        raise Invalid({"due_days": f"must be between 1 and {DUE_DAYS_MAX} days"})
    return days


def assign(path, *, actor, team=None, user=None, due_days=None, now=None):
    """Give the path to a team (everyone in it, and whoever joins later) or to one person."""
    if (team is None) == (user is None):
        raise Invalid({"assignee": "choose a team or a person"})
    due_days = clean_due_days(due_days)
    where = {"team_id": team.id} if team is not None else {"user_id": user.id}
    existing = db.session.scalar(select(PathAssignment).filter_by(path_id=path.id, **where))
    if existing is not None:
        existing.due_days = due_days
        assignment = existing
    else:
        assignment = PathAssignment(path=path, team=team, user=user, due_days=due_days,
                                    assigned_at=now or utcnow(), assigned_by_id=actor and actor.id)
        db.session.add(assignment)
    db.session.flush()
    audit.record(actor, "path.assign", f"path:{path.id}", team=team and team.name, user=user and user.email,
                 due_days=due_days)
    return assignment


def unassign(assignment, actor):
    audit.record(actor, "path.unassign", f"path:{assignment.path_id}",
                 team=assignment.team and assignment.team.name, user=assignment.user and assignment.user.email)
    db.session.delete(assignment)
    db.session.flush()


def items_of(path):
    """The path's items in reading order, with their cards."""
    return [item for section in path.sections for item in section.items]


def find_cards(text, exclude_ids=(), limit=20):
    """Cards a lead may add, by title words (the editor's picker; the index is for agents' questions)."""
    words = [w for w in (text or "").split() if w][:6]
    query = select(Card).where(Card.is_archived.is_(False))
    for word in words:
        query = query.where(Card.title.ilike(f"%{word.replace('%', '').replace('_', '')}%"))
    if exclude_ids:
        query = query.where(Card.id.not_in(exclude_ids))
    return db.session.scalars(query.order_by(Card.title).limit(limit)).all()

"""Where each person stands on a path: the one place that says what "done" means.

A card in a path is done when its served wording was read, no material change has reached it since,
it was acknowledged if the path says it must be, and each of its check questions was last answered right.
A card with no served wording (a draft, withheld, archived) does not count: the hire cannot read it, and
the path warns its lead instead. The same function serves one hire's page and a 3,000-hire report.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import insert, or_, select

from kb.channels import serving
from kb.dates import utcnow
from kb.extensions import db
from kb.models import CardRead, Membership, Path, PathAssignment, PathCompletion, PathItem, QuestionAnswer
from kb.onboarding import questions as check_questions
from kb.onboarding import reading
from kb.onboarding.paths import items_of
from kb.verification import policy

UNAVAILABLE, UNREAD, UPDATED, ACKNOWLEDGE, QUESTIONS, DONE = (
    "unavailable", "unread", "updated", "acknowledge", "questions", "done")
LABELS = {UNAVAILABLE: "Not available yet", UNREAD: "Not read", UPDATED: "Updated since you read it",
          ACKNOWLEDGE: "Confirm you understood", QUESTIONS: "Check questions to answer", DONE: "Done"}
CHUNK = 2000  # people per query in bulk reads (stays far below every backend's parameter limit)


@dataclass
class PathCards:
    """A path's items with what they serve, their material changes and questions: read once per page."""

    path: object
    items: list
    served: dict  # card id -> Served (agents' channel)
    served_numbers: dict  # card id -> served revision number, or None when it cannot be read
    materials: dict
    questions: dict

    @property
    def card_ids(self):
        return [item.card_id for item in self.items]

    @property
    def question_ids(self):
        return [q.id for qs in self.questions.values() for q in qs]

    def warnings(self):
        """Items the lead should look at: not servable, or not trusted right now."""
        out = []
        for item in self.items:
            served = self.served[item.card_id]
            if self.served_numbers[item.card_id] is None:
                why = "archived" if item.card.is_archived else "has no verified answer yet (hires skip it)"
                out.append((item, why))
            elif served.status not in (policy.VERIFIED, policy.DUE_SOON):
                out.append((item, "needs verification: hires read its last verified wording"))
        return out


def load(path, now=None):
    items = items_of(path)
    cards = [item.card for item in items]
    served = {s.card.id: s for s in serving.serve_many(cards, serving.AGENTS, now)}
    numbers = {c.id: (served[c.id].revision.number if served[c.id].revision is not None and not c.is_archived
                      else None) for c in cards}
    card_ids = [c.id for c in cards]
    return PathCards(path, items, served, numbers, reading.material_revisions(card_ids),
                     check_questions.of_cards(card_ids))


@dataclass(slots=True)
class ItemProgress:
    item: object
    state: str
    reading: object
    questions: list = field(default_factory=list)
    answers: dict = field(default_factory=dict)
    title: str = ""  # the served title (what the hire reads), else the card's own

    @property
    def label(self):
        return LABELS[self.state]

    @property
    def done(self):
        return self.state == DONE

    @property
    def available(self):
        return self.state != UNAVAILABLE


def item_state(served_number, read_row, must_acknowledge, materials, questions, answers):
    if served_number is None:
        return UNAVAILABLE, None
    state = reading.reading_of(read_row, served_number, materials)
    if state.updated:
        return UPDATED, state
    if state.read is None:
        return UNREAD, state
    if must_acknowledge and state.acknowledged is None:
        return ACKNOWLEDGE, state
    if any(not (answers.get(q.id) and answers[q.id].correct) for q in questions):
        return QUESTIONS, state
    return DONE, state


@dataclass(slots=True)
class Progress:
    """One person on one path."""

    user_id: int
    items: list
    started_at: object = None
    due_at: object = None
    completed_at: object = None  # first time finished
    now: object = None

    @property
    def total(self):
        return sum(1 for i in self.items if i.available)

    @property
    def done(self):
        return sum(1 for i in self.items if i.done)

    @property
    def percent(self):
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self):
        return self.total > 0 and self.done == self.total

    @property
    def started(self):
        return any(i.reading is not None and i.reading.read is not None for i in self.items) or any(
            i.answers for i in self.items)

    @property
    def updated(self):
        return [i for i in self.items if i.state == UPDATED]

    @property
    def overdue(self):
        return self.due_at is not None and not self.finished and self.now >= self.due_at

    @property
    def next_item(self):
        """The first card still to do, updated ones first (they were read once and changed)."""
        todo = [i for i in self.items if i.available and not i.done]
        return next((i for i in todo if i.state == UPDATED), todo[0] if todo else None)

    @property
    def acknowledgements(self):
        wanted = [i for i in self.items if i.available and i.item.must_acknowledge]
        done = sum(1 for i in wanted if i.reading is not None and i.reading.acknowledged is not None
                   and i.state != UPDATED)
        return done, len(wanted)

    @property
    def score(self):
        """(right at the first try, answered, questions in the path)."""
        answered = [a for i in self.items for a in i.answers.values()]
        asked = sum(len(i.questions) for i in self.items if i.available)
        return sum(1 for a in answered if a.first_correct), len(answered), asked

    @property
    def last_activity(self):
        times = [t for i in self.items if i.reading is not None for t in (i.reading.read_at, i.reading.acknowledged_at)]
        times += [a.answered_at for i in self.items for a in i.answers.values()]
        times = [t for t in times if t is not None]
        return max(times) if times else None

    @property
    def status(self):
        if self.finished:
            return "finished"
        if self.overdue:
            return "overdue"
        return "in progress" if self.started else "not started"


def _chunks(ids):
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


_READ_COLUMNS = (CardRead.user_id, CardRead.card_id, CardRead.revision_number, CardRead.read_at,
                 CardRead.acknowledged_revision, CardRead.acknowledged_at)


def progress_of(cards, people, now=None):
    """{user id: Progress} for `people`: {user id: (started_at, due_at)}. A fixed number of queries per
    2,000 people, whatever the size of the path."""
    now = now or utcnow()
    card_ids, question_ids = cards.card_ids, cards.question_ids
    reads, answers, completions = {}, {}, {}
    for chunk in _chunks(people):
        if card_ids:
            # Plain rows, not CardRead objects: a 3,000-hire cohort has ~70,000 reads, and building (and
            # garbage-collecting) an ORM object for each was most of the report's time. Only read here.
            for row in db.session.execute(select(*_READ_COLUMNS).where(
                    CardRead.card_id.in_(card_ids), CardRead.user_id.in_(chunk))):
                reads[(row.user_id, row.card_id)] = row
        if question_ids:
            for row in db.session.scalars(select(QuestionAnswer).where(
                    QuestionAnswer.question_id.in_(question_ids), QuestionAnswer.user_id.in_(chunk))):
                answers.setdefault(row.user_id, {})[row.question_id] = row
        for user_id, at in db.session.execute(select(PathCompletion.user_id, PathCompletion.completed_at).where(
                PathCompletion.path_id == cards.path.id, PathCompletion.user_id.in_(chunk))):
            completions[user_id] = at
    titles = {item.card_id: (cards.served[item.card_id].revision.title if cards.served[item.card_id].revision
                             else item.card.title) for item in cards.items}
    # What each item needs, looked up once per path rather than once per person and item.
    per_item = [(item, item.card_id, cards.served_numbers[item.card_id], item.must_acknowledge,
                 cards.materials.get(item.card_id, ()), cards.questions.get(item.card_id, []), titles[item.card_id])
                for item in cards.items]
    out = {}
    for user_id, (started_at, due_at) in people.items():
        mine = answers.get(user_id, {})
        rows = []
        for item, card_id, served_number, must_acknowledge, materials, qs, title in per_item:
            given = {q.id: mine[q.id] for q in qs if q.id in mine}
            state, read = item_state(served_number, reads.get((user_id, card_id)), must_acknowledge, materials, qs,
                                     given)
            rows.append(ItemProgress(item, state, read, qs, given, title))
        out[user_id] = Progress(user_id, rows, started_at, due_at, completions.get(user_id), now)
    return out


# --- who has which path, since when, due when ---------------------------------------------------------

def _due(start, days):
    return start + timedelta(days=days) if days else None


def assignments_of(user):
    """[(path, started_at, due_at)] for a person: their own assignments and their teams' (counted from when
    they joined, for a newcomer). Where both give the path, the personal one decides."""
    team_since = {m.team_id: m.joined_at for m in user.memberships}
    rows = db.session.scalars(select(PathAssignment).where(or_(
        PathAssignment.user_id == user.id, PathAssignment.team_id.in_(list(team_since) or [-1])))).all()
    best = {}
    for a in rows:
        start = a.assigned_at if a.user_id is not None else max(a.assigned_at, team_since[a.team_id])
        due = _due(start, a.due_days)
        mine = a.user_id is not None
        current = best.get(a.path_id)
        if current is None or (mine and not current[3]) or (mine == current[3] and (due or start) < (
                current[2] or current[1])):
            best[a.path_id] = (a.path, start, due, mine)
    return sorted(((p, s, d) for p, s, d, _ in best.values()), key=lambda row: (row[1], row[0].name))


def cohort_of(path, team=None):
    """{user id: (started_at, due_at)} for the people a path reaches through `team` (its leads run the cohort,
    they are not in it), or (team None) the people it is assigned to one by one."""
    if team is not None:
        assignment = db.session.scalar(select(PathAssignment).filter_by(path_id=path.id, team_id=team.id))
        if assignment is None:
            return {}
        rows = db.session.execute(select(Membership.user_id, Membership.joined_at).where(
            Membership.team_id == team.id, Membership.is_lead.is_(False)))
        return {uid: (max(assignment.assigned_at, joined), _due(max(assignment.assigned_at, joined),
                                                                  assignment.due_days)) for uid, joined in rows}
    rows = db.session.scalars(select(PathAssignment).where(
        PathAssignment.path_id == path.id, PathAssignment.user_id.is_not(None)))
    return {a.user_id: (a.assigned_at, _due(a.assigned_at, a.due_days)) for a in rows}


def for_user(user, path, now=None):
    """(PathCards, Progress) of one person on one path, with their own start and due date."""
    dates = next(((s, d) for p, s, d in assignments_of(user) if p.id == path.id), (None, None))
    cards = load(path, now)
    return cards, progress_of(cards, {user.id: dates}, now)[user.id]


def note_activity(user, card_id, now=None):
    """After a read, an acknowledgement or an answer: a path this finished gets its completion date (once)."""
    path_ids = set(db.session.scalars(select(PathItem.path_id).where(PathItem.card_id == card_id)))
    mine = {p.id: (s, d) for p, s, d in assignments_of(user) if p.id in path_ids}
    done = set(db.session.scalars(select(PathCompletion.path_id).where(
        PathCompletion.user_id == user.id, PathCompletion.path_id.in_(list(mine) or [-1]))))
    finished = []
    for path_id, dates in mine.items():
        if path_id in done:
            continue
        cards = load(db.session.get(Path, path_id), now)
        if progress_of(cards, {user.id: dates}, now)[user.id].finished:
            db.session.execute(insert(PathCompletion).values(user_id=user.id, path_id=path_id,
                                                             completed_at=now or utcnow()))
            finished.append(cards.path)
    return finished

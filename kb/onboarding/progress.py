"""Where each person stands on a path: the one place that says what "done" means.

A card in a path is done when its served wording was read, no material change has reached it since,
it was acknowledged if the path says it must be, and each of its check questions was last answered right.
A card with no served wording (a draft, withheld, archived) does not count: the hire cannot read it, and
the path warns its lead instead. The same function serves one hire's page and a 3,000-hire report.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, insert, or_, select

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

    def title_of(self, item):
        """The served title (what the hire reads), else the card's own."""
        revision = self.served[item.card_id].revision
        return revision.title if revision is not None else item.card.title

    @property
    def titles(self):
        return {item.card_id: self.title_of(item) for item in self.items}

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
    """The state of one card for one person, from plain values: the one rule of "done"."""
    if served_number is None:
        return UNAVAILABLE
    if read_row is None or read_row.revision_number is None:
        return UNREAD
    if reading.is_behind(read_row.revision_number, served_number, materials):
        return UPDATED
    if must_acknowledge and reading.acknowledged_of(read_row, served_number, materials) is None:
        return ACKNOWLEDGE
    if any(not (answers.get(q.id) and answers[q.id].correct) for q in questions):
        return QUESTIONS
    return DONE


class _Standing:
    """What a person's counts mean, for a full `Progress` (one hire's page) and a `Summary` (a cohort)."""

    __slots__ = ()

    @property
    def percent(self):
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def finished(self):
        return self.total > 0 and self.done == self.total

    @property
    def overdue(self):
        return self.due_at is not None and not self.finished and self.now >= self.due_at

    @property
    def status(self):
        if self.finished:
            return "finished"
        if self.overdue:
            return "overdue"
        return "in progress" if self.started else "not started"


@dataclass(slots=True)
class Progress(_Standing):
    """One person on one path, card by card."""

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
    def started(self):
        return any(i.reading is not None and i.reading.read is not None for i in self.items) or any(
            i.answers for i in self.items)

    @property
    def updated(self):
        return [i for i in self.items if i.state == UPDATED]

    @property
    def next_item(self):
        """The first card still to do, updated ones first (they were read once and changed)."""
        todo = [i for i in self.items if i.available and not i.done]
        return next((i for i in todo if i.state == UPDATED), todo[0] if todo else None)


@dataclass(slots=True)
class Summary(_Standing):
    """One person on one path in numbers only: what a 3,000-hire report, its CSV and the reminders need,
    without an object per card and person (120,000 of them for 40 cards, most of the report's time)."""

    user_id: int
    started_at: object
    due_at: object
    completed_at: object
    now: object
    total: int = 0
    done: int = 0
    updated_count: int = 0
    started: bool = False
    acknowledgements: tuple = (0, 0)  # (confirmed and still standing, cards that must be acknowledged)
    score: tuple = (0, 0, 0)  # (right at the first try, answered, questions in the path)
    last_activity: object = None
    answers: list = field(default_factory=list)  # [(question id, right at the first try)]


def _chunks(ids):
    ids = list(ids)
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


_READ_COLUMNS = (CardRead.user_id, CardRead.card_id, CardRead.revision_number, CardRead.acknowledged_revision)
_READ_TIMES = (CardRead.read_at, CardRead.acknowledged_at)
_ANSWER_COLUMNS = (QuestionAnswer.user_id, QuestionAnswer.question_id, QuestionAnswer.choice,
                   QuestionAnswer.correct, QuestionAnswer.first_correct, QuestionAnswer.attempts)
_ANSWER_TIMES = (QuestionAnswer.answered_at,)


def _rows_of(cards, people, times=True):
    """Reads {(user, card): row}, answers {user: {question: row}} and completions {user: at} for `people`,
    as plain rows: a 3,000-hire cohort has ~70,000 reads, and an ORM object for each (built, then
    garbage-collected) was most of the report's time. Without `times`, rows carry no timestamps (each
    costs a conversion) and `last` {user: latest read, acknowledgement or answer} comes from the database.
    A fixed number of queries per 2,000 people."""
    card_ids, question_ids = cards.card_ids, cards.question_ids
    reads, answers, completions, last = {}, {}, {}, {}
    read_columns = _READ_COLUMNS + (_READ_TIMES if times else ())
    answer_columns = _ANSWER_COLUMNS + (_ANSWER_TIMES if times else ())
    for chunk in _chunks(people):
        if card_ids:
            for row in db.session.execute(select(*read_columns).where(
                    CardRead.card_id.in_(card_ids), CardRead.user_id.in_(chunk))):
                reads[(row.user_id, row.card_id)] = row
            if not times:
                for user_id, *at in db.session.execute(select(
                        CardRead.user_id, *(func.max(t) for t in _READ_TIMES)).where(
                        CardRead.card_id.in_(card_ids), CardRead.user_id.in_(chunk)).group_by(CardRead.user_id)):
                    at = [t for t in at if t is not None]
                    if at:
                        last[user_id] = max(at)
        if question_ids:
            for row in db.session.execute(select(*answer_columns).where(
                    QuestionAnswer.question_id.in_(question_ids), QuestionAnswer.user_id.in_(chunk))):
                answers.setdefault(row.user_id, {})[row.question_id] = row
            if not times:
                for user_id, at in db.session.execute(select(QuestionAnswer.user_id, func.max(
                        QuestionAnswer.answered_at)).where(QuestionAnswer.question_id.in_(question_ids),
                                                           QuestionAnswer.user_id.in_(chunk)).group_by(
                        QuestionAnswer.user_id)):
                    if at is not None:
                        last[user_id] = max(last.get(user_id, at), at)
        for user_id, at in db.session.execute(select(PathCompletion.user_id, PathCompletion.completed_at).where(
                PathCompletion.path_id == cards.path.id, PathCompletion.user_id.in_(chunk))):
            completions[user_id] = at
    return reads, answers, completions, last


def _per_item(cards):
    """What each item needs, looked up once per path rather than once per person and item."""
    return [(item, item.card_id, cards.served_numbers[item.card_id], item.must_acknowledge,
             cards.materials.get(item.card_id, ()), cards.questions.get(item.card_id, []), cards.title_of(item))
            for item in cards.items]


def progress_of(cards, people, now=None):
    """{user id: Progress} for `people`: {user id: (started_at, due_at)}, card by card (a hire's pages)."""
    now = now or utcnow()
    reads, answers, completions, _ = _rows_of(cards, people)
    per_item = _per_item(cards)
    out = {}
    for user_id, (started_at, due_at) in people.items():
        mine = answers.get(user_id, {})
        rows = []
        for item, card_id, served_number, must_acknowledge, materials, qs, title in per_item:
            given = {q.id: mine[q.id] for q in qs if q.id in mine}
            row = reads.get((user_id, card_id))
            state = item_state(served_number, row, must_acknowledge, materials, qs, given)
            read = reading.reading_of(row, served_number, materials) if state != UNAVAILABLE else None
            rows.append(ItemProgress(item, state, read, qs, given, title))
        out[user_id] = Progress(user_id, rows, started_at, due_at, completions.get(user_id), now)
    return out


def summaries_of(cards, people, now=None):
    """{user id: Summary} for `people`: {user id: (started_at, due_at)}; the same states as `progress_of`,
    counted rather than kept."""
    now = now or utcnow()
    reads, answers, completions, last = _rows_of(cards, people, times=False)
    per_item = _per_item(cards)
    asked = sum(len(qs) for _, _, served, _, _, qs, _ in per_item if served is not None)
    wanted = sum(1 for _, _, served, must, _, _, _ in per_item if served is not None and must)
    out = {}
    for user_id, (started_at, due_at) in people.items():
        mine = answers.get(user_id, {})
        total = done = updated = acknowledged = 0
        started = bool(mine)
        for _item, card_id, served_number, must_acknowledge, materials, qs, _title in per_item:
            row = reads.get((user_id, card_id))
            state = item_state(served_number, row, must_acknowledge, materials, qs, mine)
            if state == UNAVAILABLE:
                continue
            total += 1
            done += state == DONE
            updated += state == UPDATED
            if row is not None:
                started = started or row.revision_number is not None
                if must_acknowledge and state != UPDATED and reading.acknowledged_of(
                        row, served_number, materials) is not None:
                    acknowledged += 1
        right = sum(1 for a in mine.values() if a.first_correct)
        out[user_id] = Summary(user_id, started_at, due_at, completions.get(user_id), now, total, done, updated,
                               started, (acknowledged, wanted), (right, len(mine), asked), last.get(user_id),
                               [(qid, a.first_correct) for qid, a in mine.items()])
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

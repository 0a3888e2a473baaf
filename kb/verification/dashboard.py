"""The verification queue and the trust dashboard, from the one status function (stored states only
narrow down which cards to ask about)."""
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from markupsafe import Markup, escape
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from kb.channels import serving
from kb.extensions import db
from kb.models import Card, CardChange, CardState, CardUsage, Collection, Flag, Team, TrustSnapshot, User
from kb.verification import policy
from kb.verification.checker import tally
from kb.verification.facts import teams_with_verifiers, user_active_at
from kb.verification.status import evaluate_all, statuses

QUEUE_STATUSES = (policy.NEEDS_VERIFICATION, policy.DUE_SOON, policy.DRAFT)


@dataclass
class QueueRow:
    """One card of "My verifications", with what its verifier needs to act on it."""

    card: Card
    status: policy.Status
    views: int
    flag: Flag | None = None  # the newest open flag (the agent's comment is the first thing to read)
    since: datetime | None = None  # needs verification since (lapsed: the day it lapsed)
    faq_placeholders: list = field(default_factory=list)  # what the FAQ would refuse to show customers

    @property
    def overdue(self):
        return policy.EXPIRED in self.status.reason_codes


def _candidates(team_ids, now, collection_id):
    """Cards these teams verify that may be in the queue at `now`: by their stored status, or because
    time may have moved them since it was stored (due soon, lapsed, an owner or team gone). The one
    status function then has the last word on each."""
    time_moved = or_(CardState.card_id.is_(None), CardState.status.in_(QUEUE_STATUSES),
                     CardState.due_soon_at <= now,
                     Card.owner_id.in_(select(User.id).where(~user_active_at(now))),
                     Card.verifier_team_id.not_in(teams_with_verifiers(now) or {-1}))
    query = (select(Card.id).outerjoin(CardState, CardState.card_id == Card.id)
             .where(~Card.is_archived, Card.verifier_team_id.in_(team_ids), time_moved))
    if collection_id:
        query = query.where(Card.collection_id == collection_id)
    return list(db.session.scalars(query))


def queue(team_ids, now, collection_id=None, reason=None):
    """The cards these teams should verify, the customer's needs first: cards agents flagged (newest flag
    first), then cards needing verification by how long (longest overdue first), then due soon (soonest
    first), then drafts; ties go to the cards agents open most."""
    ids = _candidates(team_ids, now, collection_id)
    found = statuses(ids, now)
    ids = [i for i in ids if found[i].code in QUEUE_STATUSES and (reason is None or reason in found[i].reason_codes)]
    if not ids:
        return []
    cards = {c.id: c for c in db.session.scalars(select(Card).where(Card.id.in_(ids)).options(
        selectinload(Card.state), selectinload(Card.collection), selectinload(Card.owner),
        selectinload(Card.verifier_team)))}
    views = dict(db.session.execute(select(CardUsage.card_id, CardUsage.views).where(CardUsage.card_id.in_(ids))).all())
    newest_flag = {}
    for flag in db.session.scalars(select(Flag).where(Flag.card_id.in_(ids), Flag.state == "open")
                                   .options(selectinload(Flag.user)).order_by(Flag.created_at, Flag.id)):
        newest_flag[flag.card_id] = flag
    placeholders = _faq_placeholders([cards[i] for i in ids])
    rows = []
    for card_id in ids:
        card, st = cards[card_id], found[card_id]
        since = None
        if st.code == policy.NEEDS_VERIFICATION:
            stale_since = card.state.stale_since if card.state is not None else None
            since = st.due_at if policy.EXPIRED in st.reason_codes else (stale_since or card.updated_at)
        rows.append(QueueRow(card, st, views.get(card_id, 0), newest_flag.get(card_id), since,
                             placeholders.get(card_id, [])))
    rows.sort(key=_queue_order)
    return rows


def _queue_order(row):
    far = datetime.max.replace(tzinfo=UTC)
    if row.flag is not None:
        return (0, -row.flag.created_at.timestamp(), -row.views, row.card.id)
    if row.status.code == policy.NEEDS_VERIFICATION:
        return (1, row.since.timestamp() if row.since else 0, -row.views, row.card.id)
    if row.status.code == policy.DUE_SOON:
        return (2, (row.status.due_at or far).timestamp(), -row.views, row.card.id)
    return (3, -row.views, row.card.created_at.timestamp(), row.card.id)


def _faq_placeholders(cards):
    """{card id: placeholders} for public cards whose wording (current, so what a verifier would verify)
    holds `{placeholders}` the FAQ withholds from customers."""
    found = {c.id: serving.placeholders_of(c) for c in cards if c.is_public}
    return {card_id: fields for card_id, fields in found.items() if fields}


def withheld_from_faq(team_ids):
    """Public cards of these teams that the FAQ withholds because their served wording holds placeholders,
    with the placeholders: the owner's to rewrite."""
    cards = db.session.scalars(select(Card).where(~Card.is_archived, Card.is_public,
                                                  Card.verifier_team_id.in_(team_ids),
                                                  Card.verified_revision_number.is_not(None))
                               .options(selectinload(Card.owner)).order_by(Card.title)).all()
    out = []
    for served in serving.serve_many(cards, serving.FAQ):
        if served.withheld_for_placeholders:
            out.append((served.card, served.withheld))
    return out


def trust(total, trusted):
    return round(100 * trusted / total) if total else None


_figures = {}  # one entry: (feed head, minute) -> figures


def current_figures(now):
    """Trust at `now`, through the one status function: overall, per collection, per team, counts by
    reason and status, and the cards needing verification (for `stale_by_team_and_owner`).

    Deciding 100,000 statuses takes seconds, so the figures are kept while no card changed (every write,
    and every status the checker moves, adds to the change feed) within the same minute."""
    key = (db.session.scalar(select(func.max(CardChange.seq))), now.replace(second=0, microsecond=0),
           db.engine.url.render_as_string())
    if key not in _figures:
        _figures.clear()
        _figures[key] = _compute_figures(now)
    return _figures[key]


def _compute_figures(now):
    verdicts = [(card, st) for card, st in evaluate_all(now) if st.code != policy.ARCHIVED]
    combos = Counter((card[2], card[4], st.is_trusted, st.reason_codes) for card, st in verdicts)
    scopes = tally(combos.items())
    collections = {c.id: c for c in db.session.scalars(select(Collection))}
    teams = {t.id: t for t in db.session.scalars(select(Team))}

    def table(kind, objects):
        rows = []
        for key, obj in objects.items():
            if f"{kind}:{key}" in scopes:
                total, trusted, _ = scopes[f"{kind}:{key}"]
                rows.append((obj, total, trusted, trust(total, trusted)))
        return sorted(rows, key=lambda row: (row[3] if row[3] is not None else 101, row[0].name))

    total, trusted, reasons = scopes.get("all", [0, 0, Counter()])
    return {
        "total": total, "trusted": trusted, "score": trust(total, trusted),
        "collections": table("collection", collections), "teams": table("team", teams),
        "reasons": [(code, policy.REASON_LABELS[code], reasons[code]) for code in policy.REASONS if reasons[code]],
        "statuses": Counter(st.code for _, st in verdicts),
        "stale": {card[0]: st for card, st in verdicts if st.code == policy.NEEDS_VERIFICATION},
    }


def trend(today, live_score, days=60, scope="all"):
    """Daily (day, score) points from the checker's snapshots, oldest first; today is the live figure."""
    rows = db.session.scalars(select(TrustSnapshot).filter_by(scope=scope).where(TrustSnapshot.day < today)
                              .order_by(TrustSnapshot.day.desc()).limit(days - 1)).all()
    points = [(s.day, trust(s.total, s.trusted)) for s in reversed(rows) if s.total]
    if live_score is not None:
        points.append((today, live_score))
    return points


NO_TREND = "No history yet: the trend starts with the first daily check (kb check-stale)."


def trend_svg(points, width=640, height=200, title="Trust score by day", empty=NO_TREND):
    """A line chart of a percentage by day (trust; a cohort's completion) as inline SVG: readable without
    JavaScript, printable."""
    pad_left, pad_bottom, pad_top, pad_right = 40, 28, 12, 12
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>"]
    for pct in (0, 25, 50, 75, 100):
        y = pad_top + inner_h * (1 - pct / 100)
        parts.append(f'<line x1="{pad_left}" x2="{width - pad_right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{pad_left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{pct}%</text>')
    if not points:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="axis">'
                     f"{escape(empty)}</text>")
    else:
        first, last = points[0][0], points[-1][0]
        span = max((last - first).days, 1)

        def xy(day, score):
            x = pad_left + (inner_w * (day - first).days / span if len(points) > 1 else inner_w / 2)
            return x, pad_top + inner_h * (1 - score / 100)

        coords = [xy(d, s) for d, s in points]
        parts.append('<polyline class="line" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
        for (day, score), (x, y) in zip(points, coords, strict=True):
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" class="dot"><title>{day}: {score}%</title></circle>')
        parts.append(f'<text x="{pad_left}" y="{height - 8}" class="axis">{escape(str(first))}</text>'
                     f'<text x="{width - pad_right}" y="{height - 8}" text-anchor="end" class="axis">'
                     f'{escape(str(last))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stale_by_team_and_owner(stale):
    """Cards needing verification ({id: Status}, from `current_figures`), grouped by verifying team then
    owner, the longest-stale first."""
    rows = db.session.execute(
        select(Card, CardState, Team.name, User.name)
        .outerjoin(CardState, CardState.card_id == Card.id).join(Team, Team.id == Card.verifier_team_id)
        .join(User, User.id == Card.owner_id).where(Card.id.in_(list(stale)))
        .order_by(Team.name, User.name, CardState.stale_since, Card.id)
    ).all() if stale else []
    grouped = defaultdict(lambda: defaultdict(list))
    for card, state, team_name, owner_name in rows:
        grouped[team_name][owner_name].append((card, stale[card.id]))
    return grouped

"""Figures for the trust dashboard and the verification queue, read from the stored card states."""
from collections import Counter, defaultdict
from datetime import timedelta

from flask import current_app
from markupsafe import Markup, escape
from sqlalchemy import case, func, or_, select

from kb.extensions import db
from kb.models import Card, CardState, CardUsage, Collection, Team, TrustSnapshot, User
from kb.verification import policy
from kb.verification.checker import tally

QUEUE_STATUSES = (policy.NEEDS_VERIFICATION, policy.DUE_SOON, policy.DRAFT)


def queue(team_ids, now, collection_id=None, reason=None):
    """Cards verified by these teams that need verification, are due soon or were never verified:
    soonest due first, then the ones agents open most."""
    soon = now + timedelta(days=current_app.config["WARNING_DAYS"])
    query = (
        select(Card, CardState, func.coalesce(CardUsage.views, 0).label("views"))
        .join(CardState, CardState.card_id == Card.id)
        .outerjoin(CardUsage, CardUsage.card_id == Card.id)
        .where(~Card.is_archived, Card.verifier_team_id.in_(team_ids),
               # stored verdicts, plus cards whose time ran out since the last check
               or_(CardState.status.in_(QUEUE_STATUSES), CardState.due_at <= soon))
        .order_by(CardState.due_at.is_(None), CardState.due_at, func.coalesce(CardUsage.views, 0).desc(), Card.id)
    )
    if collection_id:
        query = query.where(Card.collection_id == collection_id)
    if reason == policy.EXPIRED:  # also cards that lapsed since the last check
        query = query.where(or_(CardState.reasons.contains(reason), CardState.due_at <= now))
    elif reason:
        query = query.where(CardState.reasons.contains(reason))
    return db.session.execute(query).all()


def trust(total, trusted):
    return round(100 * trusted / total) if total else None


def current_figures(now):
    """Trust at `now`, from stored states plus the lapses since the last check: overall, per collection,
    per team, and counts by reason."""
    lapsed = case((CardState.due_at <= now, True), else_=False).label("lapsed")
    rows = db.session.execute(
        select(Card.collection_id, Card.verifier_team_id, CardState.status, CardState.reasons, lapsed, func.count())
        .join(CardState, CardState.card_id == Card.id).where(~Card.is_archived)
        .group_by(Card.collection_id, Card.verifier_team_id, CardState.status, CardState.reasons, lapsed)
    ).all()
    groups, statuses = [], Counter()
    for collection_id, team_id, status, reason_codes, has_lapsed, n in rows:
        if has_lapsed and status != policy.DRAFT and policy.EXPIRED not in reason_codes:
            status = policy.NEEDS_VERIFICATION
            reason_codes = ",".join(filter(None, [policy.EXPIRED, reason_codes]))
        trusted = status in (policy.VERIFIED, policy.DUE_SOON)
        groups.append(((collection_id, team_id, trusted, reason_codes.split(",") if reason_codes else ()), n))
        statuses[status] += n
    scopes = tally(groups)
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
        "statuses": statuses,
    }


def trend(today, live_score, days=60, scope="all"):
    """Daily (day, score) points from the checker's snapshots, oldest first; today is the live figure."""
    rows = db.session.scalars(select(TrustSnapshot).filter_by(scope=scope).where(TrustSnapshot.day < today)
                              .order_by(TrustSnapshot.day.desc()).limit(days - 1)).all()
    points = [(s.day, trust(s.total, s.trusted)) for s in reversed(rows) if s.total]
    if live_score is not None:
        points.append((today, live_score))
    return points


def trend_svg(points, width=640, height=200):
    """A line chart of trust over time as inline SVG: readable without JavaScript, printable."""
    pad_left, pad_bottom, pad_top, pad_right = 40, 28, 12, 12
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
             f'class="chart" aria-label="Trust score by day">',
             "<title>Trust score by day</title>"]
    for pct in (0, 25, 50, 75, 100):
        y = pad_top + inner_h * (1 - pct / 100)
        parts.append(f'<line x1="{pad_left}" x2="{width - pad_right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{pad_left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">{pct}%</text>')
    if not points:
        parts.append(f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="axis">'
                     "No history yet: the trend starts with the first daily check (kb check-stale).</text>")
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


def stale_by_team_and_owner():
    """Cards needing verification, grouped by verifying team then owner, the longest-stale first."""
    rows = db.session.execute(
        select(Card, CardState, Team.name, User.name)
        .join(CardState, CardState.card_id == Card.id).join(Team, Team.id == Card.verifier_team_id)
        .join(User, User.id == Card.owner_id)
        .where(~Card.is_archived, CardState.status == policy.NEEDS_VERIFICATION)
        .order_by(Team.name, User.name, CardState.stale_since, Card.id)
    ).all()
    grouped = defaultdict(lambda: defaultdict(list))
    for card, state, team_name, owner_name in rows:
        grouped[team_name][owner_name].append((card, state))
    return grouped

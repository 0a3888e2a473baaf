"""The weekly digest: each verifier hears once a week what lapsed, what is due soon (the policy's window,
as on every page), and which flags are open."""
from sqlalchemy import select

from kb.dates import local_day, utcnow
from kb.extensions import db
from kb.models import VERIFIER_ROLES, Flag, Membership, User
from kb.verification import checker, policy
from kb.verification.facts import user_is_active_at
from kb.verification.notify import card_url, notify


def week_key(now):
    year, week, _ = now.isocalendar()
    return f"{year}-W{week:02d}"


def compose(user, verdicts_by_team, flags_by_card, now):
    """The digest text for one user, or None when there is nothing to say."""
    team_ids = [m.team_id for m in user.memberships]
    mine = [v for t in team_ids for v in verdicts_by_team.get(t, [])]
    lapsed = [v for v in mine if v.status.code == policy.NEEDS_VERIFICATION]
    soon = [v for v in mine if v.status.code == policy.DUE_SOON]
    flagged = [(v, f) for v in mine for f in flags_by_card.get(v.card_id, [])]
    if not (lapsed or soon or flagged):
        return None
    lines = []
    if lapsed:
        lines.append(f"Needs verification ({len(lapsed)}):")
        lines += [f"  - {v.title} — {'; '.join(r.message for r in v.status.reasons)}\n    {card_url(v.card_id)}"
                  for v in sorted(lapsed, key=lambda v: v.status.due_at or now)]
    if soon:
        lines.append(f"\nDue soon ({len(soon)}):")
        lines += [f"  - {v.title} — due {local_day(v.status.due_at)}\n    {card_url(v.card_id)}"
                  for v in sorted(soon, key=lambda v: v.status.due_at)]
    if flagged:
        lines.append(f"\nOpen flags from agents ({len(flagged)}):")
        lines += [f"  - {v.title} — {f.kind} by {f.user.name}" + (f": “{f.comment}”" if f.comment else "")
                  + f"\n    {card_url(v.card_id)}" for v, f in flagged]
    summary = f"{len(lapsed)} to verify, {len(soon)} due soon, {len(flagged)} open flag(s)"
    return summary, "\n".join(lines)


def send_digests(now=None, force=False):
    """Queue one digest per verifier per ISO week (or again with `force`). Returns how many were queued."""
    now = now or utcnow()
    verdicts_by_team = {}
    for v in checker.evaluate(now):
        if v.status.code != policy.ARCHIVED:
            verdicts_by_team.setdefault(v.team_id, []).append(v)
    flags_by_card = {}
    for flag in db.session.scalars(select(Flag).filter_by(state="open").order_by(Flag.id)):
        flags_by_card.setdefault(flag.card_id, []).append(flag)
    users = db.session.scalars(
        select(User).where(User.role.in_(VERIFIER_ROLES)).join(Membership).distinct().order_by(User.id))
    queued = 0
    key = f"digest:{week_key(now)}" + (f":{now.isoformat()}" if force else "")
    for user in users:
        if not user_is_active_at(user, now):
            continue
        digest = compose(user, verdicts_by_team, flags_by_card, now)
        if digest is None:
            continue
        summary, body = digest
        queued += notify(user, key=key, kind="digest", subject=f"Your weekly kb digest: {summary}",
                         body=body) is not None
    return queued

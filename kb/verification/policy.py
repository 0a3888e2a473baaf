"""The status policy: given what is known about a card and an instant, its status and every reason.

Pure functions, no database: the card page gathers the facts for one card, the checker for all cards with
a handful of set-based queries, and both ask `evaluate`. No view, API, FAQ or command decides status itself.
"""
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

DRAFT = "draft"
VERIFIED = "verified"
DUE_SOON = "due_soon"
NEEDS_VERIFICATION = "needs_verification"
ARCHIVED = "archived"
STATUSES = (DRAFT, VERIFIED, DUE_SOON, NEEDS_VERIFICATION, ARCHIVED)

LABELS = {
    DRAFT: "Draft",
    VERIFIED: "Verified",
    DUE_SOON: "Due soon",
    NEEDS_VERIFICATION: "Needs verification",
    ARCHIVED: "Archived",
}

# Reason codes, in the order they are reported.
EXPIRED = "expired"
EDITED = "edited"
FLAGGED = "flagged"
LINK_CHANGED = "link_changed"
ORPHANED = "orphaned"
NEVER_VERIFIED = "never_verified"
REASONS = (EXPIRED, EDITED, FLAGGED, LINK_CHANGED, ORPHANED, NEVER_VERIFIED)
REASON_LABELS = {
    EXPIRED: "Verification lapsed",
    EDITED: "Edited since verification",
    FLAGGED: "Flagged by an agent",
    LINK_CHANGED: "A linked card changed",
    ORPHANED: "No active owner or verifiers",
    NEVER_VERIFIED: "Never verified",
}


# Plain slotted dataclasses, not frozen ones: the checker builds 100,000 of each per run and frozen
# dataclasses are several times slower to construct.
@dataclass(slots=True)
class Facts:
    """Everything the policy needs about one card; plain values so that it can be built in bulk."""

    interval_days: int
    revision_number: int
    verified_revision_number: int | None = None
    verified_at: datetime | None = None
    is_archived: bool = False
    open_flags: int = 0
    changed_links: tuple = ()  # titles of linked cards re-verified or archived since this card's verification
    owner_active: bool = True
    team_has_verifiers: bool = True


@dataclass(slots=True)
class Reason:
    code: str
    message: str


@dataclass(slots=True)
class Status:
    code: str
    reasons: tuple = field(default=())
    due_at: datetime | None = None  # when the current verification lapses, if verified
    due_soon_at: datetime | None = None  # when it becomes "due soon" (the owner is reminded from then on)
    reason_codes: tuple = field(init=False)

    def __post_init__(self):
        self.reason_codes = tuple(r.code for r in self.reasons)

    @property
    def label(self):
        return LABELS[self.code]

    @property
    def is_trusted(self):
        return self.code in (VERIFIED, DUE_SOON)



def due_at(verified_at, interval_days):
    """When a verification lapses, or None if there is none."""
    return None if verified_at is None else verified_at + timedelta(days=interval_days)


def due_soon_at(due, interval_days, warning_days=7):
    """When a verification that lapses at `due` becomes "due soon". A weekly card is not due soon from the
    moment it is verified: the window is at most half the interval."""
    return None if due is None else due - timedelta(days=min(warning_days, interval_days / 2))


def evaluate(facts, now, warning_days=7, tz=UTC):
    """Status of a card at `now` (aware), with every reason that applies; dates in messages are in `tz`."""
    due = due_at(facts.verified_at, facts.interval_days)
    soon = due_soon_at(due, facts.interval_days, warning_days)
    if facts.is_archived:
        return Status(ARCHIVED, (), due, soon)
    reasons = []
    if facts.verified_at is not None:
        if now >= due:
            reasons.append(Reason(EXPIRED, f"Verification lapsed on {due.astimezone(tz):%Y-%m-%d}."))
        if facts.verified_revision_number != facts.revision_number:
            reasons.append(Reason(
                EDITED, f"Edited since verification (verified revision {facts.verified_revision_number}, "
                        f"current revision {facts.revision_number})."))
    if facts.open_flags:
        n = facts.open_flags
        reasons.append(Reason(FLAGGED, f"{n} open flag{'s' if n > 1 else ''} from agents."))
    if facts.changed_links:
        titles = [f"“{t}”" for t in facts.changed_links if t]
        reasons.append(Reason(LINK_CHANGED, "Linked card changed since verification: " + ", ".join(titles) + "."
                              if titles else "A linked card changed since verification."))
    if not facts.owner_active or not facts.team_has_verifiers:
        who = []
        if not facts.owner_active:
            who.append("its owner is deactivated or their account expired")
        if not facts.team_has_verifiers:
            who.append("its verifying team has no active members")
        reasons.append(Reason(ORPHANED, "Orphaned: " + " and ".join(who) + "."))
    if facts.verified_at is None:
        reasons.append(Reason(NEVER_VERIFIED, "This card has never been verified."))
        return Status(DRAFT, tuple(reasons), None)
    if reasons:
        return Status(NEEDS_VERIFICATION, tuple(reasons), due, soon)
    return Status(DUE_SOON if now >= soon else VERIFIED, (), due, soon)


def facts_of_card(card, **extra):
    """Facts from a card's own columns; the caller adds flags, links and orphan checks it has looked up."""
    return Facts(
        interval_days=card.interval_days,
        revision_number=card.revision_number,
        verified_revision_number=card.verified_revision_number,
        verified_at=card.verified_at,
        is_archived=card.is_archived,
        **extra,
    )


def card_status(card, now, warning_days=7, tz=UTC, **extra):
    """Shortcut for a card object plus any extra facts."""
    return evaluate(facts_of_card(card, **extra), now, warning_days, tz)

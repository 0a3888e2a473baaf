"""The status policy: given a card and an instant, its status and every reason. Pure functions.

Every view, the API, the FAQ and the CLI ask this module; none decides status on its own.
"""
from dataclasses import dataclass, field
from datetime import timedelta

DRAFT = "draft"
VERIFIED = "verified"
DUE_SOON = "due_soon"
NEEDS_VERIFICATION = "needs_verification"
ARCHIVED = "archived"

LABELS = {
    DRAFT: "Draft",
    VERIFIED: "Verified",
    DUE_SOON: "Due soon",
    NEEDS_VERIFICATION: "Needs verification",
    ARCHIVED: "Archived",
}


@dataclass(frozen=True)
class Reason:
    code: str
    message: str


@dataclass(frozen=True)
class Status:
    code: str
    reasons: tuple = field(default=())
    due_at: object = None  # when the current verification lapses, if verified

    @property
    def label(self):
        return LABELS[self.code]

    @property
    def is_trusted(self):
        return self.code in (VERIFIED, DUE_SOON)


def due_at(card):
    """When the card's verification lapses, or None if it was never verified."""
    if card.verified_at is None:
        return None
    return card.verified_at + timedelta(days=card.interval_days)


def card_status(card, now, warning_days=7):
    """Status of `card` at `now` (aware UTC), with the reasons behind it."""
    due = due_at(card)
    if card.is_archived:
        return Status(ARCHIVED, (), due)
    if card.verified_at is None:
        return Status(DRAFT, (Reason("never_verified", "This card has never been verified."),), None)
    reasons = []
    if now >= due:
        reasons.append(Reason("expired", f"Verification lapsed on {due:%Y-%m-%d}."))
    if card.verified_revision_number != card.revision_number:
        reasons.append(
            Reason(
                "edited",
                f"Edited since verification (verified revision {card.verified_revision_number}, "
                f"current revision {card.revision_number}).",
            )
        )
    if reasons:
        return Status(NEEDS_VERIFICATION, tuple(reasons), due)
    if now >= due - timedelta(days=warning_days):
        return Status(DUE_SOON, (Reason("due_soon", f"Verification lapses on {due:%Y-%m-%d}."),), due)
    return Status(VERIFIED, (), due)

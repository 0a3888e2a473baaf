"""The audit trail: every verification, account, permission and collection change, attributable."""
import json

from kb.extensions import db
from kb.models import AuditEvent


def record(actor, action, subject, **detail):
    """Add an audit event to the current transaction (the caller commits)."""
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        subject=subject,
        detail_json=json.dumps(detail, default=str, sort_keys=True),
    )
    db.session.add(event)
    return event

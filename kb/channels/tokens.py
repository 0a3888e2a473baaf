"""API bearer tokens: created by admins (page or `kb tokens create`), shown once, stored as a SHA-256
hash (a token is 32 random bytes, so a slow hash adds nothing), revocable, last use recorded."""
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from kb import audit
from kb.dates import utcnow
from kb.deferred import later
from kb.extensions import db
from kb.models import ApiToken
from kb.validation import Invalid

PUBLIC_READ, INTERNAL_READ, FLAGS_WRITE = "public:read", "internal:read", "flags:write"
SCOPES = {
    PUBLIC_READ: "what the chatbot and the FAQ may see: verified answers of public cards",
    INTERNAL_READ: "what agents see: every card, current wording, status and reasons",
    FLAGS_WRITE: "report a card that looks wrong",
}
PREFIX = "kb_"
LAST_USED_EVERY = timedelta(minutes=1)  # last-use writes at most this often per token


def _hash(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


def clean(name, scopes):
    name = (name or "").strip()
    scopes = sorted(set(scopes or ()))
    errors = {}
    if not name or len(name) > 80:
        errors["name"] = "Give the token a name of 1 to 80 characters (who or what uses it)."
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        errors["scopes"] = f"Unknown scope {', '.join(unknown)}; choose from {', '.join(SCOPES)}."
    elif not scopes:
        errors["scopes"] = "Choose at least one scope."
    if errors:
        raise Invalid(errors)
    return name, scopes


def _check_reporter(scopes, actor):
    """Flags are attributable: a token that may raise them raises them in an admin's name."""
    if FLAGS_WRITE in scopes and actor is None:
        raise Invalid({"by": "a flags:write token needs the admin accountable for it (kb tokens create --by EMAIL)"})


def create(name, scopes, actor=None):
    """A new token and its secret, which is not stored and cannot be shown again."""
    name, scopes = clean(name, scopes)
    _check_reporter(scopes, actor)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(name=name, prefix=secret[:len(PREFIX) + 6], secret_hash=_hash(secret), scopes=" ".join(scopes),
                     created_by_id=getattr(actor, "id", None))
    db.session.add(token)
    db.session.flush()
    audit.record(actor, "token.create", f"token:{token.id}", name=name, scopes=scopes)
    return token, secret


def revoke(token, actor=None):
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(actor, "token.revoke", f"token:{token.id}", name=token.name)
    return token


def authenticate(secret, now=None):
    """The live token for a presented secret, or None (unknown, malformed, revoked, or its accountable admin
    no longer works here)."""
    if not secret or not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    digest = _hash(secret)
    token = db.session.scalar(select(ApiToken).where(ApiToken.secret_hash == digest))
    if token is None or token.revoked_at is not None or not hmac.compare_digest(token.secret_hash, digest):
        return None
    now = now or utcnow()
    if token.created_by is not None and not token.created_by.is_active_at(now):
        return None  # it dies with its accountable admin (deactivated, or past their account's last day)
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY:
        later(_used, token.id, now)  # after the response: a bot's request never waits for this write
    return token


def _used(token_id, now):
    db.session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))


def all_tokens():
    return db.session.scalars(select(ApiToken).order_by(ApiToken.revoked_at.is_not(None),
                                                        ApiToken.created_at.desc())).all()

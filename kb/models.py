"""Database tables. The database is the source of truth; the search index is derived from it."""
import json
import secrets
from datetime import date, datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event, inspect
from sqlalchemy import update as sa_update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship, validates
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from kb import markup
from kb.dates import UTCDateTime, local_day, utcnow
from kb.deferred import later
from kb.extensions import db

ROLES = ("agent", "expert", "admin")
VERIFIER_ROLES = ("expert", "admin")  # the roles that may own, edit and verify cards


def _new_session_token():
    return secrets.token_urlsafe(24)


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('agent', 'expert', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # The address as compared (NFKC, case-folded, invisible characters removed: kb.accounts.emails), so that
    # "José@Example.com" typed twice, or composed two ways, is one account.
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    # "issuer subject" of the single sign-on identity this account signs in with, once it has.
    sso_subject: Mapped[str | None] = mapped_column(String(400), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    # Seasonal accounts stop working after this day (inclusive), without anyone remembering to.
    expires_on: Mapped[date | None]
    # Part of the login cookie: rotating it signs the user out everywhere.
    session_token: Mapped[str] = mapped_column(String(64), unique=True, default=_new_session_token)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @validates("email")
    def _keep_email_key(self, _key, address):
        from kb.accounts.emails import email_key

        self.email_key = email_key(address)
        return address

    def set_password(self, password):
        method = current_app.config["PASSWORD_HASH_METHOD"] if current_app else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)
        self.sign_out_everywhere()

    def sign_out_everywhere(self):
        self.session_token = _new_session_token()

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def get_id(self):
        return self.session_token

    def is_expired_at(self, now=None):
        """A seasonal account ends after its last local day."""
        return self.expires_on is not None and local_day(now) > self.expires_on

    @property
    def is_expired(self):
        return self.is_expired_at()

    def is_active_at(self, now=None):
        """May work at `now`: active, and a seasonal account not yet expired."""
        return self.active and not self.is_expired_at(now)

    @property
    def is_active(self):
        return self.is_active_at()

    @property
    def is_admin(self):
        return self.role == "admin"

    @property
    def teams(self):
        return [m.team for m in self.memberships]

    def is_member_of(self, team):
        return team is not None and any(m.team_id == team.id for m in self.memberships)

    def __repr__(self):
        return f"<User {self.email}>"


class Team(db.Model):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="team", cascade="all, delete-orphan"
    )

    @property
    def members(self):
        return [m.user for m in self.memberships]

    def __repr__(self):
        return f"<Team {self.name}>"


class Membership(db.Model):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), primary_key=True)
    is_lead: Mapped[bool] = mapped_column(default=False)
    # A path assigned to the team is due this many days after the later of the assignment and this.
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
    team: Mapped[Team] = relationship(back_populates="memberships")


class Collection(db.Model):
    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    default_interval_days: Mapped[int] = mapped_column(default=90)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"))
    # Cards of a public collection are public (chatbot and FAQ) unless marked internal.
    is_public: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team] = relationship()
    cards: Mapped[list["Card"]] = relationship(back_populates="collection")

    def __repr__(self):
        return f"<Collection {self.slug}>"


class Card(db.Model):
    """One answer. The content columns mirror the current revision, for fast listing."""

    __tablename__ = "cards"
    __table_args__ = (CheckConstraint("interval_days > 0", name="interval_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stable across databases: import/export matches on it. Any id another tool exports (a URL,
    # "zendesk:360001234", "faq/general#what-is"), so it never goes into a URL path itself:
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    # ... the link key does, derived from it once (URL-safe, unique): /cards/by-key/<it> links survive moves.
    link_key: Mapped[str] = mapped_column(String(100), unique=True)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    verifier_team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    interval_days: Mapped[int] = mapped_column(default=90)
    is_public: Mapped[bool] = mapped_column(default=False)
    is_archived: Mapped[bool] = mapped_column(default=False)
    # When it was last archived: cards linking to it need a look if this is after their verification.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    title: Mapped[str] = mapped_column(String(300))
    answer: Mapped[str] = mapped_column(Text)
    internal_notes: Mapped[str] = mapped_column(Text, default="")
    revision_number: Mapped[int] = mapped_column(default=0)
    # Optimistic locking: every UPDATE of a card checks and bumps it, so of two saves that started from the
    # same state the second fails (StaleDataError) instead of silently overwriting the first.
    version: Mapped[int] = mapped_column(default=1, server_default="1")

    verified_revision_number: Mapped[int | None]
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # When the verified wording last changed (a different revision verified). Re-verifying the same
    # revision leaves it alone, so that cards linking here are only re-checked when the answer moved.
    verified_revision_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    __mapper_args__ = {"version_id_col": version}

    collection: Mapped[Collection] = relationship(back_populates="cards")
    owner: Mapped[User] = relationship(foreign_keys=[owner_id])
    verifier_team: Mapped[Team] = relationship()
    verified_by: Mapped[User | None] = relationship(foreign_keys=[verified_by_id])
    tags: Mapped[list["CardTag"]] = relationship(
        cascade="all, delete-orphan", order_by="CardTag.name", back_populates="card"
    )
    revisions: Mapped[list["Revision"]] = relationship(
        cascade="all, delete-orphan", order_by="Revision.number", back_populates="card"
    )
    state: Mapped["CardState | None"] = relationship(viewonly=True)
    verifications: Mapped[list["Verification"]] = relationship(
        cascade="all, delete-orphan", order_by="Verification.verified_at.desc()", back_populates="card"
    )

    @property
    def tag_names(self):
        return [t.name for t in self.tags]

    def __repr__(self):
        return f"<Card {self.id} {self.title[:30]!r}>"


class CardTag(db.Model):
    __tablename__ = "card_tags"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)

    card: Mapped[Card] = relationship(back_populates="tags")


class Revision(db.Model):
    """An immutable snapshot of a card's content, numbered from 1 per card."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("card_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    number: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    answer: Mapped[str] = mapped_column(Text)
    # The answer rendered once, when the revision was saved (kb.markup.render): readers never pay for
    # Markdown again. NULL for revisions saved before it existed, or too costly to render in the migration.
    answer_html: Mapped[str | None] = mapped_column(Text)
    internal_notes: Mapped[str] = mapped_column(Text, default="")
    tags_json: Mapped[str] = mapped_column(Text, default="[]")
    summary: Mapped[str] = mapped_column(String(300), default="")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    card: Mapped[Card] = relationship(back_populates="revisions")
    author: Mapped[User] = relationship()

    @property
    def tags(self):
        return json.loads(self.tags_json)

    def html(self):
        """The answer as sanitised HTML, from the stored rendering; an older revision is rendered once and
        stored (after the response, in its own transaction, so a read page never writes in its own)."""
        if self.answer_html is not None:
            return markup.Markup(self.answer_html)
        try:
            html = markup.render(self.answer)
        except markup.TooComplex as exc:
            return markup.refusal(exc)
        set_committed_value(self, "answer_html", str(html))  # not a change of this request's session
        if self.id is not None:
            later(_store_answer_html, self.id, self.answer_html)
        return html


def _store_answer_html(revision_id, html):
    db.session.execute(sa_update(Revision).where(Revision.id == revision_id, Revision.answer_html.is_(None))
                       .values(answer_html=html))


class Verification(db.Model):
    """Who verified which revision of a card, when, and what they checked."""

    __tablename__ = "verifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    revision_number: Mapped[int]
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    source_url: Mapped[str] = mapped_column(String(500), default="")
    # When this verification changed the served wording: "material" sends the card back to everyone who
    # read an earlier revision; "minor" (a typo) disturbs nobody. None: the wording did not change.
    change_kind: Mapped[str | None] = mapped_column(String(8))

    card: Mapped[Card] = relationship(back_populates="verifications")
    user: Mapped[User] = relationship()


class CardChange(db.Model):
    """The change feed: one row per card write, in the writing transaction.

    The search index applies rows past its own watermark, so nothing committed is ever lost to it.
    No foreign key: the row must outlive a deleted card so that the index drops it too.
    """

    __tablename__ = "card_changes"

    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    card_id: Mapped[int] = mapped_column(index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # CONTENT (wording, status, anything a search filters or shows) or USAGE (only the card's usage level,
    # a mild ranking boost): usage rows wait for the next content change or the index-feed job, so a busy
    # day's views do not each cost an index commit and a refresh of every searcher.
    kind: Mapped[str] = mapped_column(String(8), default="content", server_default="content")

    CONTENT, USAGE = "content", "usage"

    __table_args__ = (Index("ix_card_changes_kind_seq", "kind", "seq"),)


class AuditEvent(db.Model):
    """Attributable record of verifications, account, permission and collection changes."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(80), index=True)
    detail_json: Mapped[str] = mapped_column(Text, default="{}")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    actor: Mapped[User | None] = relationship()

    @property
    def detail(self):
        return json.loads(self.detail_json)


class CardLink(db.Model):
    """A card's answer or notes link to another card (kept in step with its current revision)."""

    __tablename__ = "card_links"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True, index=True)


FLAG_KINDS = ("outdated", "incorrect", "unclear")


class Flag(db.Model):
    """An agent's report that a card looks wrong. Open until a verifier verifies or dismisses it."""

    __tablename__ = "flags"
    __table_args__ = (
        CheckConstraint("kind IN ('outdated', 'incorrect', 'unclear')", name="kind"),
        CheckConstraint("state IN ('open', 'resolved', 'dismissed')", name="state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_note: Mapped[str] = mapped_column(Text, default="")

    card: Mapped[Card] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])


class CardState(db.Model):
    """The staleness checker's last verdict on a card: status, reasons, and since when it is stale."""

    __tablename__ = "card_states"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    reasons: Mapped[str] = mapped_column(String(200), default="")  # comma-separated reason codes
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the policy makes it "due soon" (the queue finds cards whose time came since the last check).
    due_soon_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # First check that found the card needing verification, kept while it stays so (drives escalation).
    stale_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TrustSnapshot(db.Model):
    """One day's trust figures for a scope ("all", "collection:<id>" or "team:<id>"), from the checker."""

    __tablename__ = "trust_snapshots"
    __table_args__ = (UniqueConstraint("day", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date]
    scope: Mapped[str] = mapped_column(String(40))
    total: Mapped[int]
    trusted: Mapped[int]
    reasons_json: Mapped[str] = mapped_column(Text, default="{}")  # reason code -> number of cards


class Notification(db.Model):
    """An in-app message (and e-mail) to one user. `key` makes repeated runs notify nobody twice."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id", ondelete="SET NULL"))
    # Where the notification leads, as a path on this site ("/cards/new?request=3"); "" = the card's page.
    url: Mapped[str] = mapped_column(String(500), default="")
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # E-mail delivery: sent, or failed (then retried by the next delivery run, up to a limit).
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    email_attempts: Mapped[int] = mapped_column(default=0)

    user: Mapped[User] = relationship()
    card: Mapped[Card | None] = relationship()


class CardUsage(db.Model):
    """How often agents open and copy a card: ranks the verification queue and, later, search."""

    __tablename__ = "card_usage"

    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True)
    views: Mapped[int] = mapped_column(default=0)
    copies: Mapped[int] = mapped_column(default=0)
    last_viewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)



class CardVisit(db.Model):
    """A user's last look at a card: "Recently viewed" on the search page."""

    __tablename__ = "card_visits"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True)
    visited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SynonymSet(db.Model):
    """Words agents use for the same thing ("refund, money back"), applied to queries, not the index."""

    __tablename__ = "synonym_sets"

    id: Mapped[int] = mapped_column(primary_key=True)
    terms: Mapped[str] = mapped_column(Text)  # comma-separated, as an admin wrote them
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    @property
    def term_list(self):
        return [t.strip() for t in self.terms.split(",") if t.strip()]


class SearchEvent(db.Model):
    """One search as an agent saw it: the gap report reads searches that found nothing or led nowhere."""

    __tablename__ = "search_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The id the page hands out before the row exists (the row is written after the response).
    ref: Mapped[str | None] = mapped_column(String(32), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    query: Mapped[str] = mapped_column(String(300))
    normalized: Mapped[str] = mapped_column(String(300), index=True)
    results: Mapped[int] = mapped_column(default=0)
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    opened_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id", ondelete="SET NULL"))
    copied_card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id", ondelete="SET NULL"))

    user: Mapped[User | None] = relationship()


class CardRequest(db.Model):
    """A knowledge gap turned into work: a team is asked for a card; the requester hears when it exists."""

    __tablename__ = "card_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(String(300))
    normalized: Mapped[str] = mapped_column(String(300), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    searches: Mapped[int] = mapped_column(default=0)  # how many searches the gap had when requested
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id", ondelete="SET NULL"))
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    team: Mapped[Team] = relationship()
    requested_by: Mapped[User | None] = relationship()
    card: Mapped[Card | None] = relationship()


class ApiToken(db.Model):
    """A bearer token for the API (chatbot, FAQ widgets, agent tools). Only a hash of the secret is kept;
    the secret is shown once, when created."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(200))  # space-separated
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship()

    @property
    def scope_list(self):
        return self.scopes.split()


class JobRun(db.Model):
    """A periodic job's lease and its last run. The lease is the lock: whichever process (worker or host)
    takes it runs the job; the others skip it until the lease ends."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))  # host, process and thread holding the lease
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_result: Mapped[str] = mapped_column(Text, default="")
    last_error: Mapped[str] = mapped_column(Text, default="")
    runs: Mapped[int] = mapped_column(default=0)


class PasswordLink(db.Model):
    """A one-time link that lets a new account choose its password. Only a hash of the secret is kept."""

    __tablename__ = "password_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class UserImport(db.Model):
    """One cohort import. Without mail, its new accounts' set-password links wait here, as CSV, until the
    lead who ran it downloads them once; then they are erased."""

    __tablename__ = "user_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    created_count: Mapped[int] = mapped_column(default=0)
    updated_count: Mapped[int] = mapped_column(default=0)
    links_csv: Mapped[str | None] = mapped_column(Text)
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by: Mapped[User | None] = relationship()
    team: Mapped[Team | None] = relationship()


class Path(db.Model):
    """An onboarding path: named sections of live cards, in order. Its team's leads (and admins) edit it."""

    __tablename__ = "paths"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    team: Mapped[Team] = relationship()
    sections: Mapped[list["PathSection"]] = relationship(
        cascade="all, delete-orphan", order_by="PathSection.position", back_populates="path")
    assignments: Mapped[list["PathAssignment"]] = relationship(cascade="all, delete-orphan", back_populates="path")


class PathSection(db.Model):
    __tablename__ = "path_sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("paths.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=0)

    path: Mapped[Path] = relationship(back_populates="sections")
    items: Mapped[list["PathItem"]] = relationship(
        cascade="all, delete-orphan", order_by="PathItem.position", back_populates="section")


class PathItem(db.Model):
    """A live card in a path (never a copy): the same card can sit in its collection and in several paths."""

    __tablename__ = "path_items"
    __table_args__ = (UniqueConstraint("path_id", "card_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("paths.id", ondelete="CASCADE"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("path_sections.id", ondelete="CASCADE"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    # The hire confirms "I understood" (recorded with the revision), not only "read".
    must_acknowledge: Mapped[bool] = mapped_column(default=False)

    section: Mapped[PathSection] = relationship(back_populates="items")
    card: Mapped[Card] = relationship()


class PathAssignment(db.Model):
    """A path given to a team (everyone in it, newcomers too) or to one person, optionally due N days on."""

    __tablename__ = "path_assignments"
    __table_args__ = (
        CheckConstraint("(team_id IS NULL) <> (user_id IS NULL)", name="team_or_user"),
        CheckConstraint("due_days IS NULL OR due_days > 0", name="due_days_positive"),
        UniqueConstraint("path_id", "team_id", name="uq_path_assignments_path_team"),
        UniqueConstraint("path_id", "user_id", name="uq_path_assignments_path_user"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("paths.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    due_days: Mapped[int | None]
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    path: Mapped[Path] = relationship(back_populates="assignments")
    team: Mapped[Team | None] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])


class CardRead(db.Model):
    """What a person last read of a card, and last acknowledged: the served revision and when. Kept when
    the account ends, so that a hire rehired next season sees only what changed since."""

    __tablename__ = "card_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True, index=True)
    revision_number: Mapped[int]
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_revision: Mapped[int | None]
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PathCompletion(db.Model):
    """When a person first finished a path: the cohort's completion chart counts these."""

    __tablename__ = "path_completions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("paths.id", ondelete="CASCADE"), primary_key=True, index=True)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CheckQuestion(db.Model):
    """A multiple-choice question on a card: one right choice, and why."""

    __tablename__ = "check_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), index=True)
    prompt: Mapped[str] = mapped_column(String(500))
    choices_json: Mapped[str] = mapped_column(Text)
    correct: Mapped[int]  # index into the choices
    explanation: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def choices(self):
        return json.loads(self.choices_json)


class QuestionAnswer(db.Model):
    """A person's answers to one question: the first (what leads' "most missed" counts) and the latest
    (what progress counts: a retry that gets it right completes the card)."""

    __tablename__ = "question_answers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("check_questions.id", ondelete="CASCADE"),
                                             primary_key=True, index=True)
    first_correct: Mapped[bool]
    correct: Mapped[bool]
    choice: Mapped[int]
    attempts: Mapped[int] = mapped_column(default=1)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Push(db.Model):
    """A must-acknowledge item a lead sent to teams mid-season: a card's served revision, due within hours."""

    __tablename__ = "pushes"

    id: Mapped[int] = mapped_column(primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id", ondelete="CASCADE"), index=True)
    revision_number: Mapped[int]
    message: Mapped[str] = mapped_column(String(500), default="")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    team_names: Mapped[str] = mapped_column(String(500), default="")  # as sent, for the lead's list

    card: Mapped[Card] = relationship()
    created_by: Mapped[User | None] = relationship()


class PushReceipt(db.Model):
    """One recipient of a push; open until they acknowledge."""

    __tablename__ = "push_receipts"

    push_id: Mapped[int] = mapped_column(ForeignKey("pushes.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_revision: Mapped[int | None]


def _card_id_of(obj):
    if isinstance(obj, Card):
        return obj.id
    if isinstance(obj, (CardTag, Revision, Flag, CardLink)) or (
            isinstance(obj, Verification) and not _only_change_kind(obj)):
        return obj.card_id
    return None


def _only_change_kind(verification):
    """Re-classifying a change as material or minor changes no card: no feed row, no status refresh."""
    state = inspect(verification)
    if state.pending or state.deleted or state.was_deleted:
        return False
    changed = [a.key for a in state.attrs if a.history.has_changes()]
    return bool(changed) and changed == ["change_kind"]


def _status_relevant(session, user, new_or_deleted):
    """A user change that can change card status (not a login time or a password)."""
    if id(user) in new_or_deleted:
        return True
    state = inspect(user)
    return any(state.attrs[name].history.has_changes() for name in ("active", "expires_on", "role"))


@event.listens_for(Session, "after_flush")
def _record_card_changes(session, flush_context):
    """Write a change-feed row for every card touched by this flush, whatever code path wrote it.

    After the flush every new row has its id; the insert joins the same transaction. The touched cards,
    users and teams are also noted in `session.info` so that their cards' status is refreshed at commit.
    """
    changed = list(session.new) + list(session.deleted)
    # Read once: each `session.new` builds a new set, so asking it per user made a cohort's flush quadratic.
    new_or_deleted = {id(obj) for obj in changed}
    changed += [obj for obj in session.dirty if session.is_modified(obj, include_collections=False)]
    card_ids = {_card_id_of(obj) for obj in changed} - {None}
    user_ids = {obj.id for obj in changed
                if isinstance(obj, User) and _status_relevant(session, obj, new_or_deleted)} | {
        obj.user_id for obj in changed if isinstance(obj, Membership)}
    team_ids = {obj.team_id for obj in changed if isinstance(obj, Membership)}
    if card_ids or user_ids or team_ids:
        touched = session.info.setdefault("kb.touched", {"cards": set(), "users": set(), "teams": set()})
        touched["cards"] |= card_ids
        touched["users"] |= user_ids - {None}
        touched["teams"] |= team_ids - {None}
    if card_ids:
        now = utcnow()
        session.info["kb.feed_written"] = True  # the search index applies it after the commit
        session.connection().execute(
            CardChange.__table__.insert(),
            [{"card_id": card_id, "changed_at": now} for card_id in sorted(card_ids)],
        )

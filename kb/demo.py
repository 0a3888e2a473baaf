"""Seed the demo knowledge base (`kb seed-demo`): idempotent, dates relative to today."""
from datetime import timedelta

from sqlalchemy import func, select

from kb.accounts import operations as accounts
from kb.cards import operations as cards
from kb.dates import utcnow
from kb.demo_content import CARDS, COLLECTIONS, ONBOARDING_PATH, TEAMS, USERS
from kb.extensions import db
from kb.models import VERIFIER_ROLES, Card, Collection, SynonymSet, User
from kb.verification import checker, flags


def database_is_empty():
    return not db.session.scalar(select(func.count()).select_from(User))


def demo_accounts():
    """(e-mail, password, role) of every demo account, for `make run` to print."""
    return [(u["email"], u["password"], u["role"] + ("" if u.get("active", True) else ", deactivated")
             + (f", expires in {u['expires_in_days']} days" if u.get("expires_in_days") else ""))
            for u in USERS]



def _verification_time(state, interval, now):
    """When a card in `state` was last verified, so that it shows that state today."""
    return {
        "verified": now - timedelta(days=max(interval // 4, 1)),
        "due_soon": now - timedelta(days=interval) + timedelta(days=3),
        "lapsed": now - timedelta(days=interval + 10),
        "edited": now - timedelta(days=max(interval // 3, 2)),
    }.get(state)


def _verifier(team, users):
    """An active expert or admin of the team, else the first admin."""
    for user in team.members:
        if user.active and user.role in VERIFIER_ROLES:
            return user
    return next(u for u in users.values() if u.role == "admin")


def seed(now=None, with_cards=True):
    """Create whatever part of the demo data is missing; returns a one-line summary."""
    now = now or utcnow()
    created = {"teams": 0, "users": 0, "collections": 0, "cards": 0}
    teams = {}
    for spec in TEAMS:
        team = accounts.find_team(spec["name"])
        if team is None:
            team = accounts.create_team(name=spec["name"], description=spec.get("description", ""))
            created["teams"] += 1
        teams[spec["name"]] = team
    users = {}
    for spec in USERS:
        user = accounts.find_user(spec["email"])
        if user is None:
            expires = spec.get("expires_in_days")
            user = accounts.create_user(
                email=spec["email"], name=spec["name"], role=spec["role"], password=spec["password"],
                teams=[teams[t] for t in spec.get("teams", [])],
                expires_on=(now + timedelta(days=expires)).date() if expires else None,
            )
            for lead_of in spec.get("lead_of", []):
                accounts.set_membership(teams[lead_of], user, actor=None, is_lead=True)
            created["users"] += 1
        users[spec["key"]] = user
    collections = {}
    for spec in COLLECTIONS:
        coll = db.session.scalar(select(Collection).filter_by(slug=spec["slug"]))
        if coll is None:
            coll = cards.create_collection(
                name=spec["name"], slug=spec["slug"], description=spec.get("description", ""),
                team=teams[spec["team"]], default_interval_days=spec.get("default_interval_days", 90),
                is_public=spec.get("public", False),
            )
            created["collections"] += 1
        collections[spec["slug"]] = coll
    existing = set(db.session.scalars(select(Card.external_id)))
    new_cards = [_seed_card(spec, users, teams, collections, now)
                 for spec in (CARDS if with_cards else ()) if spec["key"] not in existing]
    for card in new_cards:  # links to cards seeded after the linking one
        cards.sync_links(card)
    created["cards"] = len(new_cards)
    # Users deactivated now that they own their cards, before anyone is notified of anything.
    for spec in USERS:
        if not spec.get("active", True) and users[spec["key"]].active:
            users[spec["key"]].active = False
    by_key = {card.external_id: card for card in new_cards}
    for key, who, kind, comment in DEMO_FLAGS:
        if key in by_key:
            flags.flag_card(by_key[key], users[who], kind, comment)
    if new_cards:
        # A month of trust history for the dashboard: the policy evaluated at each past day (what-if).
        db.session.flush()
        for days_ago in range(30, 0, -1):
            instant = now - timedelta(days=days_ago)
            checker.snapshot(checker.evaluate(instant), instant)
    if with_cards and _seed_onboarding(users, teams, now):
        created["onboarding paths"] = 1
    if with_cards and db.session.scalar(select(SynonymSet.id).limit(1)) is None:
        db.session.add_all(SynonymSet(terms=terms, updated_at=now) for terms in SYNONYMS)
        created["synonym sets"] = len(SYNONYMS)
    db.session.flush()
    return "Demo data: " + ", ".join(f"{n} {what} added" for what, n in created.items())


def _seed_onboarding(users, teams, now):
    """The cohort's Day 1–3 path with hires at every stage, check questions and one pushed change."""
    from kb.models import Membership, Path
    from kb.onboarding import paths, progress, pushes, questions, reading

    spec = ONBOARDING_PATH
    if db.session.scalar(select(Path.id).filter_by(name=spec["name"])) is not None:
        return False
    by_key = {c.external_id: c for c in db.session.scalars(select(Card))}
    lead, team = users[spec["lead"]], teams[spec["team"]]
    start = now - timedelta(days=max(h["joined_days_ago"] for h in spec["hires"].values()) + 1)
    path = paths.create_path(name=spec["name"], team=team, actor=lead, description=spec["description"],
                             sections=[title for title, _ in spec["sections"]])
    order = []
    for section, (_, keys) in zip(path.sections, spec["sections"], strict=True):
        for key in keys:
            card = by_key[key.rstrip("!")]
            paths.add_card(path, section, card, lead, must_acknowledge=key.endswith("!"))
            order.append((card, key.endswith("!")))
    asked = {}
    for key, prompt, choices, correct, explanation in spec["questions"]:
        asked[key] = questions.add(by_key[key], prompt=prompt, choices=choices, correct=correct,
                                   explanation=explanation, actor=lead)
    paths.assign(path, actor=lead, team=team, due_days=spec["due_days"], now=start)
    for who, stage in spec["hires"].items():
        user = users[who]
        joined = now - timedelta(days=stage["joined_days_ago"], hours=2)
        db.session.get(Membership, (user.id, team.id)).joined_at = joined
        count = len(order) if stage["read"] == "all" else stage["read"]
        for n, (card, must) in enumerate(order[:count]):
            at = joined + timedelta(minutes=20 * (n + 1))
            old = card.external_id in stage.get("read_old", ())
            revision = 1 if old else card.verified_revision_number
            (reading.acknowledge if must else reading.mark_read)(user, card, revision, now=at)
            question = asked.get(card.external_id)
            if question is not None:
                if who in ("seasonal", "ella"):  # wrong at first, then right after reading again
                    questions.answer(user, question, (question.correct + 1) % len(question.choices), now=at)
                questions.answer(user, question, question.correct, now=at + timedelta(minutes=2))
        finished = progress.note_activity(user, order[0][0].id, now=joined + timedelta(minutes=20 * (count + 1)))
        del finished
    pushes.push(by_key[spec["push"]["card"]], [team], due_hours=spec["push"]["hours"], actor=lead,
                message=spec["push"]["message"], now=now - timedelta(hours=1))
    return True


# Words agents and customers use for the same thing (admins edit them under Synonyms).
SYNONYMS = [
    "cancel, cancellation, void order, call off",
    "refund, money back, reimbursement, reimburse",
    "parcel, package",
    "damaged, broken, defective, faulty, ripped, torn, cracked",
    "return, send back",
    "christmas, xmas",
    "late, delayed, overdue",
    "exchange, swap",
    "double charge, charged twice, duplicate charge",
    "gift card, voucher",
    "wrong address, incorrect address",
]


# Open flags agents raised: (card key, user key, kind, comment).
DEMO_FLAGS = [("damaged-parcel", "sam", "outdated",
               "Customers say the claim form now asks for the box label photo too; the card doesn't mention it.")]

# A card whose wording changed at its last verification, so that the cards linking to it show
# "a linked card changed": (key, old text, new text) of the change.
REWORDED = {"holiday-cutoff-dates": ("**December 21, 1 pm ET**", "**December 22, 1 pm ET**")}
WRITTEN_DAYS_AGO = 400  # demo cards were written and first verified last year


def _seed_card(spec, users, teams, collections, now):
    """A card with a plausible past: written and verified last year, re-verified as its state requires."""
    interval = spec["interval_days"]
    state = spec["state"]
    verified_at = _verification_time(state, interval, now)
    owner = users[spec["owner"]]
    team = teams[spec["verifier_team"]]
    verifier = _verifier(team, users)
    reworded = REWORDED.get(spec["key"]) if verified_at is not None else None
    answer = spec["answer"].replace(reworded[1], reworded[0]) if reworded else spec["answer"]
    written = (verified_at or now) - timedelta(days=WRITTEN_DAYS_AGO if verified_at else 5)
    card = cards.create_card(
        collection=collections[spec["collection"]], owner=owner, verifier_team=team, author=owner,
        title=spec["title"], answer=answer, internal_notes=spec.get("internal_notes", ""),
        tags=spec.get("tags", []), interval_days=interval, is_public=spec.get("public"),
        external_id=spec["key"], now=written,
    )
    if verified_at is None:
        return card
    cards.verify_card(card, verifier, note="First review of the policy text.", at=written + timedelta(days=1))
    if reworded:
        cards.edit_card(card, author=owner, summary="Carrier moved the express cut-off", answer=spec["answer"],
                        now=verified_at - timedelta(hours=2), quiet=True)
    cards.verify_card(card, verifier, note="Checked against the current policy document.", at=verified_at)
    if state == "edited":
        edit = dict(spec["edit"])
        summary = edit.pop("summary", "Policy update")
        cards.edit_card(card, author=owner, summary=summary, now=now - timedelta(days=1), quiet=True, **edit)
    return card

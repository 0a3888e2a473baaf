"""Check questions on a card: multiple choice, one right answer, an explanation. A hire may retry; the
first answer is what "most missed" counts, the latest is what progress counts."""
import json

from sqlalchemy import select

from kb import audit
from kb.dates import utcnow
from kb.extensions import db
from kb.models import CheckQuestion, QuestionAnswer
from kb.validation import Invalid

PROMPT_MAX, CHOICE_MAX, EXPLANATION_MAX = 500, 300, 2000
CHOICES_MIN, CHOICES_MAX = 2, 6


def clean(prompt, choices, correct, explanation):
    errors = {}
    prompt = " ".join((prompt or "").split())
    if not prompt:
        errors["prompt"] = "is required"
    elif len(prompt) > PROMPT_MAX:
        errors["prompt"] = f"is longer than {PROMPT_MAX} characters"
    raw = [" ".join((c or "").split()) for c in choices]
    choices = [c for c in raw if c]
    try:
        correct = int(correct)
    except (TypeError, ValueError):
        correct = -1
    # `correct` points into the choices as given (blank ones included, as a form sends them).
    correct = sum(1 for c in raw[:correct] if c) if 0 <= correct < len(raw) and raw[correct] else -1
    if not CHOICES_MIN <= len(choices) <= CHOICES_MAX:
        errors["choices"] = f"give between {CHOICES_MIN} and {CHOICES_MAX} choices"
    elif any(len(c) > CHOICE_MAX for c in choices):
        errors["choices"] = f"each choice must be at most {CHOICE_MAX} characters"
    elif len({c.casefold() for c in choices}) != len(choices):
        errors["choices"] = "two choices say the same"
    if "choices" not in errors and not 0 <= correct < len(choices):
        errors["correct"] = "mark which choice is right"
    explanation = (explanation or "").strip()
    if len(explanation) > EXPLANATION_MAX:
        errors["explanation"] = f"is longer than {EXPLANATION_MAX} characters"
    if errors:
        raise Invalid(errors)
    return prompt, choices, correct, explanation


def add(card, *, prompt, choices, correct, explanation="", actor):
    prompt, choices, correct, explanation = clean(prompt, choices, correct, explanation)
    position = len(of_cards([card.id]).get(card.id, []))
    question = CheckQuestion(card_id=card.id, prompt=prompt, choices_json=json.dumps(choices), correct=correct,
                             explanation=explanation, position=position, created_by_id=actor and actor.id)
    db.session.add(question)
    db.session.flush()
    audit.record(actor, "question.create", f"card:{card.id}", question=question.id)
    return question


def remove(question, actor):
    audit.record(actor, "question.delete", f"card:{question.card_id}", question=question.id, prompt=question.prompt)
    db.session.delete(question)
    db.session.flush()


def of_cards(card_ids):
    """{card id: [CheckQuestion, …]} in order."""
    out = {}
    if card_ids:
        rows = db.session.scalars(select(CheckQuestion).where(CheckQuestion.card_id.in_(set(card_ids)))
                                  .order_by(CheckQuestion.card_id, CheckQuestion.position, CheckQuestion.id))
        for question in rows:
            out.setdefault(question.card_id, []).append(question)
    return out


def answers_of(user_id, question_ids):
    if not question_ids:
        return {}
    rows = db.session.scalars(select(QuestionAnswer).where(
        QuestionAnswer.user_id == user_id, QuestionAnswer.question_id.in_(question_ids)))
    return {row.question_id: row for row in rows}


def answer(user, question, choice, now=None):
    """Record an answer; returns the QuestionAnswer (its `correct` says whether this one was right)."""
    try:
        choice = int(choice)
    except (TypeError, ValueError):
        raise Invalid({"choice": "choose one of the answers"}) from None
    if not 0 <= choice < len(question.choices):
        raise Invalid({"choice": "choose one of the answers"})
    now = now or utcnow()
    right = choice == question.correct
    row = db.session.get(QuestionAnswer, (user.id, question.id))
    if row is None:
        row = QuestionAnswer(user_id=user.id, question_id=question.id, first_correct=right, correct=right,
                             choice=choice, attempts=1, answered_at=now)
        db.session.add(row)
    else:
        row.correct, row.choice, row.attempts, row.answered_at = right, choice, row.attempts + 1, now
    db.session.flush()
    return row

"""Forms of the verification workflow: flags, dismissals, bulk actions."""
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from kb.cards.forms import options
from kb.models import FLAG_KINDS

KIND_LABELS = {"outdated": "Outdated: the policy changed", "incorrect": "Incorrect: the answer is wrong",
               "unclear": "Unclear: customers or agents misread it"}


class FlagForm(FlaskForm):
    kind = SelectField("What is wrong?", choices=options((kind, KIND_LABELS[kind]) for kind in FLAG_KINDS))
    comment = TextAreaField("Comment for the verifiers", validators=[Length(max=2000)])


class DismissForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[DataRequired(message="give a reason: the agent who raised the flag "
                                                                       "will read it"), Length(max=2000)])


class BulkForm(FlaskForm):
    """Selected cards in the queue, and what to do with them."""
    cards = SelectMultipleField("Cards", coerce=int, validators=[DataRequired(message="Select at least one card.")])
    action = SelectField("Action", choices=options([("verify", "Verify"), ("reassign", "Reassign")]))
    note = StringField("Verification note (what did you check?)", validators=[Length(max=2000)])
    source_url = StringField("Source link", validators=[Length(max=500)])
    owner = SelectField("New owner", coerce=int, default=0)
    verifier_team = SelectField("New verifying team", coerce=int, default=0)


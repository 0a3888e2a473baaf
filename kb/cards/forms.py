"""Card, verification and collection forms. Validation of content lives in operations, not here."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

INTERVALS = {"7": "Weekly (7 days)", "30": "Monthly (30 days)", "90": "Quarterly (90 days)",
             "180": "Twice a year (180 days)", "365": "Yearly (365 days)", "custom": "Custom…"}


def options(pairs):
    """Select options from (value, label) pairs."""
    return [SelectChoice(str(value), label) for value, label in pairs]


# What a change to the served wording means for the people who read it (kb.onboarding.reading).
CHANGE_CHOICES = options([("material", "Material: send the card back to them, with what changed"),
                          ("minor", "Minor (a typo, a format): nobody is disturbed")])


class CardForm(FlaskForm):
    title = StringField("Question, as a customer asks it", validators=[DataRequired(), Length(max=200)])
    answer = TextAreaField("Customer-facing answer (Markdown)", validators=[DataRequired()])
    internal_notes = TextAreaField("Internal notes for agents (Markdown)")
    tags = StringField("Tags (comma-separated)")
    collection = SelectField("Collection", coerce=int)
    owner = SelectField("Owner", coerce=int)
    verifier_team = SelectField("Verifying team", coerce=int)
    interval = SelectField("Verify every", choices=options(INTERVALS.items()))
    custom_days = IntegerField("Custom interval (days)", validators=[Optional(), NumberRange(1, 3650)])
    is_public = BooleanField("Public: may be served to the chatbot and the FAQ once verified")
    summary = StringField("What changed (for the history)", validators=[Length(max=300)])
    verify_after = BooleanField("Verify this revision as I save it (edit and verify)")
    change_kind = RadioField("For people who read the verified wording", default="material", choices=CHANGE_CHOICES,
                             validators=[Optional()])
    # The collection whose defaults (interval, audience, verifying team) the form was filled with: what the
    # author leaves at those defaults follows the collection finally chosen (see views.follow_collection).
    defaults_from = HiddenField()

    def interval_days(self):
        if self.interval.data == "custom":
            return self.custom_days.data
        return int(self.interval.data)

    def set_interval(self, days):
        if str(days) in INTERVALS:
            self.interval.data = str(days)
        else:
            self.interval.data, self.custom_days.data = "custom", days

    def validate(self, extra_validators=None):
        valid = super().validate(extra_validators)
        # Checked here, not inline: Optional() on the field would stop an inline validator.
        if self.interval.data == "custom" and not self.custom_days.data and not self.custom_days.errors:
            self.custom_days.errors = ["Enter the number of days."]
            return False
        return valid


class VerifyForm(FlaskForm):
    note = TextAreaField("What did you check? (optional)", validators=[Length(max=2000)])
    source_url = StringField("Source link (optional)", validators=[Length(max=500)])
    # Asked when verifying changes the served wording (kb.onboarding.reading): there is no default, so
    # the verifier says it; a minor change (a typo) disturbs nobody who read the old wording.
    change_kind = RadioField("For people who read the wording served until now", choices=CHANGE_CHOICES,
                             validators=[Optional()])
    # The revision the verifier read: a save since then makes the verification a conflict, not a blind approval.
    revision = HiddenField()


class CollectionForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    slug = StringField("Slug (in the URL)", validators=[Optional(), Length(max=80)])
    description = TextAreaField("Description", validators=[Length(max=2000)])
    team = SelectField("Owning team", coerce=int)
    default_interval_days = IntegerField("Default verification interval (days)", default=90,
                                         validators=[DataRequired(), NumberRange(1, 3650)])
    is_public = BooleanField("Public collection (its cards appear in the FAQ and to the chatbot by default)")

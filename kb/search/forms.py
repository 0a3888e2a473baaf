"""Forms of the search pages: synonym sets and card requests from the gap report."""
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length


class SynonymForm(FlaskForm):
    terms = TextAreaField("Words and phrases that mean the same, separated by commas",
                          validators=[DataRequired(message="give at least two words"), Length(max=2000)])


class SynonymImportForm(FlaskForm):
    text = TextAreaField("One set per line (replaces every set)",
                         validators=[DataRequired(message="paste at least one line"), Length(max=200_000)])


class RequestForm(FlaskForm):
    normalized = HiddenField(validators=[DataRequired(), Length(max=300)])
    team = SelectField("Team", coerce=int, default=0)

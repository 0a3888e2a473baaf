"""Form plumbing shared by the views: run a write, commit once, and show refused input on its fields."""
from flask import flash

from kb.extensions import db
from kb.validation import Invalid


def save(form, write, aliases=None):
    """Run a write and commit it: returns (True, result). If the input is refused, roll back, show each
    reason on its form field (renamed through `aliases`) and return (False, None)."""
    try:
        result = write()
    except Invalid as exc:
        db.session.rollback()
        for name, message in exc.errors.items():
            field = getattr(form, (aliases or {}).get(name, name), None)
            (field.errors if field is not None else form.form_errors).append(message[0].upper() + message[1:])
        return False, None
    db.session.commit()
    return True, result


def flash_form_errors(form, prefix):
    """One flash with every reason a form was refused (for forms that redirect instead of re-rendering)."""
    messages = [m for errors in form.errors.values() for m in errors if isinstance(m, str)] + list(form.form_errors)
    flash(prefix + ": " + "; ".join(messages), "error")

"""The one refusal type for user input, shared by every operation, form, import and command."""


class Invalid(ValueError):
    """Refused input; `errors` maps a field name to the reason. Nothing was changed."""

    def __init__(self, errors):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

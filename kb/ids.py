"""Ids as the database holds them: route converters and query-string parsing that turn an id no column
can hold into a 404 or a "no such id", never a 500."""
from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # the largest id an Integer column holds on every backend (PostgreSQL: int4)


class DatabaseInt(IntegerConverter):
    """`<int:…>` in every route: only ids a database column can hold, so a huge number is a 404, not a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def db_int(value):
    """`type=` for ids read from query strings and forms: a positive id a column can hold, else ValueError
    (so `request.args.get(name, type=db_int)` gives None)."""
    number = int(value)
    if not 0 < number <= MAX_ID:
        raise ValueError(f"{value!r} is not an id")
    return number

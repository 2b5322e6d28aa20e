"""``limit`` / ``offset`` of the list endpoints (guide: "limit ... -1 = all, default 50").

``limit`` is -1 (everything) or a positive number of records; ``offset`` counts records
from 0. JSON bodies must carry integers (``"50"`` is a wrong type); query strings carry text.
"""

from rest_framework import serializers

DEFAULT_LIMIT = 50
ALL = -1
MAX_INT = 2_147_483_647
INVALID_LIMIT_OR_OFFSET = "Invalid limit or offset value"


class StrictIntegerField(serializers.IntegerField):
    """An integer that must be a JSON number (not a string, not a boolean, not 5.0)."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


def limit_field(strict=True):
    field = StrictIntegerField if strict else serializers.IntegerField
    return field(
        required=False,
        default=DEFAULT_LIMIT,
        min_value=ALL,
        max_value=MAX_INT,
        help_text="Records to return (page size); -1 for all. Default 50.",
    )


def offset_field(strict=True):
    field = StrictIntegerField if strict else serializers.IntegerField
    return field(
        required=False,
        default=0,
        min_value=0,
        max_value=MAX_INT,
        help_text="Records to skip (0 for the first page, then 50, 100, ... with limit 50).",
    )


def check_limit(limit):
    """0 is no page at all: refused like any other bad limit."""
    if limit == 0:
        raise serializers.ValidationError("A limit is -1 or at least 1.")
    return limit


def window(limit, offset, cap=None):
    """(start, stop) of the records to return; stop None is "to the end"."""
    if limit == ALL:
        return offset, (offset + cap if cap else None)
    return offset, offset + limit


def page(rows, limit, offset, cap=None):
    """A slice of a list or queryset (a queryset slice is LIMIT / OFFSET in SQL)."""
    start, stop = window(limit, offset, cap)
    return rows[start:stop]

"""How values look on the wire (the guide's examples)."""

import datetime
import re

from django.utils import timezone


def api_datetime(value):
    """``2017-05-23T12:34:35Z`` (UTC), or "" when there is none."""
    if value is None:
        return ""
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def api_date(value):
    """``2017-05-18``, or "" when there is none (a perpetual line has no dates)."""
    return value.isoformat() if value else ""


def now():
    return timezone.now()


def wire_boolean(value):
    """``"true"`` / ``"false"``: a boolean as CSSM's Smart Accounts API writes ``isDefault`` (a
    string, which scripts written for the vendor compare with ``'true'``)."""
    return "true" if value else "false"


# The guide's dates in messages: "Jul 15, 2017" (English month names whatever the language).
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def message_date(value):
    """``Jul 15, 2017``: a date as the guide's alert messages write it."""
    return f"{MONTHS[value.month - 1]} {value.day}, {value.year}"


def _guide_date(match):
    try:
        return message_date(datetime.date(int(match[1]), int(match[2]), int(match[3])))
    except ValueError:
        return match[0]


def guide_text(text):
    """A message as the guide's API examples write it: straight double quotes (``\"Physics\"``
    in the JSON) rather than curly ones, dates as ``Jul 15, 2017`` rather than ISO."""
    return _ISO_DATE.sub(_guide_date, text.replace("\u201c", '"').replace("\u201d", '"'))

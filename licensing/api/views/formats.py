"""How values look on the wire (the guide's examples)."""

import datetime

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

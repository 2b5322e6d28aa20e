"""A license's usage in a local virtual account over time, from the history the server really keeps.

The server stores no daily snapshot of usage, so the history is the reported one: for each day,
the sum over product instances of the count in the last usage (RUM) report each of them sent that
lists the license. Product instances that only AUTHORIZE are not in it, and the answer says how
many of them use the license now. Why, and what it costs: docs/licensing-workspace.md, "Where the
usage history comes from".
"""

import datetime
import json
from dataclasses import dataclass, field

from django.utils import timezone

from ..models import LicenseUsage, RumReport

DAY_CHOICES = (7, 30, 90)
DEFAULT_DAYS = 30


@dataclass
class UsageHistory:
    days: int
    # [(date, reported count or None before the first report that lists the license)]
    points: list = field(default_factory=list)
    reports: int = 0  # reports that list the license (up to the last day)
    reporting_instances: int = 0  # product instances that sent at least one of them
    first_report_at: datetime.datetime | None = None
    last_report_at: datetime.datetime | None = None
    # Product instances using the license now that never reported it: not in the chart.
    unreported_instances: int = 0

    @property
    def has_data(self):
        return any(value is not None for _day, value in self.points)

    @property
    def too_little(self):
        """Reports from fewer instances than use the license without reporting: a line drawn from
        them would sit near zero under the licenses in use, so the page says so instead."""
        return self.has_data and self.unreported_instances > self.reporting_instances

    @property
    def values(self):
        return [value for _day, value in self.points if value is not None]


def clamp_days(value):
    """A ``?days=`` value: one of DAY_CHOICES, anything else the default."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_DAYS
    return days if days in DAY_CHOICES else DEFAULT_DAYS


def _counts(payload, tag):
    """The count of ``tag`` in one report's payload (the last line naming it wins), or None."""
    try:
        usage = json.loads(payload).get("usage") or []
    except (ValueError, AttributeError):
        return None  # stored byte-for-byte; a payload that is not an object has no usage to read
    found = None
    for line in usage:
        if isinstance(line, dict) and line.get("tag") == tag and isinstance(line.get("count"), int):
            found = line["count"]
    return found


def reported_usage(virtual_account, license, *, days=DEFAULT_DAYS, today=None):
    """The reported usage of ``license`` in ``virtual_account`` on each of the last ``days`` days."""
    today = today or timezone.localdate()
    first_day = today - datetime.timedelta(days=days - 1)
    zone = timezone.get_current_timezone()

    def day_end(day):
        return datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(), tzinfo=zone)

    history = UsageHistory(days=days)
    rows = (
        RumReport.objects.filter(
            account_id=virtual_account.account_id,
            product_instance__virtual_account=virtual_account,
            received_at__lt=day_end(today),
            payload__contains=license.entitlement_tag,
        )
        .order_by("received_at", "id")
        .values_list("product_instance_id", "received_at", "payload")
    )
    latest = {}  # product instance -> its last reported count so far
    reports = []
    for pi_id, received_at, payload in rows.iterator():
        count = _counts(payload, license.entitlement_tag)
        if count is not None:
            reports.append((pi_id, received_at, count))
    history.reports = len(reports)
    if reports:
        history.first_report_at, history.last_report_at = reports[0][1], reports[-1][1]
    index = 0
    for offset in range(days):
        day = first_day + datetime.timedelta(days=offset)
        end = day_end(day)
        while index < len(reports) and reports[index][1] < end:
            pi_id, _received, count = reports[index]
            latest[pi_id] = count
            index += 1
        history.points.append((day, sum(latest.values()) if latest else None))
    reporting = {pi_id for pi_id, _r, _c in reports}
    history.reporting_instances = len(reporting)
    using_now = set(
        LicenseUsage.objects.filter(license=license, product_instance__virtual_account=virtual_account).values_list(
            "product_instance_id", flat=True
        )
    )
    history.unreported_instances = len(using_now - reporting)
    return history


__all__ = ["reported_usage", "UsageHistory", "clamp_days", "DAY_CHOICES", "DEFAULT_DAYS"]

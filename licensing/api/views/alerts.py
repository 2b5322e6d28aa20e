"""14. Alerts of a local account, for the virtual accounts the caller may see."""

import datetime
import re

from django.utils import timezone
from drf_spectacular.utils import extend_schema

from core.english import english_display

from ...models import Alert
from ...services.alerts import action_due_text, days_until, visible_alerts
from .. import schemas
from ..cursors import Keyset, cursor_page
from ..lookups import account_named, chosen_virtual_accounts, left_out_message
from ..pagination import page
from ..replies import SUCCESS, ApiView, reply, validate
from ..serializers import AlertsSerializer
from .formats import guide_text

# "If the limit is set to -1, the first 1000 alerts matching the request criteria will be fetched."
ALL_ALERTS_CAP = 1000
SEVERITIES = {AlertsSerializer.MAJOR: Alert.Severity.MAJOR, AlertsSerializer.MINOR: Alert.Severity.MINOR}
# The Alerts tab's order, "Severity, and then Action Due" (None is "Now"), the id breaking ties.
ORDER = ("severity", "action_due", "pk")
KEYSET = Keyset(
    "alerts",
    ORDER,
    (str, datetime.datetime, int),
    nullable={"action_due"},
    key_of=lambda alert: (alert.severity, alert.action_due, alert.pk),
)


def action_due(alert, now):
    return action_due_text(alert.action_due, now)


# The day count an alert's message was written with (when it was raised), and the words for a
# count on the day it is read, so the message says what ``actionDue`` says.
_EXPIRES = re.compile(r"set to expire (today|in 1 day|in \d+ days) on")
_CONNECTS = re.compile(r"does not connect (today|within the next 1 day|within the next \d+ days)")


def _in_days(days, prefix):
    if days <= 0:
        return "today"
    return f"{prefix} 1 day" if days == 1 else f"{prefix} {days} days"


def alert_message(alert, now):
    """The alert's text as of ``now`` in the guide's words: its day count recomputed as
    ``actionDue``'s (the stored text keeps the count of the day it was raised), straight quotes
    and ``Jul 15, 2017`` dates (``formats.guide_text``)."""
    text = alert.message
    if alert.action_due is not None:
        days = days_until(alert.action_due, now)
        text = _EXPIRES.sub(lambda m: f"set to expire {_in_days(days, 'in')} on", text)
        text = _CONNECTS.sub(lambda m: f"does not connect {_in_days(days, 'within the next')}", text)
    return guide_text(text)


def alert_record(alert, now):
    va = alert.virtual_account
    record = {
        "virtualAccount": va.name if va else "",
        "message": alert_message(alert, now),
        "severity": english_display(alert, "severity"),
        "messageType": english_display(alert, "alert_type"),
        "actionDue": action_due(alert, now),
        "source": va.name if va else alert.account.name,
        "sourceType": "Virtual Account" if va else "Account",
    }
    if alert.license is not None:
        record["license"] = alert.license.name
    if alert.product_instance is not None:
        record["productInstanceHostName"] = alert.product_instance.display_name
    return record


class AlertsView(ApiView):
    @extend_schema(
        operation_id="alerts",
        summary="Alerts",
        request=AlertsSerializer,
        responses=schemas.responses(schemas.AlertsReply),
    )
    def post(self, request, account):
        account = account_named(
            request, account, refusal="Not Authorized to access alerts for local Account '{domain}'"
        )
        data = validate(AlertsSerializer, request.data)
        vas, left_out = chosen_virtual_accounts(
            request,
            account,
            data.get("virtualAccounts"),
            refusal="Not Authorized to access alerts for specified local Virtual Accounts",
        )
        now = timezone.now()
        # The alerts the Alerts tab shows (open, not postponed), with the same visibility rule.
        alerts = visible_alerts(request, account, vas).visible(now)
        if data.get("virtualAccounts"):
            alerts = alerts.filter(virtual_account__in=vas)
        if data.get("severity"):
            alerts = alerts.filter(severity__in=[SEVERITIES[s] for s in data["severity"]])
        cursor = cursor_page(
            KEYSET, data, account, virtualAccounts=data.get("virtualAccounts"), severity=data.get("severity")
        )
        alerts = alerts.select_related("account", "virtual_account", "license", "product_instance").order_by(*ORDER)
        total = alerts.count()
        if cursor is None:
            shown, extra = page(alerts, data["limit"], data["offset"], cap=ALL_ALERTS_CAP), {}
        else:
            # limit -1 is the first 1000 from the cursor on; next_cursor goes on from there.
            shown = list(cursor.rows(alerts, data["limit"], cap=ALL_ALERTS_CAP))
            extra = {"next_cursor": cursor.next_cursor}
        return reply(
            left_out_message(account, left_out),
            result=SUCCESS,
            totalRecords=total,
            alerts=[alert_record(alert, now) for alert in shown],
            **extra,
        )

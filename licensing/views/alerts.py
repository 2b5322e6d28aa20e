"""Smart Licensing > Alerts: the account's open alerts, for the virtual accounts one may see.

Hidden by default: dismissed alerts and those postponed by Remind Later until their date
("Show dismissed" lists them too). Dismiss and Remind Later are offered only for the alert
types the service allows them on (``DISMISSIBLE`` / ``REMINDABLE``), and go through it: a
refusal is shown as a message and nothing is written. An alert of another local account, or
of a virtual account the user may not see, is not found (404).
"""

from django import forms
from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts.rbac import visible_virtual_accounts
from core.listing import Listing
from core.service_views import service_errors

from ..models import Alert
from ..services import alerts as alert_service
from .workspace import account_page, render_workspace


class AlertFilterForm(forms.Form):
    severity = forms.ChoiceField(
        label=gettext_lazy("Severity"),
        required=False,
        choices=[("", gettext_lazy("All severities")), *Alert.Severity.choices],
    )
    va = forms.ModelChoiceField(
        label=gettext_lazy("Virtual Account"),
        required=False,
        queryset=None,
        empty_label=gettext_lazy("All virtual accounts"),
    )
    show_dismissed = forms.BooleanField(label=gettext_lazy("Show dismissed and postponed alerts"), required=False)
    q = forms.CharField(
        label=gettext_lazy("Search"), required=False, max_length=200, widget=forms.TextInput(attrs={"type": "search"})
    )

    def __init__(self, *args, virtual_accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["va"].queryset = virtual_accounts

    def filter(self, alerts, now):
        data = self.cleaned_data if self.is_bound else {}
        if data.get("show_dismissed"):
            alerts = alerts.live()
        else:
            alerts = alerts.visible(now)
        if data.get("severity"):
            alerts = alerts.filter(severity=data["severity"])
        if data.get("va"):
            alerts = alerts.filter(virtual_account=data["va"])
        return alerts


@account_page
def alerts(request, account):
    now = timezone.now()
    vas = visible_virtual_accounts(request, account)
    form = AlertFilterForm(request.GET or None, virtual_accounts=vas)
    form.is_valid()  # an invalid filter is shown with its error and not applied
    rows = form.filter(alert_service.visible_alerts(request, account, vas), now).select_related("virtual_account")
    # No default sort: the model's order is the guide's "Severity, and then Action Due".
    table = Listing(
        request,
        rows,
        search=["message", "virtual_account__name"],
        sorts={
            "message": "message",
            "severity": "severity",
            "va": "virtual_account__name",
            "action_due": "action_due",
            "type": "alert_type",
            "created": "opened_at",
        },
        page_size=50,
    )
    for alert in table.page:
        is_open = alert.status == Alert.Status.OPEN
        alert.may_dismiss = is_open and alert.alert_type in alert_service.DISMISSIBLE
        alert.may_remind = is_open and alert.alert_type in alert_service.REMINDABLE
        alert.postponed = is_open and alert.remind_until is not None and alert.remind_until > now
    return render_workspace(
        request, "licensing/alerts.html", {"form": form, "table": table}, account=account, section="alerts"
    )


def _back(request, account):
    """Back to the Alerts tab, keeping the filters, sort and page the buttons were pressed on."""
    url = reverse("licensing_alerts", args=[account.pk])
    query = QueryDict(request.POST.get("query", "")).urlencode()
    return redirect(f"{url}?{query}" if query else url)


def _alert_or_404(request, account, alert_id):
    return get_object_or_404(
        alert_service.visible_alerts(request, account).select_related("account", "virtual_account"), pk=alert_id
    )


@account_page
@require_POST
def alert_dismiss(request, account, alert_id):
    alert = _alert_or_404(request, account, alert_id)
    with service_errors(request):
        alert_service.dismiss_alert(actor=request.user, alert=alert)
        messages.success(request, _("The alert was dismissed."))
    return _back(request, account)


@account_page
@require_POST
def alert_remind_later(request, account, alert_id):
    alert = _alert_or_404(request, account, alert_id)
    with service_errors(request):
        alert = alert_service.remind_later(actor=request.user, alert=alert)
        messages.success(
            request,
            _("The alert is hidden until %(date)s.")
            % {"date": date_format(timezone.localtime(alert.remind_until), "DATETIME_FORMAT")},
        )
    return _back(request, account)

"""Smart Licensing > Alerts: the account's open alerts, for the virtual accounts one may see.

Two views of one page, as the guide has them. The local account view (no virtual account
chosen) lists every alert of the account and, above it, the number of Major and Minor alerts.
The virtual account view (``?va=``) turns those two numbers into toggle buttons (show or hide
the Major / Minor alerts of that virtual account) and adds "Hide Alerts", which collapses the
list and keeps the numbers; the three are the user's own (``UserPreference``), kept between
visits. The CSV export is the list as filtered (search, sort, toggles), every page.

Hidden by default: dismissed alerts and those postponed by Remind Later until their date
("Show dismissed" lists them too). Each row's Actions menu is the guide's Alert Actions
(``alert_service.alert_actions``), offered only where the principal may do them: Transfer
Licenses and Remove Instance go to the Inventory's own views, forms and services (the same
checks; they come back here), Dismiss and Remind Later go through the alerts service. A refusal
is shown as a message and nothing is written. An alert of another local account, or of a
virtual account the user may not see, is not found (404).
"""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from accounts.rbac import Action, can, visible_virtual_accounts
from core.csv_export import csv_response
from core.listing import Listing
from core.service_views import service_errors

from ..models import Alert
from ..services import alerts as alert_service
from ..services import compliance
from ..services import preferences as preference_service
from .inventory.page import FROM_ALERTS
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

    @property
    def virtual_account(self):
        return self.cleaned_data.get("va") if self.is_bound and self.is_valid() else None

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


SORTS = {
    "message": "message",
    "severity": "severity",
    "va": "virtual_account__name",
    "action_due": "action_due",
    "type": "alert_type",
    "created": "opened_at",
}


class AlertsPage:
    """What the page and its CSV share: the filters, the virtual account view and its toggles."""

    def __init__(self, request, account, now):
        self.vas = visible_virtual_accounts(request, account)
        self.form = AlertFilterForm(request.GET or None, virtual_accounts=self.vas)
        self.form.is_valid()  # an invalid filter is shown with its error and not applied
        self.va = self.form.virtual_account
        self.view = preference_service.preferences_of(request.user, account) if self.va else None
        alerts = alert_service.visible_alerts(request, account, self.vas)
        self.alerts = alerts
        rows = self.form.filter(alerts, now)
        if self.va is not None:
            shown = [
                severity
                for severity, on in (
                    (Alert.Severity.MAJOR, self.view.alerts_show_major),
                    (Alert.Severity.MINOR, self.view.alerts_show_minor),
                )
                if on
            ]
            rows = rows.filter(severity__in=shown)
        self.table = Listing(
            request,
            rows.select_related("virtual_account", "license", "product_instance"),
            search=[
                "message",
                "virtual_account__name",
            ],
            sorts=SORTS,
            page_size=50,
        )

    def counts(self, now):
        """The guide's alert icons: the number of Major and Minor alerts listed (open, not postponed)."""
        scope = self.alerts.visible(now)
        if self.va is not None:
            scope = scope.filter(virtual_account=self.va)
        found = dict(scope.order_by().values_list("severity").annotate(n=Count("pk")))
        return {"major": found.get(Alert.Severity.MAJOR, 0), "minor": found.get(Alert.Severity.MINOR, 0)}


def _row_actions(request, account, alert, vas):
    """The Actions menu of one row: the guide's actions the principal may do (in memory)."""
    va = alert.virtual_account
    offered = []
    for action in alert_service.alert_actions(alert):
        if action == alert_service.TRANSFER_LICENSES:
            if alert_service.TRANSFERS[alert.alert_type] == alert_service.TRANSFER_IN:
                allowed = any(_may_transfer(request, account, other, va) for other in vas if other.pk != va.pk)
            else:
                allowed = any(_may_transfer(request, account, va, other) for other in vas if other.pk != va.pk)
            if allowed:
                offered.append(action)
        elif action == alert_service.REMOVE_INSTANCE:
            if can(request, Action.REMOVE_PRODUCT_INSTANCES, account=account, virtual_account=va):
                offered.append(action)
        elif action == alert_service.UPDATE_RESERVATION:
            if can(request, Action.RESERVE_LICENSES, account=account, virtual_account=va):
                offered.append(action)
        else:
            offered.append(action)
    return offered


def _may_transfer(request, account, from_va, to_va):
    return can(request, Action.TRANSFER, account=account, virtual_account=from_va, to_virtual_account=to_va)


@account_page
@require_GET
def alerts(request, account):
    now = timezone.now()
    page = AlertsPage(request, account, now)
    vas = list(page.vas)
    hidden = page.view is not None and page.view.alerts_hidden
    rows = [] if hidden else list(page.table.page)
    for alert in rows:
        alert.actions = _row_actions(request, account, alert, vas)
        alert.due_text = alert_service.action_due_text(alert.action_due, now)
        alert.postponed = (
            alert.status == Alert.Status.OPEN and alert.remind_until is not None and alert.remind_until > now
        )
    csv_query = request.GET.copy()
    csv_query.pop("page", None)
    return render_workspace(
        request,
        "licensing/alerts.html",
        {
            "form": page.form,
            "table": page.table,
            "rows": rows,
            "counts": page.counts(now),
            "chosen_va": page.va,
            "view": page.view,
            "hidden": hidden,
            "csv_url": f"{reverse('licensing_alerts_csv', args=[account.pk])}?{csv_query.urlencode()}",
            "actions": {
                "transfer": alert_service.TRANSFER_LICENSES,
                "remove": alert_service.REMOVE_INSTANCE,
                "update_reservation": alert_service.UPDATE_RESERVATION,
                "dismiss": alert_service.DISMISS,
                "remind": alert_service.REMIND_LATER,
            },
        },
        account=account,
        section="alerts",
    )


@account_page
@require_GET
def alerts_csv(request, account):
    """The alerts as listed (the same filters, toggles, search and sort), every page, streamed."""
    now = timezone.now()
    page = AlertsPage(request, account, now)
    rows = page.table.paginator.object_list

    def when(value):
        return value.isoformat() if value else ""

    name = f"alerts_{page.va.name if page.va else account.name}_{now:%Y%m%d%H%M%S}.csv"
    return csv_response(
        get_valid_filename(name),
        ["Message", "Severity", "Virtual Account", "Action Due", "Due Date", "Source", "Created", "Status"],
        (
            [
                alert.message,
                alert.get_severity_display(),
                alert.virtual_account.name if alert.virtual_account else "Local Account",
                alert_service.action_due_text(alert.action_due, now),
                when(alert.action_due),
                alert.get_alert_type_display(),
                when(alert.opened_at),
                alert.get_status_display(),
            ]
            for alert in rows.iterator(chunk_size=500)
        ),
    )


def _back(request, account):
    """Back to the Alerts tab, keeping the filters, sort and page the buttons were pressed on."""
    url = reverse("licensing_alerts", args=[account.pk])
    query = QueryDict(request.POST.get("query", "")).urlencode()
    return redirect(f"{url}?{query}" if query else url)


def _alert_or_404(request, account, alert_id):
    return get_object_or_404(
        alert_service.visible_alerts(request, account).select_related(
            "account", "virtual_account", "license", "product_instance"
        ),
        pk=alert_id,
    )


@account_page
@require_POST
def alert_view(request, account):
    """The virtual account view's toggles: Major, Minor (show or hide them) and Hide Alerts."""
    toggle = {"major": "alerts_show_major", "minor": "alerts_show_minor", "hidden": "alerts_hidden"}.get(
        request.POST.get("toggle", "")
    )
    if toggle is None:
        raise Http404("No such toggle.")
    current = getattr(preference_service.preferences_of(request.user, account), toggle)
    with service_errors(request):
        preference_service.set_alert_view(actor=request.user, account=account, **{toggle: not current})
    return _back(request, account)


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


def transfer_url(account, from_va, license, **params):
    query = QueryDict(mutable=True)
    query.update({"from": FROM_ALERTS, **{k: v for k, v in params.items() if v}})
    return f"{reverse('licensing_license_transfer', args=[account.pk, from_va.pk, license.pk])}?{query.urlencode()}"


@account_page
@require_GET
def alert_transfer(request, account, alert_id):
    """Transfer Licenses from an alert. Insufficient Licenses: "the transfer options for the
    license type, and the licenses in overage (available for transfer)" in the other virtual
    accounts, each opening the Inventory's transfer into the short pool, pre-filled. Duplicate
    Licenses: the Inventory's transfer out of the pool."""
    alert = _alert_or_404(request, account, alert_id)
    if alert_service.TRANSFER_LICENSES not in alert_service.alert_actions(alert):
        raise Http404("This alert has no Transfer Licenses.")
    va, license = alert.virtual_account, alert.license
    va.account = account
    vas = list(visible_virtual_accounts(request, account))
    if alert_service.TRANSFERS[alert.alert_type] == alert_service.TRANSFER_OUT:
        if not any(_may_transfer(request, account, va, other) for other in vas if other.pk != va.pk):
            raise PermissionDenied
        return redirect(transfer_url(account, va, license))
    sources = [other for other in vas if other.pk != va.pk and _may_transfer(request, account, other, va)]
    if not sources:
        raise PermissionDenied
    positions = [
        p for p in compliance.license_positions(account, virtual_accounts=[*sources, va]) if p.license_id == license.pk
    ]
    here = next((p for p in positions if p.virtual_account_id == va.pk), None)
    shortage = here.shortage if here else 0
    by_id = {other.pk: other for other in sources}
    overage = []
    for p in positions:
        if p.virtual_account_id in by_id and p.available > 0:
            source = by_id[p.virtual_account_id]
            quantity = min(p.available, shortage) if shortage else p.available
            overage.append({"position": p, "url": transfer_url(account, source, license, to=va.pk, quantity=quantity)})
    return render_workspace(
        request,
        "licensing/alert_transfer.html",
        {"alert": alert, "virtual_account": va, "license": license, "shortage": shortage, "overage": overage},
        account=account,
        section="alerts",
    )

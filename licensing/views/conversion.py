"""Smart Licensing > Convert to Smart Licensing: Conversion History and Conversion Settings.

Everyone who sees the account sees the history and the settings of the local virtual accounts
they see; only an Account Administrator (or a System Admin / Operator) applies settings
(``Action.MANAGE_DLC_SETTINGS``), anyone else gets 403 on Apply.
"""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts.rbac import Action, can, visible_virtual_accounts
from core.csv_export import csv_response
from core.errors import NotAllowed
from core.listing import Listing
from core.service_views import service_errors
from licensing.models import Conversion, ConversionSettings
from licensing.services import conversion as conversion_service

from .workspace import account_page, render_workspace

CONVERSION_TABS = [
    ("history", gettext_lazy("Conversion History"), "licensing_conversion"),
    ("settings", gettext_lazy("Conversion Settings"), "licensing_conversion_settings"),
]
HISTORY_SORTS = {
    "name": "product_instance_name",
    "device": "device_identifier",
    "family": "product_family",
    "status": "status",
    "time": "decided_at",
    "requested": "requested_at",
}


class SettingsForm(forms.Form):
    mode = forms.ChoiceField(
        label=gettext_lazy("Device Led Conversion"), choices=ConversionSettings.Mode.choices, widget=forms.RadioSelect
    )
    virtual_accounts = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Local Virtual Accounts"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, virtual_accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["virtual_accounts"].queryset = virtual_accounts


def render_conversion(request, account, tab, template, context, status=200):
    page = {
        "conversion_tabs": [
            {"key": key, "label": label, "url": reverse(url_name, args=[account.pk]), "current": key == tab}
            for key, label, url_name in CONVERSION_TABS
        ]
    }
    page.update(context)
    return render_workspace(request, template, page, account=account, section="conversion", status=status)


def _filters(request):
    return {key: request.GET.get(key, "").strip()[:200] for key in ("device", "family")}


def history_table(request, account):
    rows = conversion_service.history(account, visible_virtual_accounts(request, account), **_filters(request))
    return Listing(request, rows, sorts=HISTORY_SORTS, default_sort="-requested")


@account_page
@require_GET
def history(request, account):
    params = request.GET.copy()
    params.pop("page", None)
    return render_conversion(
        request,
        account,
        "history",
        "licensing/conversion/history.html",
        {
            "table": history_table(request, account),
            "filters": _filters(request),
            "csv_url": f"{reverse('licensing_conversion_csv', args=[account.pk])}?{params.urlencode()}",
        },
    )


@account_page
@require_GET
def history_csv(request, account):
    table = history_table(request, account)

    def when(value):
        return value.isoformat() if value else ""

    statuses = dict(Conversion.Status.choices)
    return csv_response(
        f"conversion_history_{account.name}_{timezone.now():%Y%m%d%H%M%S}.csv",
        [
            "Product Instance Name",
            "Device Identifier",
            "Product Family",
            "Local Virtual Account",
            "Licenses",
            "Conversion Status",
            "Reason",
            "Requested",
            "Time of Conversion",
        ],
        (
            [
                c.product_instance_name,
                c.device_identifier,
                c.product_family,
                c.virtual_account.name,
                "; ".join(f"{item.get('count')} × {item.get('name')}" for item in c.licenses),
                statuses.get(c.status, c.status),
                c.reason,
                when(c.requested_at),
                when(c.decided_at),
            ]
            for c in table.paginator.object_list.iterator(chunk_size=500)
        ),
    )


@account_page
@require_http_methods(["GET", "POST"])
def settings(request, account):
    may_apply = can(request, Action.MANAGE_DLC_SETTINGS, account=account)
    current = conversion_service.settings_of(account)
    # The checkboxes list only the local virtual accounts the viewer may see (all of them for
    # those who may apply): a VA User learns nothing of the others, not even their names.
    vas = visible_virtual_accounts(request, account)
    enabled = conversion_service.enabled_virtual_account_ids(current) & {va.pk for va in vas}
    form = SettingsForm(
        request.POST if request.method == "POST" else None,
        virtual_accounts=vas,
        initial={"mode": current.mode, "virtual_accounts": sorted(enabled)},
    )
    if request.method == "POST":
        if not may_apply:
            raise NotAllowed()
        if form.is_valid():
            with service_errors(request, form):
                conversion_service.set_conversion_settings(
                    actor=request.user,
                    account=account,
                    mode=form.cleaned_data["mode"],
                    virtual_accounts=form.cleaned_data["virtual_accounts"],
                )
                messages.success(request, _("The conversion settings were applied."))
                return redirect("licensing_conversion_settings", account_id=account.pk)
    return render_conversion(
        request,
        account,
        "settings",
        "licensing/conversion/settings.html",
        {
            "form": form,
            "may_apply": may_apply,
        },
        status=400 if request.method == "POST" else 200,
    )

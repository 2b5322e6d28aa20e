"""What every Inventory tab shares: the virtual account chooser, the tab bar, the permission
checks on a virtual account and where a transfer from it may go, the tabs' URLs and CSV names."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext_lazy

from accounts.rbac import Action, can, visible_virtual_accounts
from core.errors import NotAllowed
from licensing.services import inventory_queries

from ..workspace import render_workspace

FROM_ALERTS = "alerts"

INVENTORY_TABS = [
    ("general", gettext_lazy("General"), "licensing_inventory"),
    ("licenses", gettext_lazy("Licenses"), "licensing_inventory_licenses"),
    ("product_instances", gettext_lazy("Product Instances"), "licensing_inventory_product_instances"),
    ("sl_using_policy", gettext_lazy("SL Using Policy"), "licensing_inventory_sl_using_policy"),
    ("event_log", gettext_lazy("Event Log"), "licensing_inventory_event_log"),
]


def require(request, action, virtual_account):
    if not can(request, action, account=virtual_account.account, virtual_account=virtual_account):
        raise NotAllowed()


def chosen_virtual_account(request, account, vas):
    """The virtual account of ``?va=``, among ``vas`` (the visible ones); 404 if it is not one of them."""
    requested = request.GET.get("va", "").strip()
    if requested:
        if not requested.isdigit():
            raise Http404("No such local virtual account.")
        for va in vas:
            if va.pk == int(requested):
                return va
        raise Http404("No such local virtual account.")
    return next((va for va in vas if va.is_default), vas[0] if vas else None)


def visible_virtual_account_or_404(request, account, va_id):
    """A virtual account of ``account`` that the principal may see, by id; 404 otherwise."""
    va = get_object_or_404(visible_virtual_accounts(request, account), pk=va_id)
    va.account = account  # the same object: no query to load it again
    return va


def inventory_url(url_name, account, va):
    return f"{reverse(url_name, args=[account.pk])}?va={va.pk}"


def chooser_virtual_accounts(request, account, vas):
    """The chooser's options: "search local Virtual Accounts By Name or By Tag" (``va_search``,
    ``va_by=name|tag``; a tag matches by its name or one of its values). One query for By Tag."""
    text = request.GET.get("va_search", "").strip()[:100]
    if not text:
        return vas, ""
    if request.GET.get("va_by") == "tag":
        tagged = inventory_queries.virtual_account_ids_tagged(account, text)
        return [va for va in vas if va.pk in tagged], text
    return [va for va in vas if text.casefold() in va.name.casefold()], text


def render_inventory(request, account, tab, template, context=None):
    """Inventory page: the virtual account chooser, the sub-tab bar, then the tab's content."""
    vas = list(visible_virtual_accounts(request, account))
    va = chosen_virtual_account(request, account, vas)
    options, va_search = chooser_virtual_accounts(request, account, vas)
    if va_search and not request.GET.get("va") and options:
        va = options[0]  # searching picks the first match
    if va is not None:
        va.account = account
        if va not in options:
            options = [va, *options]
    page = {
        "virtual_accounts": options,
        "va_search": va_search,
        "va_by": request.GET.get("va_by", "name"),
        "virtual_account": va,
        "inventory_tab": tab,
        "inventory_tabs": [
            {
                "key": key,
                "label": label,
                "url": inventory_url(url_name, account, va) if va else "",
                "current": key == tab,
            }
            for key, label, url_name in INVENTORY_TABS
        ],
    }
    if va is not None:
        # In memory (the grants are loaded once per request): where this VA may transfer to.
        page["transfer_targets"] = transfer_targets(request, account, va, vas)
        page.update(context(va) if callable(context) else (context or {}))
    return render_workspace(request, template, page, account=account, section="inventory")


def back_to_alerts(request, account):
    """The Alerts tab when the action was started from an alert's Actions menu (``from=alerts``
    in the query or the form), else None: only this fixed page, never a URL from the request."""
    if FROM_ALERTS in (request.GET.get("from"), request.POST.get("from")):
        return reverse("licensing_alerts", args=[account.pk])
    return None


def csv_url(request, url_name, account, va):
    """The CSV export of the table as shown: same virtual account, search and sort, every page."""
    params = request.GET.copy()
    params["va"] = va.pk
    params.pop("page", None)
    return f"{reverse(url_name, args=[account.pk])}?{params.urlencode()}"


def csv_name(prefix, va):
    return get_valid_filename(f"{prefix}_{va.name}_{timezone.now():%Y%m%d%H%M%S}.csv")


# The destination of a transfer is chosen among ``transfer_targets``: the other visible virtual
# accounts that ``can(TRANSFER, from, to)`` allows (a VA role needs a role on both); with none,
# the page is 403. Any other id is an invalid choice of the form. The services check the
# permission again and answer NotAllowed (403) or ServiceError (shown, nothing written: each
# runs in one transaction).


def transfer_targets(request, account, va, vas=None):
    """The virtual accounts, other than ``va``, this principal may transfer from ``va`` to."""
    if vas is None:
        vas = list(visible_virtual_accounts(request, account))
    targets = []
    for other in vas:
        if other.pk != va.pk and can(
            request, Action.TRANSFER, account=account, virtual_account=va, to_virtual_account=other
        ):
            other.account = account
            targets.append(other)
    return targets


def transfer_targets_or_403(request, account, va):
    """The transfer targets of ``va``; none at all (no role on any other VA) is 403: the page
    offers nothing to do, and the tables show no Transfer button then."""
    targets = transfer_targets(request, account, va)
    if not targets:
        raise NotAllowed()
    return targets

"""Inventory > Licenses, the row actions of upgrade and duplicate licenses: "Upgrade Pending" (the
upgrade's licenses become available once the licenses they replace are named, in the local
virtual account chosen for the upgrade) and "Change Virtual Account Assignment" (move or copy a
subscription's licenses to other local virtual accounts)."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.rbac import Action, can
from core.errors import NotAllowed
from core.service_views import service_errors
from licensing.models import LicenseDefinition
from licensing.services import assignments, upgrades

from ..workspace import account_page, render_workspace
from .page import inventory_url, transfer_targets, visible_virtual_account_or_404


def _upgrade_places(request, account, va):
    """The local virtual accounts the upgrade may complete in: its own and every transfer target."""
    if not can(request, Action.TRANSFER, account=account, virtual_account=va, to_virtual_account=va):
        raise NotAllowed()
    va.account = account
    return [va, *transfer_targets(request, account, va)]


@account_page
@require_http_methods(["GET", "POST"])
def license_upgrade(request, account, va_id, license_id):
    """Upgrade Pending: each pending upgrade of the license with the lines it may replace; the
    quantities entered name the replaced licenses (they must add up to the upgrade's)."""
    va = visible_virtual_account_or_404(request, account, va_id)
    license = get_object_or_404(LicenseDefinition, pk=license_id)
    back_url = inventory_url("licensing_inventory_licenses", account, va)
    places = _upgrade_places(request, account, va)
    pending = [u for u in upgrades.pending_upgrades(va) if u.license_id == license.pk]
    entered = {}
    if request.method == "POST":
        chosen = next((u for u in pending if str(u.pk) == request.POST.get("upgrade", "")), None)
        if chosen is None:
            messages.error(request, _("This upgrade is not pending in the local virtual account."))
        else:
            entered = {
                key.removeprefix("replace-"): value
                for key, value in request.POST.items()
                if key.startswith("replace-") and value.strip()
            }
            with service_errors(request):
                result = upgrades.complete_upgrade(actor=request.user, upgrade=chosen, replacements=entered)
                messages.success(
                    request,
                    _(
                        "The upgrade was completed: %(count)s “%(license)s” licenses are available in the local "
                        "virtual account “%(va)s”."
                    )
                    % {"count": result.upgrade.quantity, "license": license.name, "va": result.virtual_account.name},
                )
                return redirect(back_url)
    rows = [{"upgrade": u, "lines": list(upgrades.replaceable_lines(u, places))} for u in pending]
    return render_workspace(
        request,
        "licensing/inventory/license_upgrade.html",
        {"virtual_account": va, "license": license, "rows": rows, "entered": entered, "back_url": back_url},
        account=account,
        section="inventory",
    )


@account_page
@require_http_methods(["GET", "POST"])
def license_assignment(request, account, va_id, license_id):
    """Change Virtual Account Assignment: the subscription (Enabled / Duplicate), then the local
    virtual accounts that should hold its licenses (checked: they hold them now)."""
    va = visible_virtual_account_or_404(request, account, va_id)
    license = get_object_or_404(LicenseDefinition, pk=license_id)
    back_url = inventory_url("licensing_inventory_licenses", account, va)
    va.account = account
    choices = [va, *transfer_targets(request, account, va)]
    if len(choices) < 2:
        raise NotAllowed()
    choices.sort(key=lambda v: v.name.casefold())
    subs = assignments.subscriptions(va, license)
    data = request.POST if request.method == "POST" else request.GET
    subscription = data.get("subscription") or (subs[0].subscription_id if subs else "")
    if subs and subscription not in {s.subscription_id for s in subs}:
        messages.error(request, _("Choose a subscription of this license in the local virtual account."))
        subscription = subs[0].subscription_id
    held = assignments.holders(account.pk, license, subscription) if subscription else set()
    checked = set(held)
    if request.method == "POST":
        by_id = {str(v.pk): v for v in choices}
        picked = {by_id[pk].pk for pk in request.POST.getlist("virtual_accounts") if pk in by_id}
        if "check_all" in request.POST:
            checked = {v.pk for v in choices}
        elif "change" in request.POST:
            # Holders the user cannot act on stay as they are.
            checked = picked | (held - {v.pk for v in choices})
            with service_errors(request):
                result = assignments.change_virtual_account_assignment(
                    actor=request.user,
                    virtual_account=va,
                    license=license,
                    subscription_id=subscription,
                    virtual_accounts=checked,
                )
                moved = ", ".join(f"{to} ({count})" for _frm, to, count in result.moved)
                copied = ", ".join(f"{to} ({count})" for to, count in result.copied)
                if moved:
                    messages.success(request, _("The licenses were moved to: %(vas)s.") % {"vas": moved})
                if copied:
                    messages.success(request, _("The licenses were copied to: %(vas)s.") % {"vas": copied})
                if result.removed:
                    messages.success(
                        request, _("Copies removed from: %(vas)s.") % {"vas": ", ".join(n for n, _c in result.removed)}
                    )
                return redirect(back_url)
    return render_workspace(
        request,
        "licensing/inventory/license_assignment.html",
        {
            "virtual_account": va,
            "license": license,
            "subscriptions": subs,
            "subscription": subscription,
            "choices": [(v, v.pk in checked, v.pk in held) for v in choices],
            "back_url": back_url,
            "ENABLED": assignments.ENABLED,
        },
        account=account,
        section="inventory",
    )


__all__ = ["license_upgrade", "license_assignment"]

"""Inventory > Licenses, the row action "Port" of a portable license: convert available licenses
of it into licenses of a license CSSM lets it be ported to, in the same local virtual account.
"Preview" shows the before/after of both licenses (nothing kept); "Port" ports them
(licensing.services.ports)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.rbac import Action, can
from core.errors import NotAllowed
from core.service_views import service_errors
from licensing.forms import LicensePortForm
from licensing.models import LicenseDefinition
from licensing.services import ports

from ..workspace import account_page, render_workspace
from .page import inventory_url, visible_virtual_account_or_404


@account_page
@require_http_methods(["GET", "POST"])
def license_port(request, account, va_id, license_id):
    va = visible_virtual_account_or_404(request, account, va_id)
    va.account = account
    license = get_object_or_404(LicenseDefinition, pk=license_id)
    if not can(request, Action.TRANSFER, account=account, virtual_account=va, to_virtual_account=va):
        raise NotAllowed()
    targets = ports.portable_targets(account, [license.pk]).get(license.pk, [])
    if not targets:
        raise Http404("This license is not portable.")
    back_url = inventory_url("licensing_inventory_licenses", account, va)
    form = LicensePortForm(request.POST or None, targets=targets)
    limits = ports.port_limits(virtual_account=va, license=license)
    if limits.portable > 0:
        form.fields["quantity"].widget.attrs["max"] = limits.portable
    preview = None
    if request.method == "POST" and form.is_valid():
        arguments = {
            "actor": request.user,
            "virtual_account": va,
            "license": license,
            "target": form.cleaned_data["target"],
            "quantity": form.cleaned_data["quantity"],
        }
        with service_errors(request, form):
            if "preview" in request.POST:
                preview = ports.preview_port(**arguments)
            else:
                result = ports.port_licenses(**arguments)
                messages.success(
                    request,
                    _(
                        "%(quantity)s “%(license)s” licenses were ported to “%(target)s” in the local virtual "
                        "account “%(va)s”."
                    )
                    % {
                        "quantity": result.quantity,
                        "license": license.name,
                        "target": result.target.name,
                        "va": va.name,
                    },
                )
                return redirect(back_url)
    return render_workspace(
        request,
        "licensing/inventory/license_port.html",
        {
            "form": form,
            "virtual_account": va,
            "license": license,
            "targets": targets,
            "limits": limits,
            "preview": preview,
            "back_url": back_url,
        },
        account=account,
        section="inventory",
    )

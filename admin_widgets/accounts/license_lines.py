"""Accounts > an account's License Transactions: its license lines in the guide's columns, and the
Cisco Administrator's Add License and Remove Licenses (``licensing.services.license_lines``).

System Admins and System Operators (``manage_accounts``) see the tab; adding and removing are the
System Admin's (``manage_license_lines``, checked here and by the services).
"""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import requires
from accounts.rbac import Action, can
from core.listing import Listing
from core.service_views import service_errors
from licensing.models import Entitlement, LocalAccount
from licensing.services import license_lines as line_service
from licensing.services.inventory_queries import LICENSE_TRANSACTION_SEARCH, LICENSE_TRANSACTION_SORTS

from .forms import AddLicenseForm
from .views import _page

PAGE_SIZE = 50


def _lines_page(request, account, form):
    lines = line_service.account_license_lines(account)
    table = Listing(
        request,
        lines,
        search=LICENSE_TRANSACTION_SEARCH,
        sorts=LICENSE_TRANSACTION_SORTS,
        default_sort="-date",
        page_size=PAGE_SIZE,
    )
    return _page(
        request,
        "license_lines.html",
        "accounts",
        account=account,
        table=table,
        form=form,
        may_change=can(request, Action.MANAGE_LICENSE_LINES) and account.is_active,
        MANUAL=Entitlement.Source.MANUAL,
    )


@requires(Action.MANAGE_ACCOUNTS)
@require_GET
def license_lines(request, pk):
    account = get_object_or_404(LocalAccount, pk=pk)
    return _lines_page(request, account, AddLicenseForm(account=account))


@requires(Action.MANAGE_LICENSE_LINES)
@require_http_methods(["POST"])
def license_add(request, pk):
    account = get_object_or_404(LocalAccount, pk=pk)
    form = AddLicenseForm(request.POST, account=account)
    if form.is_valid():
        with service_errors(request, form):
            line = line_service.add_license(actor=request.user, **form.cleaned_data)
            messages.success(
                request,
                _("%(count)s “%(license)s” licenses were added to the local virtual account “%(va)s”.")
                % {"count": line.quantity, "license": line.license.name, "va": line.virtual_account.name},
            )
            return redirect("admin_account_license_lines", pk=account.pk)
    return _lines_page(request, account, form)


@requires(Action.MANAGE_LICENSE_LINES)
@require_POST
def license_remove(request, pk, line_pk):
    account = get_object_or_404(LocalAccount, pk=pk)
    line = get_object_or_404(
        Entitlement.objects.select_related("license", "virtual_account"), pk=line_pk, virtual_account__account=account
    )
    raw = request.POST.get("quantity", "").strip()
    quantity = None
    if raw:
        try:
            quantity = int(raw)
        except ValueError:
            messages.error(request, _("Quantity must be a whole number of at least 1."))
            return redirect(_back(request, account))
    with service_errors(request):
        removed = line_service.remove_licenses(actor=request.user, line=line, quantity=quantity)
        messages.success(
            request,
            _("%(count)s “%(license)s” licenses were removed from the local virtual account “%(va)s”.")
            % {"count": removed, "license": line.license.name, "va": line.virtual_account.name},
        )
    return redirect(_back(request, account))


def _back(request, account):
    url = reverse("admin_account_license_lines", args=[account.pk])
    target = request.POST.get("next", "")
    return target if target.split("?")[0] == url else url


__all__ = ["license_add", "license_lines", "license_remove"]

"""Request an Account and Request Access to an Existing Account: open to every signed-in user."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.rbac import Action, can
from core.errors import NotAllowed
from core.listing import Listing
from core.service_views import service_errors
from licensing.models import AccessRequest, LocalAccount
from licensing.services import access, accounts

from ..forms import RequestAccessForm, RequestAccountForm
from .workspace import render_workspace


@login_required
@require_http_methods(["GET", "POST"])
def request_account(request):
    if not can(request, Action.REQUEST_ACCOUNT):
        raise NotAllowed()
    form = RequestAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with service_errors(request, form):
            account = accounts.request_account(
                actor=request.user,
                name=data["name"],
                cisco_smart_account=data["cisco_smart_account"],
                cisco_virtual_account=data["cisco_virtual_account"],
                email=data["email"],
                message=data["message"],
            )
            messages.success(
                request,
                _(
                    "Your request for the local account “%(name)s” was submitted. A System "
                    "Administrator or System Operator will review it."
                )
                % {"name": account.name},
            )
            return redirect("licensing_request_account")
    pending = LocalAccount.objects.filter(requested_by=request.user, status=LocalAccount.Status.REQUESTED)
    table = Listing(request, pending, sorts={"name": "name", "date": "created_at"}, default_sort="-date")
    return render_workspace(request, "licensing/request_account.html", {"form": form, "table": table})


@login_required
@require_http_methods(["GET", "POST"])
def request_access(request):
    if not can(request, Action.REQUEST_ACCOUNT):
        raise NotAllowed()
    form = RequestAccessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_errors(request, form):
            access_request = access.request_access(
                actor=request.user,
                account_name=form.cleaned_data["account_name"],
                company=form.cleaned_data["company"],
            )
            messages.success(
                request,
                _("Your request for access to “%(name)s” was submitted. An Account Administrator will review it.")
                % {"name": access_request.account.name},
            )
            return redirect("licensing_request_access")
    pending = AccessRequest.objects.filter(user=request.user, status=AccessRequest.Status.PENDING).select_related(
        "account"
    )
    table = Listing(request, pending, sorts={"account": "account__name", "date": "created_at"}, default_sort="-date")
    return render_workspace(request, "licensing/request_access.html", {"form": form, "table": table})

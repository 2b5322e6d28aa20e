"""Accounts widget: registration of local accounts with CSSM (``sync.services.registration``).

* Account Requests tab, Approve with registration: the admin's CCO credentials go to CSSM.
* Accounts tab: Register (a Pending Registration account), Re-register / Manual Re-register
  (a deactivated one), Delete (a deactivated one whose product instances are gone).
* Manual registration page: Generate (Re-)Registration File, upload the Authorization file.

The CCO password is used for the one request to CSSM and never stored, logged or shown back.
"""

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.decorators import requires
from accounts.rbac import Action
from core.service_views import service_errors
from licensing.models import LocalAccount
from sync.documents.parse import MAX_DOCUMENT_BYTES
from sync.documents.rejections import MANUAL, Corrupted
from sync.models import AccountSync
from sync.services import registration as registration_service

Status = LocalAccount.Status


class CredentialsForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("Cisco CCO ID"), max_length=255)
    password = forms.CharField(
        label=gettext_lazy("Password"), max_length=1024, widget=forms.PasswordInput(render_value=False)
    )


class AuthorizationUploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Authorization file (.yml)"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_DOCUMENT_BYTES:
            raise forms.ValidationError(Corrupted().message)
        return upload


def _credentials_or_error(request):
    form = CredentialsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Enter your Cisco credentials (CCO ID and password)."))
        return None
    return form.cleaned_data["username"], form.cleaned_data["password"]


@requires(Action.MANAGE_ACCOUNTS)
@require_POST
def request_approve_register(request, pk):
    """Account Requests > Approve: approve and register online with the CCO credentials."""
    account = get_object_or_404(LocalAccount, pk=pk, status=Status.REQUESTED)
    credentials = _credentials_or_error(request)
    if credentials is None:
        return redirect("admin_account_requests")

    def approved_but_failed(message):
        return _(
            "The request for “%(name)s” was approved, but the registration with Cisco Smart Software Manager "
            "failed: %(message)s"
        ) % {"name": account.name, "message": message}

    with service_errors(request, message=approved_but_failed):
        registration_service.approve_and_register(
            account, actor=request.user, username=credentials[0], password=credentials[1]
        )
        messages.success(
            request,
            _("The local account “%(name)s” was created successfully and is registered as Active.")
            % {"name": account.name},
        )
    return redirect("admin_accounts")


@requires(Action.MANAGE_ACCOUNTS)
@require_POST
def account_register(request, pk, reregister=False):
    """Accounts > Register (Pending Registration) / Re-register (Deactivated), online."""
    account = get_object_or_404(LocalAccount, pk=pk)
    credentials = _credentials_or_error(request)
    if credentials is None:
        return redirect("admin_accounts")
    with service_errors(request):
        registration_service.register_online(
            account, actor=request.user, username=credentials[0], password=credentials[1], reregistration=reregister
        )
        messages.success(
            request,
            (
                _("Account was successfully re-registered: “%(name)s” is Active; a full synchronization was scheduled.")
                if reregister
                else _("The local account “%(name)s” is registered and Active.")
            )
            % {"name": account.name},
        )
    return redirect("admin_accounts")


@requires(Action.MANAGE_ACCOUNTS)
@require_http_methods(["GET", "POST"])
def manual_registration(request, pk):
    """Manual Registration / Manual Re-register: generate the file, upload the authorization."""
    account = get_object_or_404(
        LocalAccount, pk=pk, status__in=[Status.REQUESTED, Status.PENDING_REGISTRATION, Status.DEACTIVATED]
    )
    reregister = account.status == Status.DEACTIVATED
    upload_form = AuthorizationUploadForm()
    if request.method == "POST" and request.POST.get("action") == "generate":
        with service_errors(request):
            name, text = registration_service.registration_file(account, actor=request.user, reregistration=reregister)
            response = HttpResponse(text.encode("utf-8"), content_type="application/yaml; charset=utf-8")
            response["Content-Disposition"] = f'attachment; filename="{name}"'
            response["X-Content-Type-Options"] = "nosniff"
            return response
        return redirect("admin_account_manual_registration", pk=account.pk)
    if request.method == "POST":
        upload_form = AuthorizationUploadForm(request.POST, request.FILES)
        if upload_form.is_valid():
            upload = upload_form.cleaned_data["file"]
            with service_errors(request, upload_form, field="file"):
                registration_service.apply_authorization(
                    account, upload.read(), name=upload.name, actor=request.user, mode=MANUAL
                )
                messages.success(
                    request,
                    (
                        _(
                            "Account was successfully re-registered. A full synchronization must be "
                            "performed to complete the re-registration."
                        )
                        if reregister
                        else _("The local account “%(name)s” is registered and Active.")
                    )
                    % {"name": account.name},
                )
                return redirect("admin_accounts")
    state = AccountSync.objects.filter(account=account).first()
    return render(
        request,
        "admin_widgets/accounts/manual_registration.html",
        {
            "workspace": "admin",
            "account": account,
            "reregister": reregister,
            "upload_form": upload_form,
            "pending": bool(state and state.pending_request_id),
        },
    )


@requires(Action.MANAGE_ACCOUNTS)
@require_POST
def account_delete(request, pk):
    account = get_object_or_404(LocalAccount, pk=pk)
    name = account.name
    with service_errors(request):
        registration_service.delete_account(account, actor=request.user)
        messages.success(
            request,
            _(
                "The local account “%(name)s” was deleted. Remove the SSM On-Prem representing it "
                "in Cisco Smart Software Manager too."
            )
            % {"name": name},
        )
    return redirect("admin_accounts")

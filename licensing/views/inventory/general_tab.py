"""Inventory > General: the registration tokens of the virtual account (list, New Token,
Revoke, Remove, Download) and the URLs its products send their messages to."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.http.request import split_domain_port
from django.shortcuts import get_object_or_404, redirect
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.rbac import Action, can, visible_virtual_accounts
from core import listeners
from core.listing import Listing
from core.service_views import service_errors
from licensing.models import RegistrationToken
from licensing.services import inventory_queries
from licensing.services import tokens as token_service
from licensing.services.cslu_access import cslu_url_path

from ...forms import NewTokenForm
from ..workspace import account_page, render_workspace
from .page import inventory_url, render_inventory, require, visible_virtual_account_or_404

NEW_TOKEN_SESSION_KEY = "licensing_new_token_id"
TOKEN_SORTS = {
    "expires": "expires_at",
    "uses": "uses",
    "description": "description",
    "created_by": "created_by_name",
    "status": "current_status",
    "created": "created_at",
}


def product_urls(request, path):
    """Where products reach ``path``: on each product listener (https first, then http), at
    ONPREM_PRODUCT_HOST or the host name this page was asked for (core/listeners.py); on the
    management listener when no product listener is configured."""
    host = settings.ONPREM_PRODUCT_HOST or split_domain_port(request.get_host())[0] or request.get_host()
    bases = listeners.product_base_urls(host)
    if not bases:
        return [request.build_absolute_uri(path)]
    return [base + path for _scheme, base in bases]


@account_page
@require_GET
def general(request, account):
    cslu_urls = product_urls(request, cslu_url_path(account))
    cslu_url = cslu_urls[0]

    def context(va):
        table = Listing(
            request,
            inventory_queries.tokens_of(va, timezone.now()),
            search=["description", "created_by_name"],
            sorts=TOKEN_SORTS,
            default_sort="-created",
        )
        new_token = None
        new_token_id = request.session.pop(NEW_TOKEN_SESSION_KEY, None)
        if new_token_id is not None:
            new_token = inventory_queries.token_of(va, new_token_id)
        return {
            "table": table,
            "new_token": new_token,
            "may_manage_tokens": can(request, Action.MANAGE_TOKENS, account=account, virtual_account=va),
            "export_allowed": account.export_control_allowed,
            "statuses": RegistrationToken.Status,
            # Where this account's products send their messages (docs/protocol.md).
            # Each on the product listeners, https first, then http (the guide's http:// URLs).
            "transport_urls": [
                (_("Smart Transport URL"), product_urls(request, "/SmartTransport")),
                (_("Call Home URL"), product_urls(request, "/Transportgateway/services/DeviceRequestHandler")),
                (_("CSLU Transport URL"), cslu_urls),
            ],
            # The how-to's "CSLU Transport URL" action: the Product Registration URL pop-up.
            "cslu_url": cslu_url,
        }

    return render_inventory(request, account, "general", "licensing/inventory/general.html", context)


@account_page
@require_http_methods(["GET", "POST"])
def token_new(request, account, va_id):
    va = visible_virtual_account_or_404(request, account, va_id)
    require(request, Action.MANAGE_TOKENS, va)
    export_allowed = account.export_control_allowed and can(
        request, Action.CREATE_EXPORT_TOKENS, account=account, virtual_account=va
    )
    form = NewTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        # Without export permission the checkbox is not on the page: its refusal goes above the form.
        hidden = {} if export_allowed else {"export_controlled": None, "terms_accepted": None}
        with service_errors(request, form, fields=hidden or None):
            if data["export_controlled"]:
                require(request, Action.CREATE_EXPORT_TOKENS, va)
            token = token_service.create_token(
                actor=request.user,
                virtual_account=va,
                description=data["description"],
                expires_after_days=data["expires_after_days"],
                max_uses=data["max_uses"],
                export_controlled=data["export_controlled"],
                terms_accepted=data["terms_accepted"] if export_allowed else None,
            )
            request.session[NEW_TOKEN_SESSION_KEY] = token.pk
            messages.success(
                request,
                _("The registration token was created in the local virtual account “%(name)s”.") % {"name": va.name},
            )
            return redirect(inventory_url("licensing_inventory", account, va))
    return render_workspace(
        request,
        "licensing/inventory/token_form.html",
        {
            "form": form,
            "virtual_account": va,
            "export_allowed": export_allowed,
            "back_url": inventory_url("licensing_inventory", account, va),
        },
        account=account,
        section="inventory",
    )


def _token_or_404(request, account, token_id):
    """A token of a virtual account of ``account`` that the principal may see; 404 otherwise."""
    token = get_object_or_404(inventory_queries.tokens_in(visible_virtual_accounts(request, account)), pk=token_id)
    token.virtual_account.account = account
    return token


@account_page
@require_POST
def token_revoke(request, account, token_id):
    token = _token_or_404(request, account, token_id)
    require(request, Action.MANAGE_TOKENS, token.virtual_account)
    with service_errors(request):
        token_service.revoke_token(actor=request.user, token=token)
        messages.success(request, _("The registration token was revoked."))
    return redirect(inventory_url("licensing_inventory", account, token.virtual_account))


@account_page
@require_POST
def token_remove(request, account, token_id):
    """Refused by the service until the token is revoked; the refusal is shown."""
    token = _token_or_404(request, account, token_id)
    require(request, Action.MANAGE_TOKENS, token.virtual_account)
    with service_errors(request):
        token_service.remove_token(actor=request.user, token=token)
        messages.success(request, _("The registration token was removed."))
    return redirect(inventory_url("licensing_inventory", account, token.virtual_account))


@account_page
@require_GET
def token_download(request, account, token_id):
    token = _token_or_404(request, account, token_id)
    require(request, Action.MANAGE_TOKENS, token.virtual_account)
    response = HttpResponse(
        token_service.token_as_text(actor=request.user, token=token), content_type="text/plain; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{token_service.token_file_name(token)}"'
    return response

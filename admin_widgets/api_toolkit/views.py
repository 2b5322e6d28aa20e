"""API Toolkit widget pages (guide "API Toolkit Widget").

The API Console toggle is the System Admin's (TOGGLE_API_CONSOLE); grants and their API
access control are for System Admins and Operators (MANAGE_API_GRANTS). Each view checks the
input, calls one service of ``accounts.services.api_grants`` and reports the outcome. A new
or regenerated client secret is rendered once, in the reply to the POST that made it, with
``Cache-Control: no-store``; only its hash is kept, so no page can show it again.
"""

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.api_clients import ApiAccessEntry, ApiConsole, ApiGrant
from accounts.decorators import requires
from accounts.rbac import Action, can
from accounts.services import api_grants
from core.listing import Listing
from core.service_views import service_errors

from .forms import AccessForm, GrantCreateForm, GrantForm

SEARCH_FIELDS = ["name", "description", "application__client_id"]
SORTS = {"name": "name", "type": "grant_type", "expires": "expires_at", "created": "created_at"}


@requires(Action.MANAGE_API_GRANTS)
@require_GET
def toolkit(request):
    grants = ApiGrant.objects.select_related("application").annotate(entries=Count("access_entries"))
    grant_type = request.GET.get("type", "")
    if grant_type in ApiGrant.GrantType.values:
        grants = grants.filter(grant_type=grant_type)
    table = Listing(request, grants, search=SEARCH_FIELDS, sorts=SORTS, default_sort="name")
    console = ApiConsole.objects.filter(pk=1).first()
    return render(
        request,
        "admin_widgets/api_toolkit/list.html",
        {
            "workspace": "admin",
            "table": table,
            "console_enabled": bool(console and console.enabled),
            "may_toggle": can(request, Action.TOGGLE_API_CONSOLE),
            "grant_types": ApiGrant.GrantType.choices,
            "grant_type": grant_type,
        },
    )


@requires(Action.MANAGE_API_GRANTS)
@requires(Action.TOGGLE_API_CONSOLE)
@require_POST
def console_toggle(request):
    choice = request.POST.get("enabled")
    if choice not in ("on", "off"):
        messages.error(request, _("Choose to enable or to disable the API Console."))
        return redirect("admin_api_toolkit")
    enabled = choice == "on"
    api_grants.set_api_console(actor=request.user, enabled=enabled)
    messages.success(request, _("The API Console is enabled.") if enabled else _("The API Console is disabled."))
    return redirect("admin_api_toolkit")


@requires(Action.MANAGE_API_GRANTS)
@require_http_methods(["GET", "POST"])
def grant_create(request):
    initial = {"grant_type": request.GET.get("type", ApiGrant.GrantType.CLIENT_CREDENTIALS)}
    form = GrantCreateForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with service_errors(request, form):
            grant, secret = api_grants.create_grant(
                actor=request.user,
                grant_type=data["grant_type"],
                name=data["name"],
                description=data["description"],
                expires_at=form.expires_at(),
            )
            return _show_secret(request, grant, secret, created=True)
    return render(request, "admin_widgets/api_toolkit/create.html", {"workspace": "admin", "form": form})


@requires(Action.MANAGE_API_GRANTS)
@require_http_methods(["GET", "POST"])
def grant_edit(request, pk):
    grant = get_object_or_404(ApiGrant.objects.select_related("application"), pk=pk)
    initial = {
        "name": grant.name,
        "description": grant.description,
        "expiration_date": grant.expires_at.date() if grant.expires_at else None,
    }
    form = GrantForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with service_errors(request, form):
            api_grants.update_grant(
                actor=request.user,
                grant=grant,
                name=data["name"],
                description=data["description"],
                expires_at=form.expires_at(),
            )
            messages.success(request, _("The grant “%(name)s” was saved.") % {"name": grant.name})
            return redirect("admin_api_toolkit")
    return render(request, "admin_widgets/api_toolkit/edit.html", {"workspace": "admin", "form": form, "grant": grant})


@requires(Action.MANAGE_API_GRANTS)
@require_POST
def grant_regenerate(request, pk):
    grant = get_object_or_404(ApiGrant.objects.select_related("application"), pk=pk)
    secret = api_grants.regenerate_secret(actor=request.user, grant=grant)
    return _show_secret(request, grant, secret, created=False)


@requires(Action.MANAGE_API_GRANTS)
@require_POST
def grant_delete(request, pk):
    grant = get_object_or_404(ApiGrant.objects.select_related("application"), pk=pk)
    name = grant.name
    api_grants.delete_grant(actor=request.user, grant=grant)
    messages.success(request, _("The grant “%(name)s” was deleted.") % {"name": name})
    return redirect("admin_api_toolkit")


@requires(Action.MANAGE_API_GRANTS)
@require_http_methods(["GET", "POST"])
def grant_access(request, pk):
    """The guide's "Click here to set API Access Control" page of a Client Credentials Grant."""
    grant = get_object_or_404(ApiGrant.objects.select_related("application"), pk=pk)
    if grant.grant_type != ApiGrant.GrantType.CLIENT_CREDENTIALS:
        messages.error(request, _("A Resource Owner Grant acts with the roles of the user who signs in."))
        return redirect("admin_api_toolkit")
    form = AccessForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with service_errors(request, form):
            api_grants.add_access(
                actor=request.user,
                grant=grant,
                account=data["account"],
                role=data["role"],
                virtual_account=data["virtual_account"],
            )
            messages.success(request, _("The access was created."))
            return redirect("admin_api_grant_access", pk=grant.pk)
    entries = grant.access_entries.select_related("account", "virtual_account")
    table = Listing(
        request,
        entries,
        search=["account__name", "virtual_account__name"],
        sorts={"account": "account__name"},
        default_sort="account",
    )
    return render(
        request,
        "admin_widgets/api_toolkit/access.html",
        {
            "workspace": "admin",
            "form": form,
            "grant": grant,
            "table": table,
        },
    )


@requires(Action.MANAGE_API_GRANTS)
@require_POST
def access_remove(request, pk):
    entry = get_object_or_404(ApiAccessEntry.objects.select_related("grant", "account", "virtual_account"), pk=pk)
    grant_pk = entry.grant_id
    api_grants.remove_access(actor=request.user, entry=entry)
    messages.success(request, _("The access was removed."))
    return redirect("admin_api_grant_access", pk=grant_pk)


def _show_secret(request, grant, secret, *, created):
    response = render(
        request,
        "admin_widgets/api_toolkit/secret.html",
        {
            "workspace": "admin",
            "grant": grant,
            "client_secret": secret,
            "created": created,
        },
    )
    add_never_cache_headers(response)  # the secret must not stay in any cache or history
    return response

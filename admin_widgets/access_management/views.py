"""Access Management widget pages. A System Admin changes the configuration; a System Operator
sees every tab read-only (docs/rbac.md); everybody else gets 403."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import ldap_directory
from accounts.decorators import requires
from accounts.models import LdapGroup, RoleGrant
from accounts.oidc.config import get_provider
from accounts.oidc.views import redirect_uri
from accounts.rbac import Action, can
from core import limits
from core.errors import NotAllowed, ServiceError
from core.limits import request_limit
from core.listing import Listing
from core.service_views import service_errors
from licensing.models import LocalAccount

from . import services
from .forms import (
    ACCOUNT_ROLE_CHOICES,
    VA_ROLE_CHOICES,
    AdfsForm,
    LdapConfigForm,
    SsoForm,
    disable_all,
)

User = get_user_model()

TABS = [
    ("ldap", gettext_lazy("LDAP Configuration"), "access_ldap"),
    ("ldap_users", gettext_lazy("LDAP Users"), "access_ldap_users"),
    ("ldap_groups", gettext_lazy("LDAP Groups"), "access_ldap_groups"),
    ("adfs", gettext_lazy("OAuth2 ADFS"), "access_adfs"),
    ("sso", gettext_lazy("SSO Client"), "access_sso"),
]


def _context(request, current, **extra):
    adfs_on = services.adfs_enabled()
    may_change = can(request, Action.CHANGE_SYSTEM_CONFIG)
    tabs = [
        {"label": label, "url": reverse(url_name), "current": key == current, "disabled": adfs_on and key != "adfs"}
        for key, label, url_name in TABS
    ]
    return {
        "workspace": "admin",
        "access_tabs": tabs,
        "adfs_on": adfs_on,
        "may_change": may_change,
        "editable": may_change and (current == "adfs" or not adfs_on),
        "adfs_message": services.ADFS_ON,
        **extra,
    }


def _require_change(request):
    if not can(request, Action.CHANGE_SYSTEM_CONFIG):
        raise NotAllowed()


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_GET
def index(request):
    # The widget opens on its first usable tab: OAuth2 ADFS when it is on (the others are then off).
    return adfs(request) if services.adfs_enabled() else ldap_config(request)


# --- LDAP Configuration ----------------------------------------------------------------------


def _ldap_initial(config):
    return {
        name: getattr(config, name)
        for name in (
            "enabled",
            "title",
            "host",
            "port",
            "user_base_dn",
            "uid_attribute",
            "encryption",
            "ca_certificate",
            "bind_dn",
            "group_base_dn",
            "ldap_type",
        )
    }


# The LDAP CA certificate is a text area (64 KB of PEM, percent-encoded in the form).
@request_limit(limits.setting("ONPREM_MAX_LDAP_FORM_BYTES", 512 * limits.KIB), "LDAP settings form")
@requires(Action.VIEW_SYSTEM_CONFIG)
@require_http_methods(["GET", "POST"])
def ldap_config(request):
    config = ldap_directory.get_config()
    test_result = None
    if request.method == "POST":
        _require_change(request)
        form = LdapConfigForm(request.POST)
        if form.is_valid():
            with service_errors(request, form):
                if request.POST.get("action") == "test":
                    test_result = services.try_ldap_config(data=form.cleaned_data)
                else:
                    services.save_ldap_config(actor=request.user, data=form.cleaned_data)
                    messages.success(request, _("The LDAP configuration was saved."))
                    return redirect("access_ldap")
    else:
        form = LdapConfigForm(initial=_ldap_initial(config))
    context = _context(request, "ldap", form=form, password_set=bool(config.bind_password), test_result=test_result)
    if not context["editable"]:
        disable_all(form)
    return render(request, "admin_widgets/access_management/ldap_config.html", context)


# --- LDAP Users --------------------------------------------------------------------------------


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_GET
def ldap_users(request):
    table = Listing(
        request,
        User.objects.filter(source=User.Source.LDAP),
        search=["username", "first_name", "last_name", "email"],
        sorts={"username": "username", "email": "email", "last_login": "last_login", "joined": "date_joined"},
        default_sort="username",
    )
    return render(
        request, "admin_widgets/access_management/ldap_users.html", _context(request, "ldap_users", table=table)
    )


# --- LDAP Groups -------------------------------------------------------------------------------


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_GET
def ldap_groups(request):
    table = Listing(
        request,
        LdapGroup.objects.all(),
        search=["name", "dn", "description"],
        sorts={"name": "name", "dn": "dn", "imported": "imported_at"},
        default_sort="name",
    )
    return render(
        request,
        "admin_widgets/access_management/ldap_groups.html",
        _context(request, "ldap_groups", table=table, max_groups=ldap_directory.MAX_GROUPS),
    )


@requires(Action.CHANGE_SYSTEM_CONFIG)
@require_POST
def ldap_groups_update(request):
    with service_errors(request):
        if services.adfs_enabled():
            raise ServiceError(services.ADFS_ON)
        count = ldap_directory.import_groups(actor=request.user)
        messages.success(request, _("%(count)s LDAP groups were imported.") % {"count": count})
    return redirect("access_ldap_groups")


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_http_methods(["GET", "POST"])
def ldap_group(request, pk):
    group = get_object_or_404(LdapGroup, pk=pk)
    accounts = LocalAccount.objects.filter(status=LocalAccount.Status.ACTIVE).order_by("name")
    account = None
    account_id = request.POST.get("account") or request.GET.get("account")
    if account_id and str(account_id).isdigit():
        account = accounts.filter(pk=int(account_id)).first()
    if request.method == "POST":
        _require_change(request)
        _assign(request, group, account)
        return redirect(reverse("access_ldap_group", args=[group.pk]) + (f"?account={account.pk}" if account else ""))
    return render(
        request,
        "admin_widgets/access_management/ldap_group.html",
        _context(
            request,
            "ldap_groups",
            group=group,
            accounts=accounts,
            account=account,
            virtual_accounts=account.virtual_accounts.order_by("name") if account else [],
            grants=services.ldap_group_grants(group),
            role_choices=ACCOUNT_ROLE_CHOICES,
            va_role_choices=VA_ROLE_CHOICES,
            members=sorted(group.member_uids),
        ),
    )


def _assign(request, group, account):
    if account is None:
        messages.error(request, _("Select the local account."))
        return
    role = request.POST.get("role", "")
    with service_errors(request):
        if role == "per_va":
            chosen = []
            for va in account.virtual_accounts.all():
                va_role = request.POST.get(f"va_role_{va.pk}", "")
                if va_role:
                    chosen.append((va, va_role))
            services.assign_ldap_group_roles(
                actor=request.user, ldap_group=group, account=account, virtual_account_roles=chosen
            )
        else:
            services.assign_ldap_group_roles(actor=request.user, ldap_group=group, account=account, role=role)
        messages.success(
            request,
            _("All the users in the group “%(name)s” have the role on “%(account)s”.")
            % {"name": group.name, "account": account.name},
        )


@requires(Action.CHANGE_SYSTEM_CONFIG)
@require_POST
def ldap_group_remove_grant(request, pk, grant_pk):
    group = get_object_or_404(LdapGroup, pk=pk)
    grant = get_object_or_404(RoleGrant, pk=grant_pk, group__ldap_link__ldap_group=group)
    with service_errors(request):
        services.remove_ldap_group_grant(actor=request.user, ldap_group=group, grant=grant)
        messages.success(request, _("The role was removed."))
    return redirect("access_ldap_group", pk=group.pk)


# --- OAuth2 ADFS and SSO Client ----------------------------------------------------------------


def _provider_page(request, kind, form_class, template):
    config = get_provider(kind)
    if request.method == "POST":
        _require_change(request)
        form = form_class(request.POST)
        if form.is_valid():
            with service_errors(request, form):
                services.save_provider(actor=request.user, kind=kind, data=form.cleaned_data)
                messages.success(
                    request, _("The %(method)s configuration was saved.") % {"method": config.get_kind_display()}
                )
                return redirect(f"access_{kind}")
    else:
        form = form_class(
            initial={
                name: getattr(config, name)
                for name in form_class.base_fields
                if hasattr(config, name) and name != "client_secret"
            }
        )
    context = _context(
        request,
        kind,
        form=form,
        secret_set=bool(config.client_secret),
        config=config,
        redirect_uri=redirect_uri(request, kind),
        form_action=reverse(f"access_{kind}"),
    )
    if not context["editable"]:
        disable_all(form)
    return render(request, template, context)


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_http_methods(["GET", "POST"])
def adfs(request):
    return _provider_page(request, "adfs", AdfsForm, "admin_widgets/access_management/adfs.html")


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_http_methods(["GET", "POST"])
def sso(request):
    return _provider_page(request, "sso", SsoForm, "admin_widgets/access_management/sso.html")

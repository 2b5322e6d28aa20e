"""Manage Account: Users and Access Requests tabs."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.rbac import Action, grantable_roles, principal_for, visible_virtual_accounts
from accounts.services import grants as grant_service
from core.csv_export import csv_response
from core.errors import NotAllowed, ServiceError
from core.listing import Listing
from core.service_views import service_errors
from licensing.models import AccessRequest
from licensing.services import access as access_service

from ..forms import AddUserForm, ApproveAccessForm
from .manage import render_tab, require
from .workspace import account_page, decides_access_requests


def _sees_whole_account(request, account):
    """Account-wide roles see every role on the account; a role held only on some local virtual
    accounts sees the roles on those (docs/rbac.md)."""
    principal = principal_for(request)
    account_roles, _va_roles = principal.grants(account)
    return principal.is_system_wide_admin or bool(account_roles)


def _manageable_virtual_accounts(request, account):
    """The local virtual accounts on which this principal may hand out roles."""
    return [va for va in visible_virtual_accounts(request, account) if grantable_roles(request, account, va)]


def _members_table(request, account, page_size=None):
    """The Users tab's listing (search and sort of the request) over the members this principal sees."""
    whole = _sees_whole_account(request, account)
    members = grant_service.account_members(
        account, virtual_accounts=None if whole else visible_virtual_accounts(request, account)
    )
    return Listing(
        request,
        members,
        search=["username", "email", "first_name", "last_name"],
        sorts={"user": "username", "email": "email"},
        default_sort="user",
        **({"page_size": page_size} if page_size else {}),
    )


def _query(request):
    params = request.GET.copy()
    params.pop("page", None)
    return f"?{params.urlencode()}" if params else ""


def _role_text(grant):
    return (
        f"{grant.get_role_display()} ({grant.virtual_account.name})"
        if grant.virtual_account
        else str(grant.get_role_display())
    )


@account_page
@require_GET
def users_csv(request, account):
    """Manage Account > Users > Export to CSV: the table as shown (search, sort), every page; the
    roles a user holds directly and through user groups, the same ones the page shows."""
    table = _members_table(request, account)
    rows = []
    for member in table.paginator.object_list:
        direct = [_role_text(grant) for grant in member.account_grants]
        via = [
            f"{_role_text(grant)} [{membership.group.name}]"
            for membership in member.account_memberships
            for grant in membership.group.account_grants
        ]
        rows.append(
            [
                member.username,
                member.get_full_name(),
                member.email,
                "Active" if member.is_active else "Disabled",
                "; ".join(direct),
                "; ".join(via),
            ]
        )
    return csv_response(
        get_valid_filename(f"users_{account.name}_{timezone.now():%Y%m%d%H%M%S}.csv"),
        ["User ID", "Name", "Email", "Status", "Roles", "Roles through User Groups"],
        rows,
    )


@account_page
def users(request, account):
    table = _members_table(request, account)
    account_grantable = grantable_roles(request, account)
    manageable_va_ids = {va.pk for va in _manageable_virtual_accounts(request, account)}
    for user in table.page:
        for grant in user.account_grants:
            grant.removable = (
                grant.role in account_grantable
                if grant.virtual_account_id is None
                else grant.virtual_account_id in manageable_va_ids
            )
    return render_tab(
        request,
        account,
        "users",
        "licensing/manage/users.html",
        {
            "table": table,
            "may_add": bool(account_grantable or manageable_va_ids),
            "csv_url": reverse("licensing_manage_users_csv", args=[account.pk]) + _query(request),
        },
    )


@account_page
@require_http_methods(["GET", "POST"])
def user_add(request, account):
    require(request, Action.MANAGE_ACCOUNT_USERS, account)
    form = AddUserForm(
        request.POST or None,
        account_roles=grantable_roles(request, account),
        virtual_accounts=_manageable_virtual_accounts(request, account),
    )
    if request.method == "POST" and form.is_valid():
        with service_errors(request, form):
            user = grant_service.find_user(form.cleaned_data["user"])
            grant_service.assign_roles(
                actor=request.user,
                account=account,
                user=user,
                role=form.account_role(),
                virtual_account_roles=form.virtual_account_roles(),
            )
            messages.success(
                request, _("The roles of the user “%(user)s” on this account were saved.") % {"user": user.username}
            )
            return redirect("licensing_manage_users", account_id=account.pk)
    return render_tab(request, account, "users", "licensing/manage/user_add.html", {"form": form})


@account_page
@require_POST
def grant_remove(request, account, grant_id):
    grant = get_object_or_404(account.role_grants.select_related("user", "group", "virtual_account"), pk=grant_id)
    require(request, Action.MANAGE_ACCOUNT_USERS, account)
    grant_service.revoke_grant(actor=request.user, grant=grant)
    messages.success(
        request,
        _("The role “%(role)s” was removed from “%(holder)s”.")
        % {"role": grant.get_role_display(), "holder": grant.user or grant.group},
    )
    return redirect("licensing_manage_users", account_id=account.pk)


# --- Access Requests ----------------------------------------------------------------------


def _require_decider(request, account):
    if not decides_access_requests(request, account):
        raise NotAllowed()


@account_page
def access_requests(request, account):
    _require_decider(request, account)
    rows = account.access_requests.select_related("user", "decided_by")
    table = Listing(
        request,
        rows,
        search=["user__username", "user__email", "user__first_name", "user__last_name", "company", "status"],
        sorts={"user": "user__username", "date": "created_at", "status": "status"},
        default_sort="-date",
    )
    return render_tab(
        request,
        account,
        "access_requests",
        "licensing/manage/access_requests.html",
        {"table": table, "approve_form": ApproveAccessForm(), "pending": AccessRequest.Status.PENDING},
    )


@account_page
@require_POST
def access_request_decide(request, account, request_id, decision):
    access_request = get_object_or_404(account.access_requests.select_related("user"), pk=request_id)
    _require_decider(request, account)
    with service_errors(request):
        if decision == "approve":
            form = ApproveAccessForm(request.POST)
            if not form.is_valid():
                raise ServiceError(_("Choose Account User or Account Administrator."))
            access_service.approve_access_request(
                actor=request.user, access_request=access_request, role=form.cleaned_data["role"]
            )
            messages.success(
                request, _("The access request of “%(user)s” was approved.") % {"user": access_request.user.username}
            )
        else:
            access_service.decline_access_request(actor=request.user, access_request=access_request)
            messages.success(
                request, _("The access request of “%(user)s” was declined.") % {"user": access_request.user.username}
            )
    return redirect("licensing_manage_access_requests", account_id=account.pk)

"""Manage Account > User Groups: the groups of a local account, their members and their roles.

Every page and action here is for an Account Administrator of the account (or a System Admin /
Operator); anyone else who sees the account gets 403, and another account's group is 404.
"""

from django import forms
from django.contrib import messages
from django.db.models import Count, OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_POST

from accounts.models import UserGroupMembership
from accounts.roles import AccountRole
from accounts.services import grants as grant_service
from accounts.services import groups as group_service
from core.csv_export import csv_response
from core.errors import NotAllowed
from core.limits import ENVELOPE, request_limit
from core.listing import Listing
from core.service_views import service_errors

from .manage import render_tab
from .workspace import account_page

TAB = "user_groups"


class GroupForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("User Group Name"), max_length=group_service.NAME_MAX)
    description = forms.CharField(
        label=gettext_lazy("Description"), max_length=group_service.DESCRIPTION_MAX, required=False
    )


class AddMemberForm(forms.Form):
    user = forms.CharField(label=gettext_lazy("User ID or Email"), max_length=254)
    is_owner = forms.BooleanField(label=gettext_lazy("Group Owner"), required=False)


class UploadForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"))


class SendMessageForm(forms.Form):
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=group_service.MESSAGE_SUBJECT_MAX)
    message = forms.CharField(
        label=gettext_lazy("Message"),
        max_length=group_service.MESSAGE_BODY_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
    )


class GroupRoleForm(forms.Form):
    role = forms.ChoiceField(
        label=gettext_lazy("Role"),
        choices=[
            (AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_ADMIN.label),
            (AccountRole.ACCOUNT_USER, AccountRole.ACCOUNT_USER.label),
        ],
    )


class GroupVirtualAccountRoleForm(forms.Form):
    """A role on one local virtual account for every member of the group (issue #3)."""

    virtual_account = forms.ModelChoiceField(label=gettext_lazy("Local Virtual Account"), queryset=None)
    role = forms.ChoiceField(
        label=gettext_lazy("Role"),
        choices=[
            (AccountRole.VA_ADMIN, AccountRole.VA_ADMIN.label),
            (AccountRole.VA_USER, AccountRole.VA_USER.label),
        ],
    )

    def __init__(self, *args, account, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["virtual_account"].queryset = account.virtual_accounts.all()


def _require_manager(request, account):
    if not group_service.may_manage_groups(request, account):
        raise NotAllowed()


def _group_or_404(account, group_id):
    # Looked up inside the account of the URL: another account's group is simply not found.
    return get_object_or_404(account.user_groups, pk=group_id)


def _groups_url(account):
    return redirect("licensing_manage_user_groups", account_id=account.pk)


def _group_url(group):
    return redirect("licensing_user_group", account_id=group.account_id, group_id=group.pk)


def _render_list(request, account, form, status=200):
    owners = UserGroupMembership.objects.filter(group=OuterRef("pk"), is_owner=True).values("user__username")[:1]
    rows = account.user_groups.annotate(member_count=Count("memberships"), owner_name=Subquery(owners))
    table = Listing(request, rows, search=["name", "description"], sorts={"name": "name"}, default_sort="name")
    return render_tab(
        request, account, TAB, "licensing/manage/user_groups.html", {"table": table, "form": form}, status=status
    )


@account_page
@require_GET
def user_groups(request, account):
    _require_manager(request, account)
    return _render_list(request, account, GroupForm())


@account_page
@require_POST
def user_group_new(request, account):
    _require_manager(request, account)
    form = GroupForm(request.POST)
    if form.is_valid():
        with service_errors(request, form):
            group = group_service.create_group(actor=request.user, account=account, **form.cleaned_data)
            messages.success(request, _("The user group “%(name)s” was created.") % {"name": group.name})
            return _group_url(group)
    return _render_list(request, account, form, status=400)


def _render_group(
    request,
    group,
    *,
    edit_form=None,
    member_form=None,
    upload_errors=(),
    va_role_form=None,
    message_form=None,
    status=200,
):
    account = group.account
    memberships = group.memberships.select_related("user").order_by("user__username")
    table = Listing(
        request,
        memberships,
        search=["user__username", "user__email"],
        sorts={"user": "user__username"},
        default_sort="user",
    )
    return render_tab(
        request,
        account,
        TAB,
        "licensing/manage/user_group.html",
        {
            "group": group,
            "table": table,
            "grants": group.role_grants.select_related("virtual_account").order_by("role"),
            "edit_form": edit_form or GroupForm(initial={"name": group.name, "description": group.description}),
            "member_form": member_form or AddMemberForm(),
            "upload_form": UploadForm(),
            "upload_errors": upload_errors,
            "role_form": GroupRoleForm(),
            "va_role_form": va_role_form or GroupVirtualAccountRoleForm(account=account),
            "message_form": message_form or SendMessageForm(),
            "message_reach": group_service.message_recipients(group).count(),
        },
        status=status,
    )


@account_page
@require_GET
def user_group(request, account, group_id):
    group = _group_or_404(account, group_id)
    _require_manager(request, account)
    return _render_group(request, group)


@account_page
@require_POST
def user_group_edit(request, account, group_id):
    group = _group_or_404(account, group_id)
    _require_manager(request, account)
    form = GroupForm(request.POST)
    if form.is_valid():
        with service_errors(request, form):
            group_service.update_group(actor=request.user, group=group, **form.cleaned_data)
            messages.success(request, _("The user group “%(name)s” was saved.") % {"name": group.name})
            return _group_url(group)
    group.refresh_from_db()
    return _render_group(request, group, edit_form=form, status=400)


@account_page
@require_POST
def user_group_delete(request, account, group_id):
    group = _group_or_404(account, group_id)
    _require_manager(request, account)
    name = group.name
    group_service.delete_group(actor=request.user, group=group)
    messages.success(request, _("The user group “%(name)s” was deleted.") % {"name": name})
    return _groups_url(account)


@account_page
@require_POST
def user_group_message(request, account, group_id):
    """The guide's "Send Message to User Group": a mail to every member with an email address."""
    group = _group_or_404(account, group_id)
    _require_manager(request, account)
    form = SendMessageForm(request.POST)
    if form.is_valid():
        with service_errors(request, form):
            count = group_service.send_message(actor=request.user, group=group, **form.cleaned_data)
            messages.success(
                request,
                ngettext(
                    "The message was sent to %(count)d member of “%(name)s”.",
                    "The message was sent to %(count)d members of “%(name)s”.",
                    count,
                )
                % {"count": count, "name": group.name},
            )
            return _group_url(group)
    return _render_group(request, group, message_form=form, status=400)


@account_page
@require_POST
def user_group_member_add(request, account, group_id):
    group = _group_or_404(account, group_id)
    _require_manager(request, account)
    form = AddMemberForm(request.POST)
    if form.is_valid():
        with service_errors(request, form):
            user = grant_service.find_user(form.cleaned_data["user"])
            group_service.add_member(actor=request.user, group=group, user=user, is_owner=form.cleaned_data["is_owner"])
            messages.success(request, _("The user “%(user)s” was added to the group.") % {"user": user.username})
            return _group_url(group)
    return _render_group(request, group, member_form=form, status=400)


def _membership_or_404(group, membership_id):
    return get_object_or_404(group.memberships.select_related("user", "group__account"), pk=membership_id)


@account_page
@require_POST
def user_group_member_remove(request, account, group_id, membership_id):
    group = _group_or_404(account, group_id)
    membership = _membership_or_404(group, membership_id)
    _require_manager(request, account)
    group_service.remove_member(actor=request.user, membership=membership)
    messages.success(request, _("The user “%(user)s” was removed from the group.") % {"user": membership.user.username})
    return _group_url(group)


@account_page
@require_POST
def user_group_member_owner(request, account, group_id, membership_id):
    group = _group_or_404(account, group_id)
    membership = _membership_or_404(group, membership_id)
    _require_manager(request, account)
    group_service.set_owner(actor=request.user, membership=membership)
    messages.success(request, _("“%(user)s” is now the owner of the group.") % {"user": membership.user.username})
    return _group_url(group)


@request_limit(lambda: group_service.MAX_UPLOAD_BYTES + ENVELOPE, "user list (CSV)")
@account_page
@require_POST
def user_group_upload(request, account, group_id):
    group = _group_or_404(account, group_id)
    _require_manager(request, account)
    upload = request.FILES.get("file")
    if upload is None:
        errors = [_("Choose a CSV file to upload.")]
    elif upload.size > group_service.MAX_UPLOAD_BYTES:
        errors = [_("The file is larger than 1 MB.")]
    else:
        errors = group_service.import_members_csv(actor=request.user, group=group, file_content=upload.read())
    if errors:
        return _render_group(request, group, upload_errors=errors, status=400)
    messages.success(request, _("The users of the file were added to the group."))
    return _group_url(group)


@account_page
@require_GET
def user_group_download(request, account, group_id):
    group = _group_or_404(account, group_id)
    _require_manager(request, account)
    return csv_response(f"{group.name}.csv", group_service.CSV_HEADER, group_service.export_members_rows(group))


@account_page
@require_GET
def user_group_template(request, account):
    _require_manager(request, account)
    return csv_response("user_group_template.csv", group_service.CSV_HEADER, [])


@account_page
@require_POST
def user_group_role(request, account, group_id):
    group = _group_or_404(account, group_id)
    _require_manager(request, account)
    form = GroupRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose Account Administrator or Account User."))
        return _group_url(group)
    with service_errors(request):
        grant = grant_service.set_account_role(
            actor=request.user, account=account, role=form.cleaned_data["role"], group=group
        )
        messages.success(
            request,
            _("The members of “%(group)s” now have the role “%(role)s”.")
            % {"group": group.name, "role": grant.get_role_display()},
        )
    return _group_url(group)


@account_page
@require_POST
def user_group_va_role(request, account, group_id):
    """ "Assign roles to specific local Virtual Accounts" for a group: VA Administrator or VA User on one VA."""
    group = _group_or_404(account, group_id)
    _require_manager(request, account)
    form = GroupVirtualAccountRoleForm(request.POST, account=account)
    if form.is_valid():
        va = form.cleaned_data["virtual_account"]
        with service_errors(request, form):
            grant = grant_service.set_virtual_account_role(
                actor=request.user, virtual_account=va, role=form.cleaned_data["role"], group=group
            )
            messages.success(
                request,
                _("The members of “%(group)s” now have the role “%(role)s” on the local virtual account “%(va)s”.")
                % {"group": group.name, "role": grant.get_role_display(), "va": va.name},
            )
            return _group_url(group)
    return _render_group(request, group, va_role_form=form, status=400)


@account_page
@require_POST
def user_group_grant_remove(request, account, group_id, grant_id):
    group = _group_or_404(account, group_id)
    grant = get_object_or_404(group.role_grants.select_related("virtual_account", "account"), pk=grant_id)
    _require_manager(request, account)
    grant_service.revoke_grant(actor=request.user, grant=grant)
    messages.success(
        request,
        _("The role “%(role)s” was removed from “%(group)s”.")
        % {"role": grant.get_role_display(), "group": group.name},
    )
    return _group_url(group)

"""Inventory > Licenses: License Tags.

* **Available Actions > Add License Tags… / Remove License Tags…**: the licenses checked in the
  Licenses table (summary level) come here as ``?license=<id>&license=<id>``; Add takes the tag
  names (a comma or a line break ends each one), Remove offers the tags the selected licenses
  carry. ``licensing.services.tags.add_license_tags`` / ``remove_license_tags`` do it for the
  virtual account shown.
* **Manage License Tags**: every tag of the local account, with the number of licenses carrying
  it (in the account, and in this virtual account); Rename and Delete change every license of
  the account (``rename_license_tag`` / ``delete_license_tag``), offered only where the user
  manages license tags on every virtual account holding a license that carries the tag.
"""

from django import forms
from django.contrib import messages
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts.rbac import Action, can, can_on_whole_account, visible_virtual_accounts
from core.errors import ServiceError
from core.service_views import service_errors
from licensing.models import Entitlement, LicenseDefinition, LicenseTag
from licensing.services import tags as tag_service

from ..workspace import account_page, render_workspace
from .page import inventory_url, require, visible_virtual_account_or_404

ADD, REMOVE = "add", "remove"


class AddTagsForm(forms.Form):
    names = forms.CharField(
        label=gettext_lazy("Tags"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy(
            "Type each tag name and end it with a comma or the Enter key. A tag name cannot contain a comma; "
            "names are case-sensitive."
        ),
    )


class RemoveTagsForm(forms.Form):
    names = forms.MultipleChoiceField(
        label=gettext_lazy("Tags to remove"), widget=forms.CheckboxSelectMultiple, required=False
    )

    def __init__(self, *args, tags, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["names"].choices = [(name, name) for name in tags]

    def clean_names(self):
        names = self.cleaned_data["names"]
        if not names:
            raise forms.ValidationError(_("Choose at least one tag to remove."))
        return names


class RenameTagForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("New name"), max_length=tag_service.MAX_NAME_LENGTH)


def _selected_licenses(request, va):
    """The licenses named by ``license`` (query or form), held by ``va``: (licenses, problem)."""
    raw = request.POST.getlist("license") if request.method == "POST" else request.GET.getlist("license")
    ids = {int(value) for value in raw if value.isdigit()}
    if not ids or len(ids) != len(raw):
        return [], _("Select at least one license in the Licenses table.")
    held = set(Entitlement.objects.filter(virtual_account=va, license_id__in=ids).values_list("license_id", flat=True))
    if held != ids:
        return [], _("A selected license is not in this local virtual account.")
    return list(LicenseDefinition.objects.filter(pk__in=ids).order_by("name")), None


def _selected_lines(request, va):
    """The license lines named by ``line`` (Show License Transactions' rows), of ``va``: (lines, problem)."""
    raw = request.POST.getlist("line") if request.method == "POST" else request.GET.getlist("line")
    ids = {int(value) for value in raw if value.isdigit()}
    if not ids or len(ids) != len(raw):
        return [], _("Select at least one license line.")
    lines = list(Entitlement.objects.filter(virtual_account=va, pk__in=ids).select_related("license").order_by("pk"))
    if len(lines) != len(ids):
        return [], _("A selected license line is not in this local virtual account.")
    return lines, None


@account_page
@require_http_methods(["GET", "POST"])
def license_tags_edit(request, account, va_id):
    """Add License Tags… / Remove License Tags… for the licenses checked in the Licenses table, or
    for the license lines checked in its license transactions (the Transaction Detail level)."""
    va = visible_virtual_account_or_404(request, account, va_id)
    require(request, Action.MANAGE_LICENSE_TAGS, va)
    params = request.POST if request.method == "POST" else request.GET
    action = params.get("action")
    if action not in (ADD, REMOVE):
        action = ADD
    back_url = inventory_url("licensing_inventory_licenses", account, va)
    if params.getlist("line"):
        if params.getlist("license"):
            messages.error(request, _("Select licenses or license lines, not both."))
            return redirect(back_url)
        return _line_tags_edit(request, account, va, action, back_url)
    licenses, problem = _selected_licenses(request, va)
    if problem:
        messages.error(request, problem)
        return redirect(back_url)
    current = sorted(
        set(LicenseTag.objects.filter(account=account, licenses__in=licenses).values_list("name", flat=True))
    )
    data = request.POST if request.method == "POST" else None
    form = AddTagsForm(data) if action == ADD else RemoveTagsForm(data, tags=current)
    if request.method == "POST" and form.is_valid():
        change = tag_service.add_license_tags if action == ADD else tag_service.remove_license_tags
        with service_errors(request, form, fields={"licenses": None}):
            tags = change(
                actor=request.user,
                account=account,
                licenses=licenses,
                names=form.cleaned_data["names"],
                virtual_account=va,
            )
            names = ", ".join(f"“{tag.name}”" for tag in tags)
            if action == ADD:
                text = _("The tags %(tags)s were added to %(count)d selected licenses.")
            else:
                text = _("The tags %(tags)s were removed from %(count)d selected licenses.")
            messages.success(request, text % {"tags": names, "count": len(licenses)})
            return redirect(back_url)
    return render_workspace(
        request,
        "licensing/inventory/license_tags_edit.html",
        {
            "form": form,
            "action": action,
            "virtual_account": va,
            "licenses": licenses,
            "current_tags": current,
            "back_url": back_url,
        },
        account=account,
        section="inventory",
    )


def _line_tags_edit(request, account, va, action, back_url):
    """The Transaction Detail level of Add / Remove License Tags: on single license lines."""
    lines, problem = _selected_lines(request, va)
    if problem:
        messages.error(request, problem)
        return redirect(back_url)
    current = sorted(set(LicenseTag.objects.filter(account=account, lines__in=lines).values_list("name", flat=True)))
    data = request.POST if request.method == "POST" else None
    form = AddTagsForm(data) if action == ADD else RemoveTagsForm(data, tags=current)
    if request.method == "POST" and form.is_valid():
        change = tag_service.add_line_tags if action == ADD else tag_service.remove_line_tags
        with service_errors(request, form, fields={"lines": None}):
            tags = change(actor=request.user, virtual_account=va, lines=lines, names=form.cleaned_data["names"])
            names = ", ".join(f"“{tag.name}”" for tag in tags)
            if action == ADD:
                text = _("The tags %(tags)s were added to %(count)d selected license lines.")
            else:
                text = _("The tags %(tags)s were removed from %(count)d selected license lines.")
            messages.success(request, text % {"tags": names, "count": len(lines)})
            return redirect(back_url)
    return render_workspace(
        request,
        "licensing/inventory/license_tags_edit.html",
        {
            "form": form,
            "action": action,
            "virtual_account": va,
            "lines": lines,
            "licenses": [],
            "current_tags": current,
            "back_url": back_url,
        },
        account=account,
        section="inventory",
    )


def _changeable_tag_ids(request, account, tags):
    """The ids of ``tags`` this principal may rename / delete (in memory after one query)."""
    if can_on_whole_account(request, Action.MANAGE_LICENSE_TAGS, account):
        return {tag.pk for tag in tags}
    reachable = {
        va.pk
        for va in visible_virtual_accounts(request, account)
        if can(request, Action.MANAGE_LICENSE_TAGS, account=account, virtual_account=va)
    }
    holders: dict[int, set[int]] = {}
    pairs = (
        Entitlement.objects.filter(virtual_account__account=account, license__license_tags__account=account)
        .values_list("license__license_tags", "virtual_account_id")
        .distinct()
    )
    for tag_id, va_id in pairs:
        holders.setdefault(tag_id, set()).add(va_id)
    return {tag.pk for tag in tags if holders.get(tag.pk, set()) <= reachable}


@account_page
@require_http_methods(["GET"])
def license_tags_manage(request, account, va_id):
    """Manage License Tags: the account's tags, their counts, Rename and Delete."""
    va = visible_virtual_account_or_404(request, account, va_id)
    require(request, Action.MANAGE_LICENSE_TAGS, va)
    tags = list(
        LicenseTag.objects.filter(account=account).annotate(
            license_count=Count("licenses", distinct=True),
            va_license_count=Count("licenses", filter=Q(licenses__entitlements__virtual_account=va), distinct=True),
        )
    )
    changeable = _changeable_tag_ids(request, account, tags)
    for tag in tags:
        tag.changeable = tag.pk in changeable
    return render_workspace(
        request,
        "licensing/inventory/license_tags_manage.html",
        {
            "tags": tags,
            "virtual_account": va,
            "rename_form": RenameTagForm(),
            "back_url": inventory_url("licensing_inventory_licenses", account, va),
        },
        account=account,
        section="inventory",
    )


def _manage_url(account, va):
    return reverse("licensing_license_tags_manage", args=[account.pk, va.pk])


@account_page
@require_POST
def license_tag_rename(request, account, va_id, tag_id):
    va = visible_virtual_account_or_404(request, account, va_id)
    require(request, Action.MANAGE_LICENSE_TAGS, va)
    tag = get_object_or_404(LicenseTag, account=account, pk=tag_id)
    form = RenameTagForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("Enter the tag's new name (at most %(n)d characters).") % {"n": tag_service.MAX_NAME_LENGTH}
        )
        return redirect(_manage_url(account, va))
    old_name = tag.name
    try:
        tag_service.rename_license_tag(actor=request.user, tag=tag, name=form.cleaned_data["name"], virtual_account=va)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("The tag “%(old)s” was renamed to “%(new)s” on every license of the account.")
            % {"old": old_name, "new": form.cleaned_data["name"].strip()},
        )
    return redirect(_manage_url(account, va))


@account_page
@require_POST
def license_tag_delete(request, account, va_id, tag_id):
    va = visible_virtual_account_or_404(request, account, va_id)
    require(request, Action.MANAGE_LICENSE_TAGS, va)
    tag = get_object_or_404(LicenseTag, account=account, pk=tag_id)
    tag_service.delete_license_tag(actor=request.user, tag=tag, virtual_account=va)
    messages.success(
        request, _("The tag “%(name)s” was deleted from every license of the account.") % {"name": tag.name}
    )
    return redirect(_manage_url(account, va))

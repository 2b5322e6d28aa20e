"""Manage Account > Custom Tags: the list, the New Virtual Account Custom Tag wizard, and a tag's
Tag Values Management page. Every page is for whoever may ``MANAGE_CUSTOM_TAGS`` (an Account
Administrator, a System Admin / Operator); anyone else who sees the account gets 403.

The wizard keeps no server state between its steps: each step posts everything entered so far
(hidden fields), and each step checks what it adds with the service's check functions; the last
step creates the tag with ``create_custom_tag``, which checks everything again in its transaction.
"""

from django.contrib import messages
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.rbac import Action, can
from core.errors import NotAllowed, ServiceError
from core.listing import Listing
from licensing.services import custom_tags as tag_service

from .manage import render_tab
from .workspace import account_page

TAB = "custom_tags"
STEPS = {
    1: gettext_lazy("Tag Information"),
    2: gettext_lazy("Tag Values"),
    3: gettext_lazy("Assign Tag Values"),
    4: gettext_lazy("Review"),
}
FIELD_STEP = {"name": 1, "description": 1, "values": 2, "assignments": 3}


def may_manage_custom_tags(request, account):
    return can(request, Action.MANAGE_CUSTOM_TAGS, account=account)


def _require(request, account):
    if not may_manage_custom_tags(request, account):
        raise NotAllowed()


def _draft_from_post(post, vas):
    """What the form posted, loosely: the checks come from the service, step by step."""
    values = [v.strip() for v in post.get("values", "").split(",") if v.strip()]
    assignments = {}
    for va in vas:
        chosen = [v for v in post.getlist(f"assign_{va.pk}") if v]
        if chosen:
            assignments[va.pk] = chosen
    return tag_service.TagDraft(
        name=post.get("name", "").strip(),
        description=post.get("description", "").strip(),
        required=post.get("required") == "required",
        multiple_values=post.get("value_assignment") == "multiple",
        values=values,
        assignments=assignments,
    )


def _grid(draft, vas):
    """Rows of the assignment table: one per local virtual account, one cell per value."""
    return [
        {
            "va": va,
            "cells": [{"value": v, "checked": v in draft.assignments.get(va.pk, ())} for v in draft.values],
            "none_checked": not draft.assignments.get(va.pk),
        }
        for va in vas
    ]


def _render_wizard(request, account, step, draft, vas, error=None, status=200):
    return render_tab(
        request,
        account,
        TAB,
        "licensing/manage/custom_tag_wizard.html",
        {
            "step": step,
            "steps": STEPS,
            "draft": draft,
            "values_text": ", ".join(draft.values),
            "grid": _grid(draft, vas),
            "error": error,
            "va_names": {va.pk: va.name for va in vas},
        },
        status=status,
    )


@account_page
@require_GET
def custom_tags(request, account):
    _require(request, account)
    rows = account.custom_tags.annotate(value_count=Count("values"))
    table = Listing(request, rows, search=["name", "description"], sorts={"name": "name"}, default_sort="name")
    return render_tab(
        request,
        account,
        TAB,
        "licensing/manage/custom_tags.html",
        {
            "table": table,
            "unassociated": tag_service.unassociated(account),
        },
    )


@account_page
@require_http_methods(["GET", "POST"])
def custom_tag_new(request, account):
    _require(request, account)
    vas = list(account.virtual_accounts.all())
    if request.method == "GET":
        return _render_wizard(request, account, 1, tag_service.TagDraft(name=""), vas)
    draft = _draft_from_post(request.POST, vas)
    try:
        step = int(request.POST.get("step", "1"))
    except ValueError:
        step = 1
    step = min(max(step, 1), 4)
    go = request.POST.get("go", "next")
    if go == "back":
        return _render_wizard(request, account, max(step - 1, 1), draft, vas)
    try:
        if step == 1:
            draft.name, draft.description = tag_service.check_details(
                account, name=draft.name, description=draft.description
            )
        elif step == 2:
            draft.values = tag_service.parse_values(request.POST.get("values", ""))
        elif step == 3:
            tag_service.check_assignments(account, draft, vas)
        else:
            tag = tag_service.create_custom_tag(actor=request.user, account=account, draft=draft)
            messages.success(request, _("The Custom Tag “%(name)s” was added.") % {"name": tag.name})
            return redirect("licensing_manage_custom_tags", account_id=account.pk)
    except ServiceError as error:
        return _render_wizard(
            request, account, FIELD_STEP.get(error.field, step), draft, vas, error=error.message, status=400
        )
    return _render_wizard(request, account, step + 1, draft, vas)


def _tag_or_404(account, tag_id):
    return get_object_or_404(account.custom_tags, pk=tag_id)


def _render_tag(request, account, tag, draft, vas, error=None, status=200):
    return render_tab(
        request,
        account,
        TAB,
        "licensing/manage/custom_tag.html",
        {
            "tag": tag,
            "draft": draft,
            "values_text": ", ".join(draft.values),
            "grid": _grid(draft, vas),
            "error": error,
        },
        status=status,
    )


@account_page
@require_http_methods(["GET", "POST"])
def custom_tag(request, account, tag_id):
    """ "Tag Values Management": add or remove values, change which local virtual accounts hold them."""
    tag = _tag_or_404(account, tag_id)
    _require(request, account)
    vas = list(account.virtual_accounts.all())
    if request.method == "GET":
        return _render_tag(request, account, tag, tag_service.draft_of(tag), vas)
    draft = _draft_from_post(request.POST, vas)
    # A value removed from the list also leaves the virtual accounts that held it.
    draft.assignments = {va_id: [v for v in chosen if v in draft.values] for va_id, chosen in draft.assignments.items()}
    try:
        tag_service.update_custom_tag(actor=request.user, tag=tag, draft=draft)
    except ServiceError as error:
        tag.refresh_from_db()
        return _render_tag(request, account, tag, draft, vas, error=error.message, status=400)
    messages.success(request, _("The Custom Tag “%(name)s” was saved.") % {"name": tag.name})
    return redirect("licensing_custom_tag", account_id=account.pk, tag_id=tag.pk)


@account_page
@require_POST
def custom_tag_delete(request, account, tag_id):
    tag = _tag_or_404(account, tag_id)
    _require(request, account)
    name = tag.name
    tag_service.delete_custom_tag(actor=request.user, tag=tag)
    messages.success(request, _("The Custom Tag “%(name)s” was deleted.") % {"name": name})
    return redirect("licensing_manage_custom_tags", account_id=account.pk)

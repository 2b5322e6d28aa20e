"""Synchronization widget pages: Accounts (list and one account's General tab and actions),
Schedules (schedule and global data privacy), History.

"Standard / Full Synchronization Now" hands the work to a Celery worker (``sync.tasks.queue_sync``)
and the account page polls ``status.json`` for the progress. Manual synchronization downloads
the request file and uploads the response file; a refused file shows the guide's message.
"""

from django.contrib import messages
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import requires
from accounts.rbac import Action
from core.csv_export import csv_response
from core.limits import ENVELOPE, request_limit
from core.listing import Listing
from core.service_views import service_errors
from licensing.models import LocalAccount
from sync.documents import parse as document_parse
from sync.documents.rejections import MANUAL
from sync.models import SyncRecord
from sync.services import sync_settings as settings_service
from sync.services import synchronization as sync_service
from sync.services.common import sync_settings
from sync.services.schedule import due_at
from sync.tasks import queue_sync

from .forms import AccountPrivacyForm, PrivacyForm, ResponseUploadForm, ScheduleForm, SyncTypeForm

Status = LocalAccount.Status
LISTED = [Status.PENDING_REGISTRATION, Status.ACTIVE, Status.DEACTIVATED]
ACCOUNT_SEARCH = ["name", "cisco_smart_account", "cisco_virtual_account", "sync_state__onprem_name"]
ACCOUNT_SORTS = {
    "name": "name",
    "onprem_name": "sync_state__onprem_name",
    "status": "status",
    "last_sync": "sync_state__last_sync_at",
}
HISTORY_SEARCH = ["account_name", "message", "username", "request_id"]
HISTORY_SORTS = {"time": "started_at", "account": "account_name", "kind": "kind", "result": "result"}

TABS = [
    ("accounts", gettext_lazy("Accounts"), "admin_sync"),
    ("schedules", gettext_lazy("Schedules"), "admin_sync_schedules"),
    ("history", gettext_lazy("History"), "admin_sync_history"),
]


def _page(request, template, current, **context):
    tabs = [{"label": label, "url": reverse(url_name), "current": key == current} for key, label, url_name in TABS]
    return render(
        request,
        f"admin_widgets/synchronization/{template}",
        {"workspace": "admin", "sync_tabs": tabs, "current_tab": current, **context},
    )


# --- Accounts tab ------------------------------------------------------------------------------------


@requires(Action.MANAGE_SYNC)
@require_GET
def account_list(request):
    queryset = LocalAccount.objects.filter(status__in=LISTED).select_related("sync_state")
    table = Listing(request, queryset, search=ACCOUNT_SEARCH, sorts=ACCOUNT_SORTS, default_sort="name")
    config = sync_settings()
    now = timezone.now()
    rows = []
    for account in table.page:
        state = getattr(account, "sync_state", None)
        rows.append(
            {
                "account": account,
                "state": state,
                "due": due_at(state, config, now) if state is not None and state.is_registered else None,
            }
        )
    return _page(request, "accounts.html", "accounts", table=table, rows=rows, Status=Status)


def _account(pk):
    return get_object_or_404(LocalAccount.objects.filter(status__in=LISTED).select_related("sync_state"), pk=pk)


@requires(Action.MANAGE_SYNC)
@require_GET
def account_detail(request, pk):
    account = _account(pk)
    state = getattr(account, "sync_state", None)
    registered = state is not None and state.is_registered
    privacy_form = AccountPrivacyForm(
        initial={
            "override": state.privacy_override,
            "privacy_hostname": state.privacy_hostname,
            "privacy_ip_address": state.privacy_ip_address,
            "privacy_mac_address": state.privacy_mac_address,
        }
        if state is not None
        else None
    )
    records = SyncRecord.objects.filter(account=account).select_related("user").defer("request_text", "sent")[:20]
    return _page(
        request,
        "account.html",
        "accounts",
        account=account,
        state=state,
        registered=registered,
        due=due_at(state, sync_settings()) if registered else None,
        privacy_form=privacy_form,
        upload_form=ResponseUploadForm(),
        records=records,
        Status=Status,
    )


@requires(Action.MANAGE_SYNC)
@require_GET
def account_status(request, pk):
    """What the account page polls while a synchronization runs."""
    account = _account(pk)
    state = getattr(account, "sync_state", None)
    if state is None:
        return JsonResponse({"status": "idle", "message": "", "last_sync_at": None})
    return JsonResponse(
        {
            "status": state.status,
            "status_label": state.get_status_display(),
            "message": state.status_message,
            "last_sync_at": state.last_sync_at.isoformat() if state.last_sync_at else None,
            "last_sync_result": state.last_sync_result,
            "full_sync_required": state.full_sync_required,
        }
    )


@requires(Action.MANAGE_SYNC)
@require_POST
def sync_now(request, pk):
    account = _account(pk)
    form = SyncTypeForm(request.POST)
    state = getattr(account, "sync_state", None)
    if not form.is_valid() or state is None or not state.is_registered:
        messages.error(request, _("Only a registered local account can be synchronized."))
        return redirect("admin_sync_account", pk=account.pk)
    full = form.cleaned_data["sync_type"] == "full"
    queue_sync(account, full=full, actor=request.user)
    messages.info(
        request,
        _("The %(type)s synchronization of “%(name)s” was started; its progress is shown below.")
        % {"type": _("full") if full else _("standard"), "name": account.name},
    )
    return redirect("admin_sync_account", pk=account.pk)


def _yaml_download(name, text):
    response = HttpResponse(text.encode("utf-8"), content_type="application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@requires(Action.MANAGE_SYNC)
@require_POST
def download_request(request, pk):
    """Manual Synchronization > Standard / Full > Download File."""
    account = _account(pk)
    form = SyncTypeForm(request.POST)
    full = form.is_valid() and form.cleaned_data["sync_type"] == "full"
    with service_errors(request):
        name, text = sync_service.request_file(account, actor=request.user, full=full)
        return _yaml_download(name, text)
    return redirect("admin_sync_account", pk=account.pk)


@request_limit(lambda: document_parse.MAX_DOCUMENT_BYTES + ENVELOPE, "synchronization response file")
@requires(Action.MANAGE_SYNC)
@require_POST
def upload_response(request, pk):
    account = _account(pk)
    form = ResponseUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        for error in form.errors.get("file", []):
            messages.error(request, error)
        return redirect("admin_sync_account", pk=account.pk)
    upload = form.cleaned_data["file"]

    def failed(message):
        return _("Synchronization Failed: %(message)s") % {"message": message}

    with service_errors(request, message=failed):
        record = sync_service.apply_response(account, upload.read(), name=upload.name, actor=request.user, mode=MANUAL)
        messages.success(request, record.message)
    return redirect("admin_sync_account", pk=account.pk)


@requires(Action.MANAGE_SYNC)
@require_POST
def account_privacy(request, pk):
    account = _account(pk)
    form = AccountPrivacyForm(request.POST)
    if form.is_valid():
        with service_errors(request):
            settings_service.update_account_privacy(
                actor=request.user, account=account, **{k: v for k, v in form.cleaned_data.items()}
            )
            messages.success(request, _("The data privacy settings of “%(name)s” were saved.") % {"name": account.name})
    return redirect("admin_sync_account", pk=account.pk)


@requires(Action.MANAGE_SYNC)
@require_POST
def account_scheduled(request, pk):
    account = _account(pk)
    enabled = request.POST.get("enabled") == "1"
    with service_errors(request):
        settings_service.set_scheduled_sync(actor=request.user, account=account, enabled=enabled)
        messages.success(
            request,
            _("Scheduled synchronization of “%(name)s” is %(state)s.")
            % {"name": account.name, "state": _("enabled") if enabled else _("disabled")},
        )
    return redirect("admin_sync_account", pk=account.pk)


# --- Schedules tab --------------------------------------------------------------------------------------


@requires(Action.MANAGE_SYNC)
@require_http_methods(["GET", "POST"])
def schedules(request):
    config = sync_settings()
    schedule_form = ScheduleForm(initial={f: getattr(config, f) for f in ScheduleForm.base_fields})
    privacy_form = PrivacyForm(initial={f: getattr(config, f) for f in PrivacyForm.base_fields})
    if request.method == "POST":
        if request.POST.get("form") == "privacy":
            privacy_form = PrivacyForm(request.POST)
            if privacy_form.is_valid():
                settings_service.update_global_privacy(actor=request.user, **privacy_form.cleaned_data)
                messages.success(request, _("The global data privacy settings were saved."))
                return redirect("admin_sync_schedules")
        else:
            schedule_form = ScheduleForm(request.POST)
            if schedule_form.is_valid():
                with service_errors(request, schedule_form):
                    settings_service.update_schedule(actor=request.user, **schedule_form.cleaned_data)
                    messages.success(request, _("The synchronization schedule was saved."))
                    return redirect("admin_sync_schedules")
    return _page(
        request, "schedules.html", "schedules", schedule_form=schedule_form, privacy_form=privacy_form, config=config
    )


# --- History tab --------------------------------------------------------------------------------------


def _history_table(request):
    queryset = SyncRecord.objects.defer("request_text", "sent")
    return Listing(request, queryset, search=HISTORY_SEARCH, sorts=HISTORY_SORTS, default_sort="-time")


@requires(Action.MANAGE_SYNC)
@require_GET
def history(request):
    return _page(request, "history.html", "history", table=_history_table(request))


@requires(Action.MANAGE_SYNC)
@require_GET
def history_csv(request):
    table = _history_table(request)
    rows = (
        (
            f"{timezone.localtime(r.started_at):%Y-%m-%d %H:%M:%S}",
            r.account_name,
            r.get_kind_display(),
            r.get_mode_display(),
            r.sync_type,
            r.get_result_display(),
            r.message,
            r.username,
            r.request_id,
            r.response_id or "",
        )
        for r in table.paginator.object_list.iterator()
    )
    return csv_response(
        f"synchronization_history_{timezone.now():%Y%m%d%H%M%S}.csv",
        [
            _("Time"),
            _("Local Account"),
            _("Kind"),
            _("Mode"),
            _("Type"),
            _("Result"),
            _("Message"),
            _("User"),
            _("Request ID"),
            _("Response ID"),
        ],
        rows,
    )


__all__ = [
    "account_list",
    "account_detail",
    "account_status",
    "sync_now",
    "download_request",
    "upload_response",
    "account_privacy",
    "account_scheduled",
    "schedules",
    "history",
    "history_csv",
]

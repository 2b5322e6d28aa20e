"""Shared pieces of registration and synchronization: settings, state, the trusted root, privacy."""

import uuid
from pathlib import Path

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone

from accounts.rbac import Action, can
from core import pki
from core.errors import NotAllowed, ServiceError
from sync.documents.document import OnPrem

from ..models import AccountSync, SyncRecord, SyncSettings


class SyncFailed(ServiceError):
    """A registration or synchronization that failed; ``message`` is the guide's text where it has one.

    ``code`` is the rejection's stable code (``sync.documents.rejections``) or the CSSM client's, ``detail``
    the technical reason (logged and kept in the history, never shown instead of the message).
    """

    def __init__(self, message, *, code="", detail=""):
        super().__init__(message)
        self.code, self.detail = code, detail


def sync_settings():
    """The global synchronization settings (saved or default, unsaved)."""
    return SyncSettings.objects.filter(pk=1).first() or SyncSettings(pk=1)


def cssm_url():
    return (sync_settings().cssm_url or django_settings.ONPREM_CSSM_URL).rstrip("/")


def require_sync_admin(actor):
    """``actor`` None is the system itself (scheduler, commands); a person needs MANAGE_SYNC."""
    if actor is not None and not can(actor, Action.MANAGE_SYNC):
        raise NotAllowed("You are not allowed to manage the synchronization with Cisco Smart Software Manager.")


def actor_name(actor):
    return getattr(actor, "username", "") or "system"


def state_of(account, *, create=False):
    """The account's ``AccountSync`` (created with a fresh UID when ``create``), or None."""
    state = AccountSync.objects.filter(account=account).first()
    if state is None and create:
        state, _ = AccountSync.objects.get_or_create(account=account, defaults={"uid": uuid.uuid4().hex})
    return state


def lock_state(account):
    return AccountSync.objects.select_for_update().get(account=account)


def onprem_of(account, state):
    """How documents name this local account (the SSM On-Prem record CSSM holds)."""
    return OnPrem(
        name=(state.onprem_name or account.name)[:100],
        uid=state.uid,
        smart_account=account.cisco_smart_account,
        virtual_account=account.cisco_virtual_account,
    )


def configured_root():
    """The CSSM root configured or pinned (PEM), or '' (then the first Authorization pins one)."""
    pinned = sync_settings().cssm_root_pem
    if pinned:
        return pinned
    path = django_settings.ONPREM_CSSM_ROOT_FILE
    if path:
        try:
            return Path(path).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise ServiceError(f"The CSSM root certificate file {path} cannot be read: {exc}") from None
    return ""


def pin_root(root_pem):
    """Trust on first use: keep the root of the first accepted Authorization for every later document."""
    config = sync_settings()
    if not config.cssm_root_pem:
        config.cssm_root_pem = root_pem
        config.save()


def privacy(state):
    """{hostname, ip_address, mac_address}: True = excluded (the account's override, else the global one)."""
    source = state if state is not None and state.privacy_override else sync_settings()
    return {
        "hostname": source.privacy_hostname,
        "ip_address": source.privacy_ip_address,
        "mac_address": source.privacy_mac_address,
    }


def certificate_not_after(pem):
    try:
        return pki.load_certificate(pem).not_valid_after_utc
    except pki.PkiError:
        return None


def new_record(account, *, kind, mode, request_id, actor, sync_type="", sent=None, request_text="", now=None):
    return SyncRecord.objects.create(
        account=account,
        account_name=account.name,
        kind=kind,
        mode=mode,
        sync_type=sync_type,
        request_id=request_id,
        sent=sent or {},
        request_text=request_text,
        user=actor if getattr(actor, "pk", None) else None,
        username=getattr(actor, "username", "") or "",
        started_at=now or timezone.now(),
    )


def fail_record(record, message):
    """Mark a record failed in its own transaction (the caller's work was rolled back)."""
    with transaction.atomic():
        SyncRecord.objects.filter(pk=record.pk, result=SyncRecord.Result.PENDING).update(
            result=SyncRecord.Result.FAILED, message=message[:4000], finished_at=timezone.now()
        )


def is_processed(response_id):
    return SyncRecord.objects.filter(response_id=response_id).exists()


__all__ = [
    "SyncFailed",
    "sync_settings",
    "cssm_url",
    "require_sync_admin",
    "state_of",
    "lock_state",
    "onprem_of",
    "configured_root",
    "pin_root",
    "privacy",
    "new_record",
    "fail_record",
    "is_processed",
]

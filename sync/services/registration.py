"""Registering a local account with CSSM: online (the admin's CCO credentials), manual (files),
and re-registration of a deactivated account; delete with the guide's preconditions.

A ``RegistrationRequest`` carries two CSRs for keys generated here: the ID key (signs the
account's synchronization requests) and the signing key (the account's signing authority for
device ID certificates). The keys wait in ``AccountSync.pending_*`` until the ``Authorization``
comes back; applying it installs the CSSM-signed chain (``install_signing_authority``), keeps
the ID certificate, makes the account Active and records the events, all in one transaction.
Generating a new request replaces the pending keys, so an older authorization file no longer
fits (it certifies another key: "Invalid ID Certificate").
"""

import logging

from django.db import transaction
from django.utils import timezone

from core import events, pki
from core.errors import ServiceError
from licensing.models import LocalAccount
from licensing.services import accounts as account_service
from licensing.services import cssm_alerts
from licensing.services.device_pki import install_signing_authority
from sync import metrics
from sync.documents.build import build
from sync.documents.document import OnPrem, parse_timestamp
from sync.documents.parse import parse
from sync.documents.rejections import (
    MANUAL,
    NETWORK,
    AlreadyProcessed,
    CertificatesMissing,
    InvalidSigningCertificate,
    Rejection,
    WrongAccount,
)
from sync.documents.schema import SchemaError
from sync.documents.serialize import filename, serialize
from sync.documents.signing import new_csr, sign
from sync.documents.verify import verify

from ..models import AccountSync, SyncedProductInstance, SyncRecord
from . import client
from .common import (
    SyncFailed,
    actor_name,
    certificate_not_after,
    configured_root,
    fail_record,
    is_processed,
    lock_state,
    new_record,
    pin_root,
    require_sync_admin,
    state_of,
)

logger = logging.getLogger(__name__)
Status = LocalAccount.Status
PRODUCT_VERSION = "onprem 1"


def _check_can_register(account, reregistration):
    account.refresh_from_db(fields=["status"])
    if reregistration:
        if account.status != Status.DEACTIVATED:
            raise ServiceError(f"Deactivate the local account “{account.name}” before re-registering it.")
        return
    if account.status not in (Status.PENDING_REGISTRATION, Status.REQUESTED):
        raise ServiceError(
            f"The local account “{account.name}” is {account.get_status_display()}; only an account "
            "waiting for registration can be registered."
        )


@transaction.atomic
def create_registration_request(account, *, actor, reregistration=False, mode=SyncRecord.Mode.MANUAL, now=None):
    """A new signed RegistrationRequest for ``account``: returns ``(document, text, record)``."""
    require_sync_admin(actor)
    _check_can_register(account, reregistration)
    now = now or timezone.now()
    state_of(account, create=True)
    state = lock_state(account)
    id_key, signing_key = pki.new_private_key(), pki.new_private_key()
    onprem = OnPrem(
        name=account.name,
        uid=state.uid,
        smart_account=account.cisco_smart_account,
        virtual_account=account.cisco_virtual_account,
    )
    body = {
        "account_name": account.name,
        "reregistration": reregistration,
        "id_csr": new_csr(id_key, common_name=account.name, uid=state.uid),
        "signing_csr": new_csr(signing_key, common_name=account.name, uid=state.uid),
        "requested_by": actor_name(actor)[:255],
        "product_version": PRODUCT_VERSION,
    }
    if account.message_to_creator:
        body["message_to_approver"] = account.message_to_creator[:2000]
    try:
        document = sign(build("RegistrationRequest", onprem, body, now=now), id_key, [])
    except SchemaError as exc:
        raise ServiceError(f"The registration request cannot be built: {exc}") from None
    text = serialize(document)
    state.pending_request_id = document.document_id
    state.pending_reregistration = reregistration
    state.pending_id_private_key = pki.private_key_pem(id_key)
    state.pending_signing_private_key = pki.private_key_pem(signing_key)
    state.save(
        update_fields=[
            "pending_request_id",
            "pending_reregistration",
            "pending_id_private_key",
            "pending_signing_private_key",
        ]
    )
    kind = SyncRecord.Kind.REREGISTRATION if reregistration else SyncRecord.Kind.REGISTRATION
    record = new_record(
        account, kind=kind, mode=mode, request_id=document.document_id, actor=actor, request_text=text, now=now
    )
    if mode == SyncRecord.Mode.MANUAL:
        # Online, the Authorization comes back in the same call; a file waits for the admin.
        cssm_alerts.registration_requested(
            account,
            onprem_name=account.name,
            email=getattr(actor, "email", "") or actor_name(actor),
            now=now,
        )
        if reregistration:
            events.record("sync.reregistration_file", actor=actor, account=account, logical_account_name=account.name)
        else:
            events.record("sync.registration_file", actor=actor, account=account, account_name=account.name)
    return document, text, record


def check_authorization_files(*, now=None):
    """Ask CSSM about each manual registration still waiting for its Authorization File; for those
    whose file has been generated, SSM On-Prem Authorization File Ready replaces Authorization
    Pending (and mails the address the pending alert named). Returns the names of the accounts
    whose file is ready.

    Periodic (``sync.check_authorization_files``). It needs CSSM reachable: an On-Prem without a
    network path to CSSM skips the check silently, and its Authorization Pending stays (the admin
    learns of the file from CSSM's own mail, as the guide has it).
    """
    from licensing.models import Alert

    ready = []
    waiting = (
        Alert.objects.filter(key=cssm_alerts.AUTHORIZATION_PENDING)
        .live()
        .select_related("account")
        .order_by("account_id")
    )
    for alert in waiting:
        account = alert.account
        state = AccountSync.objects.filter(account=account).exclude(pending_request_id="").first()
        if state is None:
            continue
        record = SyncRecord.objects.filter(request_id=state.pending_request_id).select_related("user").first()
        try:
            status = client.registration_status(state.pending_request_id, state.uid)
        except client.CssmUnavailable as exc:
            logger.info("Authorization File status of %s not known: %s", account.name, exc.message)
            continue
        if status != "ready":
            continue
        email = getattr(getattr(record, "user", None), "email", "") or ""
        cssm_alerts.authorization_ready(
            account, onprem_name=state.onprem_name or account.name, email=email, now=now or timezone.now()
        )
        ready.append(account.name)
    return ready


def registration_file(account, *, actor, reregistration=False):
    """ "Generate Registration File" / "Generate Re-Registration File": ``(file name, YAML text)``."""
    document, text, _record = create_registration_request(account, actor=actor, reregistration=reregistration)
    return filename(document), text


def _trusted_roots(document):
    """The configured / pinned CSSM root; before any is pinned, the root the Authorization brings."""
    root = configured_root()
    if root:
        return [root], root
    chain = document.body.get("certificate_chain") or []
    if not chain:
        raise CertificatesMissing("the certificate chain is empty")
    candidate = chain[-1]
    try:
        cert = pki.load_certificate(candidate)
    except pki.PkiError:
        raise InvalidSigningCertificate("the chain's root is not a certificate") from None
    if cert.issuer != cert.subject:
        raise InvalidSigningCertificate("the chain does not end with a root certificate")
    return [candidate], candidate


def _fail(account, record, exc, actor, mode):
    message = getattr(exc, "message", str(exc))
    detail = getattr(exc, "detail", "")
    logger.warning("registration of %s failed: %s (%s)", account.name, message, detail)
    if record is not None:
        fail_record(record, message)
    with transaction.atomic():
        events.record(
            "sync.registration_failed", actor=actor, account=account, account_name=account.name, reason=message
        )
    metrics.sync_result(mode, "failed")
    return SyncFailed(message, code=getattr(exc, "code", ""), detail=detail)


def apply_authorization(account, data, *, actor, name=None, mode=MANUAL, now=None):
    """Verify an ``Authorization`` (YAML bytes) and register the account with it; returns the record.

    Any rejection (the guide's messages) writes nothing but the failed history entry and event.
    """
    require_sync_admin(actor)
    now = now or timezone.now()
    state = state_of(account)
    record = None
    if state is not None and state.pending_request_id:
        record = SyncRecord.objects.filter(request_id=state.pending_request_id).first()
    try:
        if state is None or not state.pending_request_id:
            raise WrongAccount("no registration request is waiting for an authorization", mode=mode)
        document = parse(data, name=name, mode=mode, expected_kinds=("Authorization",))
        try:
            roots, root = _trusted_roots(document)
        except Rejection as exc:
            exc.mode = mode
            raise
        verify(
            document,
            trusted_roots=roots,
            mode=mode,
            now=now,
            expected_uid=state.uid,
            in_reply_to=state.pending_request_id,
            is_processed=is_processed,
            expected_id_public_key=pki.load_private_key(state.pending_id_private_key).public_key(),
        )
        with transaction.atomic():
            _register(account, document, root, actor=actor, now=now, mode=mode)
    except (Rejection, pki.PkiError) as exc:
        # A rejected upload leaves the request pending (the right file may follow); online, it is spent.
        raise _fail(
            account, record if mode == NETWORK else None, exc, actor, "manual" if mode == MANUAL else "online"
        ) from None
    metrics.sync_result("manual" if mode == MANUAL else "online", "registered")
    if mode == NETWORK and record is not None and record.kind == SyncRecord.Kind.REREGISTRATION:
        # "Once you have completed re-registering a local Account, a full synchronization will
        # automatically be scheduled that runs in the background for the Account."
        from ..tasks import queue_sync

        transaction.on_commit(lambda: queue_sync(account, full=True, actor=None))
    return SyncRecord.objects.get(pk=record.pk) if record is not None else None


def _register(account, document, root, *, actor, now, mode):
    state = lock_state(account)
    body = document.body
    if state.pending_request_id != body["in_reply_to"]:
        raise AlreadyProcessed("the registration was completed by another upload", mode=mode)
    record = SyncRecord.objects.select_for_update().get(request_id=state.pending_request_id)
    reregistration = state.pending_reregistration
    install_signing_authority(
        account=account,
        certificate_pem=body["signing_certificate"],
        private_key_pem=state.pending_signing_private_key,
        chain_pem="".join(pem if pem.endswith("\n") else pem + "\n" for pem in body["certificate_chain"]),
        now=now,
    )
    state.id_private_key = state.pending_id_private_key
    state.id_certificate_pem = body["id_certificate"]
    state.id_certificate_not_after = certificate_not_after(body["id_certificate"])
    state.root_pem = root
    state.chain_pem = "".join(pem if pem.endswith("\n") else pem + "\n" for pem in body["certificate_chain"])
    state.registered_at = parse_timestamp(body["registered_at"])
    state.onprem_name = body["onprem_name"]
    state.last_response_id = document.document_id
    state.full_sync_required = body["full_sync_required"]
    state.pending_request_id, state.pending_reregistration = "", False
    state.pending_id_private_key = state.pending_signing_private_key = ""
    state.save()
    if reregistration:
        # CSSM starts from nothing for a re-registered On-Prem: the next request must carry everything.
        SyncedProductInstance.objects.filter(account=account).delete()
        state.full_sync_required = True
        state.save(update_fields=["full_sync_required"])
    LocalAccount.objects.filter(pk=account.pk).update(export_control_allowed=body["export_control_allowed"])
    record.result, record.response_id, record.finished_at = SyncRecord.Result.SUCCESS, document.document_id, now
    record.message = (
        "Account was successfully re-registered." if reregistration else "Account was created successfully."
    )
    record.save(update_fields=["result", "response_id", "finished_at", "message"])
    pin_root(root)
    cssm_alerts.registered(account, now=now)
    cssm_alerts.apply_authorization_notices(account, body.get("notices"), now=now)
    fresh = LocalAccount.objects.get(pk=account.pk)
    if fresh.status == Status.REQUESTED:
        fresh = account_service.approve_account_request(actor=actor, account=fresh)
    account_service.activate_account(actor=actor, account=fresh)
    if reregistration:
        events.record(
            "sync.reregistered",
            actor=actor,
            account=account,
            logical_account_name=account.name,
            smart_account_name=account.cisco_smart_account,
            virtual_account_name=account.cisco_virtual_account,
            user_name=actor_name(actor),
            time=f"{timezone.localtime(now):%Y-%m-%d %H:%M:%S %Z}",
        )
    else:
        events.record(
            "sync.registered",
            actor=actor,
            account=account,
            account_name=account.name,
            smart_account_name=account.cisco_smart_account,
            virtual_account_name=account.cisco_virtual_account,
            user_name=actor_name(actor),
        )


def register_online(account, *, actor, username, password, reregistration=False, now=None):
    """Approve-and-register / Re-register (online): the admin's CCO credentials go to CSSM with the request."""
    if not username or not password:
        raise ServiceError("Enter your Cisco credentials (CCO ID and password).", field="username")
    _document, text, record = create_registration_request(
        account, actor=actor, reregistration=reregistration, mode=SyncRecord.Mode.ONLINE, now=now
    )
    try:
        content = client.post_document(client.REGISTER_PATH, text, credentials=(username, password))
    except client.CssmUnavailable as exc:
        raise _fail(account, record, exc, actor, "online") from None
    return apply_authorization(account, content, actor=actor, mode=NETWORK, now=now)


def approve_and_register(account, *, actor, username, password):
    """The Account Requests tab's Approve: approve the request, then register it online.

    The approval stands even when the registration fails (the account waits, Pending
    Registration, for another try or a manual registration).
    """
    if account.status == Status.REQUESTED:
        account = account_service.approve_account_request(actor=actor, account=account)
    return register_online(account, actor=actor, username=username, password=password)


def delete_account(account, *, actor):
    """Delete a deactivated local account once CSSM knows its product instances are gone."""
    require_sync_admin(actor)
    state = AccountSync.objects.filter(account=account).first()
    if state is not None and state.is_registered:
        acknowledged = SyncedProductInstance.objects.filter(account=account).exists()
        if acknowledged or state.product_instances_on_cssm:
            raise ServiceError(
                f"Cisco Smart Software Manager still holds product instances of the local account “{account.name}”: "
                "remove them and synchronize before deleting the account."
            )
    account_service.delete_account(actor=actor, account=account)


__all__ = [
    "create_registration_request",
    "registration_file",
    "apply_authorization",
    "register_online",
    "approve_and_register",
    "delete_account",
]

"""The Security widget's Certificates tab: the Host Common Name, the CSR and its pending key, the
import of a certificate and the return to the default one. Each action checks RBAC and records an
event; the certificate checks and files are ``core.certificates``."""

import ipaddress
import re

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from accounts.rbac import Action, can
from accounts.security_models import PendingCsr, SecurityPolicy
from accounts.services.password_policy import current
from core import certificates, events
from core.errors import NotAllowed, ServiceError


def host_common_name():
    """The Host Common Name (Security widget, Certificates tab): the name product instances use in
    their call-home URL and the device endpoints answer as; ONPREM_HOST until one is saved."""
    try:
        return current().host_common_name or settings.ONPREM_HOST
    except DatabaseError:  # no table yet (a first start before migrate): the setting
        return settings.ONPREM_HOST


def _require_change(actor):
    if actor is not None and not can(actor, Action.CHANGE_SYSTEM_CONFIG):
        raise NotAllowed("Only a System Administrator can change certificates.")


_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*")


def set_host_common_name(*, actor, common_name):
    """Save the Host Common Name: an FQDN, a host name or an IP address (guide, Certificates tab)."""
    _require_change(actor)
    value = (common_name or "").strip().rstrip(".")
    try:
        value = str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        if len(value) > 253 or not _HOST_NAME.fullmatch(value):
            raise ServiceError(
                "Enter a fully qualified domain name, a host name or an IP address.", field="host_common_name"
            ) from None
        value = value.lower()
    with transaction.atomic():
        policy = SecurityPolicy.objects.select_for_update().filter(pk=1).first() or SecurityPolicy(pk=1)
        policy.host_common_name = value
        policy.save()
        events.record(
            "security.host_common_name_changed",
            actor=actor,
            common_name=value,
            user_name=getattr(actor, "username", "system"),
        )
    return value


def create_csr(*, actor, key_size, **fields):
    """Generate a CSR, keep its key (encrypted) for the import, and log it; return the CSR PEM."""
    _require_change(actor)
    generated = certificates.generate_csr(key_size=key_size, **fields)
    with transaction.atomic():
        PendingCsr.objects.update_or_create(
            pk=1,
            defaults={
                "common_name": fields["common_name"].strip(),
                "csr_pem": generated.csr_pem,
                "private_key": generated.key_pem,
                "created_at": timezone.now(),
            },
        )
        events.record(
            "security.csr_generated",
            actor=actor,
            common_name=fields["common_name"].strip(),
            key_size=key_size,
            user_name=getattr(actor, "username", "system"),
        )
    return generated.csr_pem


def pending_csr():
    return PendingCsr.objects.filter(pk=1).first()


def import_certificate(*, actor, certificate_pem, intermediate_pem=b"", key_pem=b"", description="", now=None):
    """Check and install an uploaded certificate; nothing is written unless every check passes."""
    _require_change(actor)
    certificates.refuse_supplied()
    pending = pending_csr()
    checked = certificates.check_import(
        certificate_pem=certificate_pem,
        intermediate_pem=intermediate_pem,
        key_pem=key_pem,
        pending_key_pem=pending.private_key if pending else "",
        host=host_common_name(),
        now=now,
    )
    description = (description or "").strip()[:200]
    with transaction.atomic():
        events.record(
            "security.certificate_imported",
            actor=actor,
            subject=checked.certificate.subject.rfc4514_string(),
            expires=f"{checked.certificate.not_valid_after_utc:%Y-%m-%d}",
            user_name=getattr(actor, "username", "system"),
        )
        pending_key = certificates.parse_rsa_key(pending.private_key) if pending else None
        if pending and certificates.key_matches(checked.certificate, pending_key):
            PendingCsr.objects.filter(pk=1).delete()
        # The files last: if writing fails the transaction (event, pending key) rolls back with it.
        certificates.install(checked, description=description, imported_by=getattr(actor, "username", ""))
    return checked


def restore_default(*, actor):
    _require_change(actor)
    with transaction.atomic():
        events.record("security.certificate_reverted", actor=actor, user_name=getattr(actor, "username", "system"))
        certificates.revert_to_default()

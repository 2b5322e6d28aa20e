"""Product instances registering, renewing their identity and deregistering (device protocol).

Called by ``licensing.transport`` once a message's signature, timestamp and nonce passed,
inside the transaction that spent the nonce. Each function returns the reply fields.
"""

import datetime
import functools

from django.db import IntegrityError, connection, transaction

from core import events, pki

from ..models import DeviceCertificate, DeviceIdentity, LicenseUsage, ProductInstance
from . import alert_hooks, device_reregistration, prepared, registration_limits
from .device_errors import FROM_TOKEN_REFUSAL, NOT_REGISTERED, TOKEN_UNKNOWN, DeviceError
from .device_pki import current_authority, host_common_name, issue_certificate
from .prepared import update_row
from .product_instances import FAILED_TO_RENEW, OK, remove_product_instance, renewal_state, transfer_product_instance
from .tokens import TokenError, count_use, find_usable_token

# How long after a registration the same REGISTER (same token, virtual account and key) is taken
# for a retry of it rather than a re-registration: longer than an agent's retries last.
REPEAT_WINDOW = datetime.timedelta(minutes=10)


def epoch_ms(moment):
    return int(moment.timestamp() * 1000)


def certificate_reply(cert, authority):
    return {
        "id_certificate": cert.certificate_pem,
        "id_certificate_serial": cert.serial_hex,
        "certificate_chain": authority.chain(),
        "renew_id_after": epoch_ms(cert.renew_after),
    }


def identity_fields(message, transport, now):
    sudi, f = message.sudi, message.fields
    values = {
        name: sudi.get(name, "")[:field_max]
        for name, field_max in (
            ("udi_vid", 64),
            ("uuid", 64),
            ("suvi", 255),
            ("host_identifier", 255),
            ("mac_address", 64),
        )
    }
    values.update(software_tag=message.software_tag, transport=transport, updated_at=now)
    for name, field_max in (("ip_address", 64), ("product_type", 64), ("agent_version", 64)):
        if f.get(name):
            values[name] = f[name][:field_max]
    return values


class _ProductInstanceLookup:
    """The product instance of a UDI in a local account, with its virtual account and local
    account; the product instance's row locked (messages of one device serialise), the other two
    only read. ``FOR NO KEY UPDATE OF p``: locking the virtual account and account rows too (what
    ``select_for_update()`` over ``select_related`` does) would block the foreign-key checks of
    every concurrent registration in them at COMMIT — the deadlock of the registration limits'
    locks (docs/licensing-engine.md, "Locking"). One statement written once per process."""

    def __init__(self):
        from ..models import LocalAccount, VirtualAccount

        self.pi = prepared.Columns(ProductInstance, "p")
        self.va = prepared.Columns(VirtualAccount, "v")
        self.account = prepared.Columns(LocalAccount, "a")
        self.sql = (
            f"SELECT {self.pi.select}, {self.va.select}, {self.account.select} "
            "FROM licensing_productinstance p "
            "JOIN licensing_virtualaccount v ON v.id = p.virtual_account_id "
            "JOIN licensing_localaccount a ON a.id = v.account_id "
            "WHERE p.account_id = %s AND p.udi_pid = %s AND p.udi_serial_number = %s"
            # SQLite has no row locks and needs none: it has one writer at a time.
            + (" FOR NO KEY UPDATE OF p" if connection.features.has_select_for_update else "")
        )

    def __call__(self, account, udi):
        with connection.cursor() as cursor:
            prepared.execute(cursor, self.sql, [account.pk, udi["udi_pid"], udi["udi_serial_number"]])
            row = cursor.fetchone()
        if row is None:
            return None
        pi, va, owner = (
            part.build(values)
            for part, values in zip(
                (self.pi, self.va, self.account), prepared.split(row, self.pi, self.va, self.account), strict=True
            )
        )
        prepared.cache_related(pi, "virtual_account", va)
        prepared.cache_related(va, "account", owner)
        return pi


@functools.cache  # built on first use: the SQL needs the database's quoting, unknown at import
def _pi_lookup():
    return _ProductInstanceLookup()


def _locked_pi(account, udi):
    return _pi_lookup()(account, udi)


def _insert_pi(pi):
    """Insert the new ``pi``; False when a concurrent first registration of its UDI got there first."""
    if pi.account_id != pi.virtual_account.account_id:  # what ProductInstance.save() refuses
        raise ValueError("A product instance belongs to a virtual account of its own local account.")
    if prepared.returning_supported():
        # ON CONFLICT DO NOTHING: no error to roll back, so no savepoint around it.
        return prepared.insert(pi, ignore_conflicts=True)
    try:
        with transaction.atomic():
            pi.save()
        return True
    except IntegrityError:
        return False


def find_or_create_pi(account, va, message, now, *, before_create=None):
    """(product instance locked for update, created?) for the message's UDI in ``account``.

    ``before_create()`` runs before a new one is created (the registration limits) and may refuse.
    """
    udi = {"udi_pid": message.sudi["udi_pid"], "udi_serial_number": message.sudi["udi_serial_number"]}
    pi = _locked_pi(account, udi)
    if pi is not None:
        return pi, False
    if before_create is not None:
        before_create()
    pi = ProductInstance(
        account=account,
        virtual_account=va,
        registered_at=now,
        last_contact_at=now,
        hostname=message.fields.get("hostname", ""),
        product_name=message.fields.get("product_name", ""),
        **udi,
    )
    if _insert_pi(pi):
        return pi, True
    return _locked_pi(account, udi), False


def register(message, *, transport, now):
    """REGISTER: use the token, add or re-register the product instance, issue its ID certificate.

    A UDI the local account already has is re-registered (in place, or moved with ``force``) only
    as ``device_reregistration.authorize`` allows.

    The shared rows that registrations wait for — the virtual account's (registration limits)
    and the token's (its uses) — are locked last, just before the commit: registrations with one
    token overlap in everything else (docs/performance.md).
    """
    f = message.fields
    try:
        token = find_usable_token(f["id_token"], now=now)
    except TokenError as error:
        raise DeviceError(FROM_TOKEN_REFUSAL.get(error.code, TOKEN_UNKNOWN)) from error
    va = token.virtual_account
    account = va.account
    authority = current_authority(account, now)
    # A new UDI counts against the hourly registration limits; a known one does not.
    pi, created = find_or_create_pi(
        account, va, message, now, before_create=lambda: registration_limits.precheck(token, now)
    )
    if not created:
        repeat = repeated_registration(pi, token, va, f["csr"].public_key(), now)
        if repeat is not None:
            # The same REGISTER again (its reply was lost): the registration it made, unchanged.
            touch(pi, now)
            return authority, registration_reply(pi, token, repeat, repeat.authority, account)
        # Before anything of the instance is written: a refusal must leave it exactly as it was.
        if device_reregistration.authorize(pi, token, message, now):
            transfer_product_instance(actor=None, pi=pi, to_va=va, as_of=now.date())
            pi.virtual_account = va
        contact_hook(pi, now)
        updates = {"registered_at": now, "last_contact_at": now}
        for name in ("hostname", "product_name"):
            if f.get(name):
                updates[name] = f[name]
        ProductInstance.objects.filter(pk=pi.pk).update(**updates)
        for name, value in updates.items():
            setattr(pi, name, value)
        DeviceCertificate.objects.filter(product_instance=pi, revoked_at__isnull=True).update(revoked_at=now)
    identity = identity_fields(message, transport, now)
    identity.update(registration_token=token, export_controlled=token.export_controlled)
    if created:
        prepared.insert(
            DeviceIdentity(
                product_instance=pi, created_with_token=token, created_in_virtual_account=va, created_at=now, **identity
            )
        )
    else:  # it may have been added by other means (a synchronization, an SLP push) and have none yet
        DeviceIdentity.objects.update_or_create(product_instance=pi, defaults=identity)
    cert = issue_certificate(pi=pi, public_key=f["csr"].public_key(), authority=authority, now=now)
    events.record(
        "device.registered",
        virtual_account=pi.virtual_account,
        identifier=pi.display_name,
        pool_name=pi.virtual_account.name,
    )
    if created:
        registration_limits.check(token, now)  # counts the identity written above
    try:
        count_use(token, now)
    except TokenError as error:
        raise DeviceError(FROM_TOKEN_REFUSAL.get(error.code, TOKEN_UNKNOWN)) from error
    return authority, registration_reply(pi, token, cert, authority, account)


def registration_reply(pi, token, cert, authority, account):
    return {
        "status": "SUCCESS",
        **certificate_reply(cert, authority),
        "product_instance_id": pi.pk,
        "virtual_account": pi.virtual_account.name,
        "local_account": account.name,
        "export_controlled": token.export_controlled,
        "host_common_name": host_common_name(),
    }


def repeated_registration(pi, token, va, public_key, now):
    """The ID certificate this REGISTER already got, when it repeats one the server committed: the
    instance is registered with this token in this virtual account and its current certificate,
    issued within ``REPEAT_WINDOW``, holds this very key. That is a device retrying a registration
    whose reply it never saw (a failover cut the connection after the commit): it gets that
    registration back, and the token is not used again nor the registration recorded twice. None
    for anything else (a new key, a move, another token, a later REGISTER): a re-registration."""
    if pi.virtual_account_id != va.pk:
        return None
    certificate = (
        DeviceCertificate.objects.filter(
            product_instance=pi,
            public_key_sha256=pki.public_key_fingerprint(public_key),
            revoked_at__isnull=True,
            superseded_at__isnull=True,
            not_after__gt=now,
            issued_at__gte=now - REPEAT_WINDOW,
            product_instance__device__registration_token=token,
        )
        .select_related("authority")
        .order_by("-pk")
        .first()
    )
    return certificate


def renew_id(cert, message, *, now):
    """RENEW_ID: a new ID certificate from the account's current authority; the old one superseded."""
    pi = cert.product_instance
    authority = current_authority(pi.account, now)
    touch(pi, now)
    DeviceCertificate.objects.filter(product_instance=pi, revoked_at__isnull=True, superseded_at__isnull=True).update(
        superseded_at=now
    )
    new = issue_certificate(pi=pi, public_key=message.fields["csr"].public_key(), authority=authority, now=now)
    events.record(
        "device.id_renewed",
        virtual_account=pi.virtual_account,
        identifier=pi.display_name,
        pool_name=pi.virtual_account.name,
    )
    # Signed by the authority the device trusts now: that is what makes the new chain in it trustworthy.
    return cert.authority, {"status": "SUCCESS", **certificate_reply(new, authority)}


def deregister(cert, message, *, now):
    """DEREGISTER: release the licenses and remove the product instance (its certificates go with it).

    Only with the instance's current ID certificate: one that RENEW_ID replaced is still accepted
    for a while (a lost reply), but a removal needs the key the instance holds now. (A revoked
    one — the instance was re-registered since — never gets here.)
    """
    if cert.superseded_at is not None:
        raise DeviceError(
            NOT_REGISTERED,
            "This ID certificate was replaced by RENEW_ID; a DEREGISTER must be "
            "signed with the product instance's current ID certificate.",
        )
    pi = cert.product_instance
    released = [
        {"tag": tag, "count": count}
        for tag, count in LicenseUsage.objects.filter(product_instance=pi)
        .order_by("license__entitlement_tag")
        .values_list("license__entitlement_tag", "count")
    ]
    remove_product_instance(actor=None, pi=pi, now=now)
    return cert.authority, {"status": "SUCCESS", "released": released}


def contact_hook(pi, now):
    """An instance on the Failed to Connect / Renew ladder is calling in: its alert clears on
    commit, and after Failed to Renew its usage counts again in its virtual account. Nothing for
    an instance in contact (no statement on the hot path)."""
    state = renewal_state(pi, now).state
    if state != OK:
        va = pi.virtual_account if ProductInstance.virtual_account.is_cached(pi) else pi.virtual_account_id
        alert_hooks.contact_changed(pi.account_id, pi.pk, va if state == FAILED_TO_RENEW else None)


def touch(pi, now, **fields):
    """Record the contact (one UPDATE, which also locks the row: messages of one device serialise)."""
    contact_hook(pi, now)
    update_row(ProductInstance, pi.pk, last_contact_at=now, **fields)
    pi.last_contact_at = now
    for name, value in fields.items():
        setattr(pi, name, value)


__all__ = ["register", "renew_id", "deregister", "touch", "epoch_ms", "find_or_create_pi", "identity_fields"]

"""The server's signing authorities and the ID certificates it issues to product instances.

A local account's authority is generated on first need (its first REGISTER) and replaced by
``install_signing_authority`` when the synchronization with CSSM brings a CSSM-signed one.
Private keys are decrypted from the database only when a key is not yet in this process's
cache (keyed by the authority's primary key and certificate serial: a replaced authority is a
new row, so a cached key can never sign in the name of a different certificate).
"""

import datetime
import functools
import threading

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import pki

from ..models import DeviceCertificate, SigningAuthority
from . import prepared

# A certificate replaced by RENEW_ID is still accepted this long (the device may have lost the reply).
SUPERSEDED_GRACE = datetime.timedelta(hours=24)

_keys: dict[tuple[int, str], PrivateKeyTypes] = {}  # (authority pk, serial hex): its private key
_keys_lock = threading.Lock()


def host_common_name():
    """The common name of the signing authorities' certificates: ``ONPREM_HOST``, else localhost."""
    return getattr(settings, "ONPREM_HOST", "") or "localhost"


def _authority_label(account):
    return f"{account.name} #{account.pk}" if account is not None else "Device protocol"


def _create_authority(account, now):
    key, cert = pki.new_signing_authority(
        common_name=host_common_name(), organizational_unit=_authority_label(account), now=now
    )
    return SigningAuthority.objects.create(
        account=account,
        source=SigningAuthority.Source.LOCAL,
        certificate_pem=pki.certificate_pem(cert),
        chain_pem="",
        private_key=pki.private_key_pem(key),
        serial_hex=pki.serial_hex(cert.serial_number),
        not_after=cert.not_valid_after_utc,
        is_current=True,
        created_at=now,
    )


class _CurrentAuthorityLookup:
    """The current authority of a local account (or the server's), without its private key: one
    statement per case written once per process (``prepared``); it runs for every REGISTER."""

    def __init__(self):
        self.columns = prepared.Columns(SigningAuthority, "s", exclude=("private_key",))
        base = f"SELECT {self.columns.select} FROM licensing_signingauthority s WHERE s.is_current = %s AND "
        self.of_account = base + "s.account_id = %s"
        self.of_server = base + "s.account_id IS NULL"

    def __call__(self, account):
        sql, params = (self.of_server, [True]) if account is None else (self.of_account, [True, account.pk])
        with connection.cursor() as cursor:
            prepared.execute(cursor, sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        found = self.columns.build(row)
        if account is not None:
            prepared.cache_related(found, "account", account)
        return found


@functools.cache  # built on first use: the SQL needs the database's quoting, unknown at import
def _authority_lookup():
    return _CurrentAuthorityLookup()


def current_authority(account=None, now=None):
    """The current signing authority of ``account`` (None: the server's), generated when missing.

    Two first registrations racing each other: the partial unique constraint lets one row in,
    the other creator's savepoint rolls back and it reads the winner's row.
    """
    # The key is not loaded here (it is decrypted once per process, by authority_key).
    found = _authority_lookup()(account)
    if found is not None:
        return found
    now = now or timezone.now()
    try:
        with transaction.atomic():
            return _create_authority(account, now)
    except IntegrityError:
        return SigningAuthority.objects.get(account=account, is_current=True)


def authority_key(authority):
    """The authority's private key object, decrypted once per process."""
    cache_key = (authority.pk, authority.serial_hex)  # a rolled-back test database reuses primary keys
    key = _keys.get(cache_key)
    if key is None:
        pem = SigningAuthority.objects.values_list("private_key", flat=True).get(pk=authority.pk)
        # values_list applies the field's converter: this is the decrypted PEM.
        key = pki.load_private_key(pem)
        with _keys_lock:
            _keys[cache_key] = key
    return key


@transaction.atomic
def install_signing_authority(
    *, account, certificate_pem, private_key_pem, chain_pem="", source=SigningAuthority.Source.CSSM, now=None
):
    """Make a new (e.g. CSSM-signed) signing certificate + key the account's current authority.

    The key must be ECDSA P-256 and match the certificate, and the certificate must be a CA;
    the previous authority is retired, not deleted (its certificates stay valid until renewed).
    """
    from cryptography import x509

    now = now or timezone.now()
    cert = pki.load_certificate(certificate_pem)
    try:
        key = pki.load_private_key(private_key_pem)
    except (ValueError, TypeError) as exc:
        raise pki.PkiError("The private key is not a valid unencrypted PEM key.") from exc
    if not pki.is_p256(cert.public_key()):
        raise pki.PkiError("The signing key must be ECDSA P-256 (devices verify ecdsa-p256-sha256 replies).")
    if pki.public_key_fingerprint(key.public_key()) != pki.public_key_fingerprint(cert.public_key()):
        raise pki.PkiError("The private key does not belong to the certificate.")
    try:
        if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise pki.PkiError("The signing certificate is not a CA certificate.")
        cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound as exc:
        raise pki.PkiError("The signing certificate lacks basicConstraints or subjectKeyIdentifier.") from exc
    for block in pki.split_pem_chain(chain_pem or ""):
        pki.load_certificate(block)
    SigningAuthority.objects.select_for_update().filter(account=account, is_current=True).update(
        is_current=False, retired_at=now
    )
    return SigningAuthority.objects.create(
        account=account,
        source=source,
        certificate_pem=pki.certificate_pem(cert),
        chain_pem=chain_pem or "",
        private_key=private_key_pem,
        serial_hex=pki.serial_hex(cert.serial_number),
        not_after=cert.not_valid_after_utc,
        is_current=True,
        created_at=now,
    )


@functools.lru_cache(maxsize=64)
def _authority_certificate(certificate_pem):
    """The parsed certificate of an authority (a PEM text never changes meaning: safe to keep)."""
    return pki.load_certificate(certificate_pem)


def issue_certificate(*, pi, public_key, authority, now):
    """Issue and store an ID certificate for ``pi`` (whose virtual account and account are loaded)."""
    cert = pki.issue_device_certificate(
        authority_key=authority_key(authority),
        authority_cert=_authority_certificate(authority.certificate_pem),
        public_key=public_key,
        common_name=f"{pi.udi_pid}:{pi.udi_serial_number}",
        serial_number_attr=f"PID:{pi.udi_pid} SN:{pi.udi_serial_number}",
        organizational_unit=pi.account.name,
        now=now,
    )
    issued = DeviceCertificate(
        product_instance=pi,
        authority=authority,
        serial_hex=pki.serial_hex(cert.serial_number),
        certificate_pem=pki.certificate_pem(cert),
        public_key_sha256=pki.public_key_fingerprint(public_key),
        issued_at=now,
        not_after=cert.not_valid_after_utc,
        renew_after=now + datetime.timedelta(days=pki.RENEW_AFTER_DAYS),
    )
    prepared.insert(issued)
    return issued


class _CertificateLookup:
    """The statement ``find_certificate`` runs for every message signed with an ID certificate:
    the certificate, its product instance (with its identity, virtual account and local account)
    and its authority (neither the private key nor the chain), in one query. Written once per
    process (``prepared``): building it through the ORM for every message was costly
    (docs/performance.md, "Where a device message's time went")."""

    def __init__(self):
        from ..models import DeviceIdentity, LocalAccount, ProductInstance, VirtualAccount

        self.cert = prepared.Columns(DeviceCertificate, "c")
        self.pi = prepared.Columns(ProductInstance, "p")
        self.va = prepared.Columns(VirtualAccount, "v")
        self.account = prepared.Columns(LocalAccount, "a")
        self.device = prepared.Columns(DeviceIdentity, "d")
        self.authority = prepared.Columns(SigningAuthority, "s", exclude=("private_key", "chain_pem"))
        self.parts = (self.cert, self.pi, self.va, self.account, self.device, self.authority)
        self.sql = (
            f"SELECT {', '.join(part.select for part in self.parts)} "
            "FROM licensing_devicecertificate c "
            "JOIN licensing_productinstance p ON p.id = c.product_instance_id "
            "JOIN licensing_virtualaccount v ON v.id = p.virtual_account_id "
            "JOIN licensing_localaccount a ON a.id = v.account_id "
            "LEFT JOIN licensing_deviceidentity d ON d.product_instance_id = p.id "
            "JOIN licensing_signingauthority s ON s.id = c.authority_id "
            "WHERE c.serial_hex = %s"
        )

    def __call__(self, serial_hex):
        with connection.cursor() as cursor:
            prepared.execute(cursor, self.sql, [serial_hex])
            row = cursor.fetchone()
        if row is None:
            return None
        cert, pi, va, account, device, authority = (
            part.build(values) for part, values in zip(self.parts, prepared.split(row, *self.parts), strict=True)
        )
        prepared.cache_related(cert, "product_instance", pi)
        prepared.cache_related(cert, "authority", authority)
        prepared.cache_related(pi, "virtual_account", va)
        if pi.account_id == account.pk:  # always (ProductInstance.save keeps them in step): no query for it
            prepared.cache_related(pi, "account", account)
        prepared.cache_related(va, "account", account)
        prepared.cache_related(pi, "device", device)  # None: pi.device raises DoesNotExist, as with the ORM
        if device is not None:
            prepared.cache_related(device, "product_instance", pi)
        return cert


@functools.cache  # built on first use, as _authority_lookup
def _certificate_lookup():
    return _CertificateLookup()


def find_certificate(serial_hex):
    """The certificate named by ``signature.key`` with its product instance, VA, account and
    authority (one query; the authority's private key is not loaded), or None.

    Read from the database for every message, never cached: a certificate revoked a moment ago
    (re-registration, deregistration) must be refused at once.
    """
    if not isinstance(serial_hex, str) or not 1 <= len(serial_hex) <= 40:
        return None
    return _certificate_lookup()(serial_hex)


def certificate_usable(cert, now):
    if cert.revoked_at is not None or cert.not_after <= now:
        return False
    return cert.superseded_at is None or now - cert.superseded_at <= SUPERSEDED_GRACE


__all__ = [
    "current_authority",
    "authority_key",
    "install_signing_authority",
    "issue_certificate",
    "find_certificate",
    "certificate_usable",
    "host_common_name",
    "SUPERSEDED_GRACE",
]

"""PKI helpers for the device protocol: signing authorities, device ID certificates, ECDSA signatures.

Everything here is ``cryptography`` only and free of Django models, so the licensing models,
the transport layer and the tests share one implementation:

* ``new_signing_authority`` — a P-256 key and a self-signed CA certificate. A local account
  gets one until synchronization with CSSM installs a CSSM-signed certificate (then the chain
  has more than one certificate; see ``licensing.models.pki.SigningAuthority``).
* ``issue_device_certificate`` — an ID certificate for a device, from its CSR (P-256 only).
* ``sign`` / ``verify`` — ECDSA P-256 with SHA-256 over exact bytes; signatures travel as the
  base64 of their DER encoding (``signing_type: ecdsa-p256-sha256``).
"""

import base64
import binascii
import datetime
import hashlib
import string

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SIGNING_TYPE = "ecdsa-p256-sha256"
DEVICE_CERT_DAYS = 365  # "id_certificate (PEM, 1 year)"
RENEW_AFTER_DAYS = 182  # "renew_id_after (6 months)"
CA_DAYS = 10 * 365
MAX_NAME = 64  # X.520 upper bound for CN / OU / O / serialNumber; cryptography counts it in UTF-8 bytes for CN
# X.680's PrintableString alphabet: the only characters a PrintableString attribute may hold.
PRINTABLE_STRING = frozenset(string.ascii_letters + string.digits + " '()+,-./:=?")
# Attributes whose standard type (RFC 5280) is PrintableString; every other one is a UTF8String already.
_PRINTABLE_BY_DEFAULT = frozenset({NameOID.SERIAL_NUMBER, NameOID.DN_QUALIFIER})


class PkiError(ValueError):
    """Bad key or certificate material (the message says what, for the device's error reply)."""


def clip_name(text):
    """``text`` cut to at most MAX_NAME UTF-8 bytes at a character boundary (empty: ``-``).

    Bytes, not characters: cryptography refuses a longer common name in UTF-8 bytes, and a cut by
    characters would let 64 non-ASCII characters through to that refusal.
    """
    encoded = (text or "-").encode("utf-8")[:MAX_NAME]
    return encoded.decode("utf-8", "ignore") or "-"


def name_attribute(oid, text):
    """An X.509 name attribute carrying ``text`` (clipped by ``clip_name``) whatever its characters.

    serialNumber is a PrintableString by default, which cannot hold ``_``, ``@``, non-ASCII...:
    such a value is encoded as a UTF8String instead (X.520 DirectoryString allows it), so a
    device's serial number is carried exactly rather than refused by the DER encoder.
    """
    value = clip_name(text)
    if oid in _PRINTABLE_BY_DEFAULT and not PRINTABLE_STRING.issuperset(value):
        # cryptography takes the string type only through this underscored argument.
        return x509.NameAttribute(oid, value, _type=_ASN1Type.UTF8String)
    return x509.NameAttribute(oid, value)


def serial_hex(serial_number: int) -> str:
    """The certificate serial as devices name it in ``signature.key``: lowercase hex, no padding."""
    return format(serial_number, "x")


def new_private_key():
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key) -> str:
    """Unencrypted PKCS#8 PEM: callers store it only in an EncryptedTextField (Fernet at rest)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def load_private_key(pem: str):
    return serialization.load_pem_private_key(pem.encode(), password=None)


def certificate_pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def load_certificate(pem: str):
    try:
        return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except ValueError as exc:
        raise PkiError("The certificate is not a valid PEM X.509 certificate.") from exc


def split_pem_chain(text: str) -> list:
    """The PEM blocks of a chain file, in order (each with its BEGIN/END lines)."""
    marker = "-----END CERTIFICATE-----"
    return [block.strip() + "\n" for block in (part + marker for part in text.split(marker)[:-1])]


def fingerprint(cert) -> str:
    return cert.fingerprint(hashes.SHA256()).hex()


def public_key_fingerprint(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def is_p256(public_key):
    return isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1)


def new_signing_authority(*, common_name, organizational_unit, now, days=CA_DAYS):
    """(private key, self-signed CA certificate) for a local account's signing authority.

    ``common_name`` is the server's Host Common Name (what devices are told to trust: the name
    they reach the server by); ``organizational_unit`` names the local account, so two local
    accounts' authorities never share a subject name (``openssl verify`` matches by name).
    """
    key = new_private_key()
    name = x509.Name(
        [
            name_attribute(NameOID.COMMON_NAME, common_name),
            name_attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit),
            name_attribute(NameOID.ORGANIZATION_NAME, "Smart Software Manager On-Prem"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def load_csr(pem):
    """A CSR that is well-formed, self-signed correctly and carries a P-256 key; else PkiError."""
    if not isinstance(pem, str) or "-----BEGIN CERTIFICATE REQUEST-----" not in pem:
        raise PkiError("The csr is not a PEM certificate signing request.")
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
    except ValueError as exc:
        raise PkiError("The csr is not a valid PEM certificate signing request.") from exc
    try:
        public_key = csr.public_key()
    except (ValueError, TypeError) as exc:
        raise PkiError("The csr carries an unsupported public key.") from exc
    if not is_p256(public_key):
        raise PkiError("The csr must carry an ECDSA P-256 public key.")
    if not csr.is_signature_valid:
        raise PkiError("The csr signature does not verify.")
    return csr


def issue_device_certificate(
    *,
    authority_key,
    authority_cert,
    public_key,
    common_name,
    serial_number_attr,
    organizational_unit,
    now,
    days=DEVICE_CERT_DAYS,
):
    """An end-entity ID certificate for a device's P-256 ``public_key``, signed by the authority."""
    if not is_p256(public_key):
        raise PkiError("The device key must be ECDSA P-256.")
    subject = x509.Name(
        [
            name_attribute(NameOID.COMMON_NAME, common_name),
            name_attribute(NameOID.SERIAL_NUMBER, serial_number_attr),
            name_attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit),
        ]
    )
    issuer_ski = authority_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(authority_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski), critical=False)
        .sign(authority_key, hashes.SHA256())
    )


def sign(private_key, data: bytes) -> str:
    """base64 of the DER ECDSA-SHA256 signature over ``data``."""
    return base64.b64encode(private_key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def verify(public_key, data: bytes, signature_b64) -> bool:
    """Whether ``signature_b64`` (base64 DER) is a valid P-256/SHA-256 signature over ``data``."""
    if not is_p256(public_key) or not isinstance(signature_b64, str) or len(signature_b64) > 200:
        return False
    try:
        der = base64.b64decode(signature_b64, validate=True)
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


__all__ = [
    "SIGNING_TYPE",
    "DEVICE_CERT_DAYS",
    "RENEW_AFTER_DAYS",
    "PkiError",
    "serial_hex",
    "new_private_key",
    "private_key_pem",
    "load_private_key",
    "certificate_pem",
    "load_certificate",
    "split_pem_chain",
    "fingerprint",
    "public_key_fingerprint",
    "is_p256",
    "clip_name",
    "name_attribute",
    "new_signing_authority",
    "load_csr",
    "issue_device_certificate",
    "sign",
    "verify",
]

"""Key, CSR, signature and chain helpers (``cryptography`` only).

Signatures are ECDSA P-256 over SHA-256 of the exact bytes, carried as the base64 of their DER
encoding (``signing_type: ecdsa-p256-sha256``), the same on both sides of the protocol.
"""

import base64
import binascii
import datetime
import itertools
import string

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

SIGNING_TYPE = "ecdsa-p256-sha256"
PEM_CERT_END = "-----END CERTIFICATE-----"


class ChainError(ValueError):
    """A certificate chain (or a certificate against it) does not hold together."""


def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_key(pem: bytes):
    key = serialization.load_pem_private_key(pem, password=None)
    if not is_p256(key.public_key()):
        raise ValueError("The device key must be ECDSA P-256.")
    return key


def is_p256(public_key):
    return isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1)


# X.680's PrintableString alphabet, serialNumber's standard type; anything else goes as a UTF8String.
PRINTABLE_STRING = frozenset(string.ascii_letters + string.digits + " '()+,-./:=?")
MAX_NAME = 64  # X.520 upper bound of a name attribute; cryptography counts a common name's in UTF-8 bytes


def name_attribute(oid, text):
    """A name attribute holding ``text`` cut to 64 UTF-8 bytes at a character boundary, whatever
    its characters: a serial number PrintableString cannot hold (``_``, ``@``, non-ASCII) is a
    UTF8String (the server encodes its certificates' names the same way: core/pki.py)."""
    value = text.encode("utf-8")[:MAX_NAME].decode("utf-8", "ignore") or "-"
    if oid == NameOID.SERIAL_NUMBER and not PRINTABLE_STRING.issuperset(value):
        # cryptography takes the string type only through this underscored argument.
        return x509.NameAttribute(oid, value, _type=_ASN1Type.UTF8String)
    return x509.NameAttribute(oid, value)


def make_csr(key, *, common_name, serial_number) -> str:
    """A PEM CSR for ``key`` naming the device (CN = PID, serialNumber = UDI serial number)."""
    subject = x509.Name(
        [
            name_attribute(NameOID.COMMON_NAME, common_name or "device"),
            name_attribute(NameOID.SERIAL_NUMBER, serial_number or "-"),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def sign(key, data: bytes) -> str:
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def verify(public_key, data: bytes, signature_b64) -> bool:
    if not is_p256(public_key) or not isinstance(signature_b64, str):
        return False
    try:
        der = base64.b64decode(signature_b64, validate=True)
        public_key.verify(der, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def serial_hex(cert) -> str:
    """How ``signature.key`` names a certificate: its serial number in lowercase hex."""
    return format(cert.serial_number, "x")


def load_cert(pem):
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise ChainError("A certificate is not valid PEM X.509.") from exc


def cert_pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def split_pem(text: str) -> list:
    """The PEM certificates in ``text``, in order."""
    return [block.strip() + "\n" + PEM_CERT_END + "\n" for block in text.split(PEM_CERT_END)[:-1] if block.strip()]


def same_public_key(a, b) -> bool:
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return a.public_bytes(*fmt) == b.public_bytes(*fmt)


def _issued_by(cert, issuer) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_dates(cert, now):
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ChainError(f"Certificate {serial_hex(cert)} is outside its validity period.")


def check_chain(chain, *, anchors=(), now=None):
    """Each certificate of ``chain`` issued by the next; the last one self-signed or issued by an anchor.

    With ``anchors`` (trusted CA certificates, e.g. from a file the operator installed), the chain
    must end in one of them; without, the chain is trusted on first use (TLS already
    authenticated the server that sent it).
    """
    if not chain:
        raise ChainError("The certificate chain is empty.")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    for cert, issuer in itertools.pairwise(chain):
        _check_dates(cert, now)
        if not _issued_by(cert, issuer):
            raise ChainError(f"Certificate {serial_hex(cert)} is not issued by the next one in the chain.")
    last = chain[-1]
    _check_dates(last, now)
    if anchors:
        fingerprints = {a.fingerprint(hashes.SHA256()) for a in anchors}
        if last.fingerprint(hashes.SHA256()) not in fingerprints and not any(_issued_by(last, a) for a in anchors):
            raise ChainError("The certificate chain does not end in a trusted CA certificate.")
    elif not _issued_by(last, last):
        raise ChainError("The certificate chain does not end in a self-signed CA certificate.")


def check_issued(cert, chain, public_key, *, now=None):
    """``cert`` (a device ID certificate) is current, carries ``public_key`` and is issued by ``chain[0]``."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    _check_dates(cert, now)
    if not same_public_key(cert.public_key(), public_key):
        raise ChainError("The ID certificate does not carry this device's public key.")
    if not any(_issued_by(cert, ca) for ca in chain):
        raise ChainError("The ID certificate is not issued by the signing chain.")

"""The Security widget's Certificates tab: CSRs, importing a signed browser certificate, reverting.

The web server (``manage.py serve``, gunicorn) reads ``settings.TLS_CERT_FILE`` and
``TLS_KEY_FILE`` when it starts, so an import writes those files and takes effect at the next
restart (the page says so). Before anything is written the upload is checked: every PEM block
parses, the key is an unencrypted RSA (2048 bits or more) or ECDSA (P-256, P-384, P-521) key
that belongs to the certificate, each certificate of
the chain is signed by the next, the certificate is valid now, and it names the Host Common
Name. Anything wrong is a ``ServiceError`` with the reason, and the files stay as they were.

An imported certificate is marked by a small JSON file beside it (``server.crt.imported.json``)
so ``core.tls.ensure_tls_certificate`` keeps it instead of replacing it with a self-signed one.
"""

import datetime
import ipaddress
import itertools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from django.conf import settings

from .env import write_private_file
from .errors import ServiceError
from .tls import covers_host, generate_self_signed

KEY_SIZES = (2048, 4096)
MAX_PEM_BYTES = 256 * 1024  # a certificate chain is a few KB; anything bigger is not one
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
_SPKI = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


# --- Certificate signing requests -----------------------------------------------------------------


def _san(value):
    value = value.strip()
    try:
        return x509.IPAddress(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        pass
    if not re.fullmatch(r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?", value):
        raise ServiceError(f"“{value}” is neither a host name nor an IP address.", field="subject_alt_names")
    return x509.DNSName(value.lower().rstrip("."))


def parse_alt_names(text):
    """SANs typed as a comma/space/newline separated list."""
    return [_san(part) for part in re.split(r"[\s,]+", text or "") if part]


@dataclass(frozen=True)
class GeneratedCsr:
    csr_pem: str
    key_pem: str


def generate_csr(
    *,
    common_name,
    organizational_unit="",
    organization="",
    locality="",
    state="",
    country="",
    key_size=2048,
    alt_names=(),
):
    """A new RSA key and a CSR for it. The common name is always among the SANs too, since
    browsers look only at the SANs."""
    if key_size not in KEY_SIZES:
        raise ServiceError("The key size must be 2048 or 4096 bits.", field="key_size")
    common_name = (common_name or "").strip()
    if not common_name or len(common_name) > 64:
        raise ServiceError("The common name must be 1 to 64 characters.", field="common_name")
    if country and not re.fullmatch(r"[A-Z]{2}", country):
        raise ServiceError("The country must be a two-letter ISO code.", field="country")
    attributes = [
        (NameOID.COUNTRY_NAME, country),
        (NameOID.STATE_OR_PROVINCE_NAME, state),
        (NameOID.LOCALITY_NAME, locality),
        (NameOID.ORGANIZATION_NAME, organization),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, organizational_unit),
        (NameOID.COMMON_NAME, common_name),
    ]
    for oid, value in attributes:
        if value and len(value) > 64:
            raise ServiceError(f"{oid._name} must be at most 64 characters.")
    names = [_san(common_name)]
    for name in alt_names:
        if name not in names:
            names.append(name)
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(oid, value.strip()) for oid, value in attributes if value]))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    return GeneratedCsr(csr.public_bytes(serialization.Encoding.PEM).decode("ascii"), key_pem)


# --- Import -----------------------------------------------------------------------------------


def _bytes(data):
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    return data or b""


def parse_certificates(data, what):
    """Every certificate in a PEM file, in order; a clear error for anything else."""
    data = _bytes(data)
    if len(data) > MAX_PEM_BYTES:
        raise ServiceError(f"The {what} file is too large to be a PEM certificate file.")
    blocks = _PEM_CERT.findall(data)
    if not blocks:
        raise ServiceError(f"The {what} file holds no X.509 certificate in PEM format.")
    certificates = []
    for number, block in enumerate(blocks, 1):
        try:
            certificates.append(x509.load_pem_x509_certificate(block))
        except ValueError as error:
            raise ServiceError(f"Certificate {number} of the {what} file cannot be read: {error}") from error
    return certificates


IMPORT_CURVES = ("secp256r1", "secp384r1", "secp521r1")


def parse_private_key(data):
    """An unencrypted RSA (>= 2048 bits) or ECDSA (P-256/384/521) private key from PEM."""
    data = _bytes(data)
    if len(data) > MAX_PEM_BYTES:
        raise ServiceError("The private key file is too large to be a PEM key.", field="private_key")
    if b"ENCRYPTED" in data:
        raise ServiceError("The private key is protected by a pass phrase; upload it without one.", field="private_key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as error:
        raise ServiceError(
            "The private key file is not an unencrypted PEM private key.", field="private_key"
        ) from error
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ServiceError("An RSA private key must have at least 2048 bits.", field="private_key")
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in IMPORT_CURVES:
        return key
    raise ServiceError("The private key must be an RSA or an ECDSA (P-256, P-384, P-521) key.", field="private_key")


def key_matches(cert, key):
    return cert.public_key().public_bytes(*_SPKI) == key.public_key().public_bytes(*_SPKI)


def _check_chain(chain):
    for child, parent in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature) as error:
            raise ServiceError(
                f"The chain is broken: “{child.subject.rfc4514_string()}” is not signed by "
                f"“{parent.subject.rfc4514_string()}”. Give the intermediate certificates in order, "
                "the issuer of the certificate first.",
                field="intermediate",
            ) from error


@dataclass(frozen=True)
class CheckedCertificate:
    certificate: x509.Certificate
    intermediates: list
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def check_import(*, certificate_pem, host, intermediate_pem=b"", key_pem=b"", pending_key_pem="", now=None):
    """Validate an upload; return what ``install`` writes. Without a key file, the key of the
    last generated CSR is used if the certificate was issued for it."""
    now = now or _now()
    certificates = parse_certificates(certificate_pem, "certificate")
    certificate, extra = certificates[0], certificates[1:]
    intermediates = extra + (
        parse_certificates(intermediate_pem, "intermediate certificate") if _bytes(intermediate_pem).strip() else []
    )
    if _bytes(key_pem).strip():
        key = parse_private_key(key_pem)
        if not key_matches(certificate, key):
            raise ServiceError("The private key does not belong to the certificate.", field="private_key")
    elif pending_key_pem:
        key = parse_private_key(pending_key_pem)
        if not key_matches(certificate, key):
            raise ServiceError(
                "The certificate was not issued for the last generated signing request; upload its private key too.",
                field="private_key",
            )
    else:
        raise ServiceError("Upload the certificate's private key.", field="private_key")
    _check_chain([certificate, *intermediates])
    for cert in [certificate, *intermediates]:
        if cert.not_valid_after_utc <= now:
            raise ServiceError(
                f"The certificate “{cert.subject.rfc4514_string()}” expired on {cert.not_valid_after_utc:%Y-%m-%d}.",
                field="certificate",
            )
        if cert.not_valid_before_utc > now:
            raise ServiceError(
                f"The certificate “{cert.subject.rfc4514_string()}” is not valid before "
                f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.",
                field="certificate",
            )
    if not _covers(certificate, host):
        raise ServiceError(
            f"The certificate does not name the Host Common Name “{host}” (neither its common "
            "name nor its subject alternative names).",
            field="certificate",
        )
    return CheckedCertificate(certificate, intermediates, key)


def _covers(certificate, host):
    if covers_host(certificate, host):
        return True
    wanted = host.lower().rstrip(".")
    for name in _dns_names(certificate):
        if name.startswith("*.") and "." in wanted and wanted.split(".", 1)[1] == name[2:]:
            return True
    common = [attr.value for attr in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    return any(str(value).lower() == wanted for value in common)


def _dns_names(certificate):
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [name.lower() for name in san.get_values_for_type(x509.DNSName)]


def marker_file(cert_file=None):
    cert_file = Path(cert_file or settings.TLS_CERT_FILE)
    return cert_file.with_name(cert_file.name + ".imported.json")


def refuse_supplied():
    from .tls import tls_files_supplied

    if tls_files_supplied():
        raise ServiceError(
            "The certificate files are set by ONPREM_TLS_CERT and ONPREM_TLS_KEY; "
            "replace those files on the server instead."
        )


def install(checked, *, description="", cert_file=None, key_file=None, imported_by=""):
    """Write the checked certificate (with its chain) and key where the web server reads them."""
    refuse_supplied()
    cert_file, key_file = Path(cert_file or settings.TLS_CERT_FILE), Path(key_file or settings.TLS_KEY_FILE)
    chain_pem = "".join(
        cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
        for cert in [checked.certificate, *checked.intermediates]
    )
    key_pem = checked.key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    # Each file is written beside its target and renamed over it, so the server never reads half a file.
    key_tmp = key_file.with_name(key_file.name + ".new")
    write_private_file(key_tmp, key_pem)
    cert_file.parent.mkdir(parents=True, exist_ok=True)
    cert_tmp = cert_file.with_name(cert_file.name + ".new")
    cert_tmp.write_text(chain_pem)
    os.chmod(cert_tmp, 0o644)
    marker = marker_file(cert_file)
    marker_tmp = marker.with_name(marker.name + ".new")
    marker_tmp.write_text(
        json.dumps(
            {
                "description": description,
                "imported_by": imported_by,
                "imported_at": _now().isoformat(),
            }
        )
    )
    os.replace(key_tmp, key_file)
    os.replace(cert_tmp, cert_file)
    os.replace(marker_tmp, marker)


def revert_to_default(*, cert_file=None, key_file=None, host=None):
    """Replace an imported certificate with a new default self-signed one."""
    refuse_supplied()
    cert_file, key_file = Path(cert_file or settings.TLS_CERT_FILE), Path(key_file or settings.TLS_KEY_FILE)
    marker = marker_file(cert_file)
    if not marker.exists():
        raise ServiceError("The default self-signed certificate is in use already; it cannot be deleted.")
    # The same host the start-up check (``ensure_tls_certificate``) wants, so a restart keeps it.
    generate_self_signed(host or settings.ONPREM_HOST, cert_file, key_file)
    marker.unlink(missing_ok=True)


def current_certificate(cert_file=None):
    """What the Certificates tab shows of the certificate in the files (what the next start serves)."""
    cert_file = Path(cert_file or settings.TLS_CERT_FILE)
    if not cert_file.exists():
        return None
    try:
        certificates = parse_certificates(cert_file.read_bytes(), "server certificate")
    except ServiceError as error:
        return {"error": error.message}
    cert = certificates[0]
    marker = marker_file(cert_file)
    meta = {}
    if marker.exists():
        try:
            meta = json.loads(marker.read_text())
        except (OSError, ValueError):
            meta = {}
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "names": [str(name.value) for name in _all_names(cert)],
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "expired": cert.not_valid_after_utc <= _now(),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        "intermediates": len(certificates) - 1,
        "is_default": not marker.exists(),
        "description": meta.get("description", ""),
        "imported_by": meta.get("imported_by", ""),
    }


def _all_names(cert):
    try:
        return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []

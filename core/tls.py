"""The embedded server's TLS certificate: a self-signed one made on first start, or the admin's own.

``ensure_tls_certificate()`` runs before the web server starts (``manage.py serve``):

* with ``ONPREM_TLS_CERT`` / ``ONPREM_TLS_KEY`` set, the files are the administrator's: they are
  only checked (both exist, both parse, the key belongs to the certificate), never rewritten;
* otherwise a self-signed certificate for ``settings.ONPREM_HOST`` (plus ``localhost``,
  127.0.0.1 and ::1) is kept under ``DATA_DIR/tls/``. An existing one is reused while it is
  valid for more than ``RENEW_BEFORE``, names the current host and matches its key; anything
  else (missing, unreadable, expiring, made for another host) is replaced by a fresh one.

The key of a certificate made here is ECDSA P-256 unless ``ONPREM_TLS_KEY_TYPE=rsa`` asks for
RSA-2048 (for clients that cannot do ECDSA). A P-256 signature costs the server a fraction of an
RSA-2048 one, and the server signs once per full TLS handshake (docs/performance.md, run 6). A
certificate already on disk is kept whatever its key type while ``ONPREM_TLS_KEY_TYPE`` is unset;
set, it replaces a self-signed certificate of the other type at the next start.
"""

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings

from .env import write_private_file

VALIDITY = datetime.timedelta(days=825)  # the longest validity browsers accept for a server cert
RENEW_BEFORE = datetime.timedelta(days=30)
# A little slack for a client whose clock runs behind the server's.
BACKDATE = datetime.timedelta(hours=1)
KEY_TYPES = ("ecdsa", "rsa")
DEFAULT_KEY_TYPE = "ecdsa"
KEY_TYPE_SETTING = "ONPREM_TLS_KEY_TYPE"


class TLSError(Exception):
    """The TLS material cannot be used (for example an admin-supplied key that does not match)."""


@dataclass(frozen=True)
class TLSResult:
    cert_file: Path
    key_file: Path
    action: str  # "generated", "kept" or "supplied"
    reason: str = ""


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _host_name(host):
    """The SubjectAltName entry for ``host``: an IP address entry for an address, else a DNS name."""
    try:
        return x509.IPAddress(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return x509.DNSName(host.lower())


def subject_alt_names(host):
    names = []
    for name in (
        _host_name(host),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ):
        if name not in names:
            names.append(name)
    return names


def configured_key_type():
    """The key type ``ONPREM_TLS_KEY_TYPE`` asks for ("ecdsa" or "rsa"), or None when it is unset."""
    value = (os.environ.get(KEY_TYPE_SETTING) or "").strip().lower()
    if not value:
        return None
    if value not in KEY_TYPES:
        raise TLSError(f"{KEY_TYPE_SETTING} must be one of {', '.join(KEY_TYPES)}, not {value!r}.")
    return value


def key_type(key):
    """ "ecdsa", "rsa" or the key's class name, for a private or public key."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return "ecdsa"
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return "rsa"
    return type(key).__name__


def describe_key(key):
    """ "ECDSA P-256", "RSA 2048" and the like, for a private or public key."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        return {"secp256r1": "ECDSA P-256", "secp384r1": "ECDSA P-384", "secp521r1": "ECDSA P-521"}.get(
            key.curve.name, f"ECDSA {key.curve.name}"
        )
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return f"RSA {key.key_size}"
    return type(key).__name__


def new_private_key(kind=DEFAULT_KEY_TYPE):
    if kind == "ecdsa":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raise TLSError(f"Unknown TLS key type {kind!r} (one of {', '.join(KEY_TYPES)}).")


def generate_self_signed(host, cert_file, key_file, *, now=None, kind=None):
    """Write a new key (0600) and a self-signed server certificate for ``host``; return the cert.

    ``kind``: "ecdsa" (P-256) or "rsa" (2048 bits); by default what ``ONPREM_TLS_KEY_TYPE`` says,
    else ECDSA."""
    now = now or _now()
    kind = kind or configured_key_type() or DEFAULT_KEY_TYPE
    key = new_private_key(kind)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, host.strip("[]")[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "onprem license server"),
        ]
    )
    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(subject_alt_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                # RSA key transport (TLS 1.2's RSA key exchange) needs it; an ECDSA key only signs.
                key_encipherment=kind == "rsa",
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode("ascii")
    # The key first: a certificate is never left on disk next to a key it does not belong to
    # for longer than the two writes take.
    write_private_file(key_file, key_pem)
    cert_path = Path(cert_file)
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = cert_path.with_name(cert_path.name + ".tmp")
    tmp.write_text(cert_pem)
    os.chmod(tmp, 0o644)
    os.replace(tmp, cert_path)
    return cert


def load_pair(cert_file, key_file):
    """Load the certificate and key; raise TLSError if either is missing, unreadable or they differ."""
    cert_path, key_path = Path(cert_file), Path(key_file)
    for label, path in (("certificate", cert_path), ("private key", key_path)):
        if not path.is_file():
            raise TLSError(f"The TLS {label} file {path} does not exist.")
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (ValueError, OSError) as error:
        raise TLSError(f"The TLS certificate {cert_path} cannot be read as a PEM certificate: {error}") from error
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (ValueError, TypeError, OSError) as error:
        raise TLSError(
            f"The TLS private key {key_path} cannot be read (it must be an unencrypted PEM key): {error}"
        ) from error
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if cert.public_key().public_bytes(*spki) != key.public_key().public_bytes(*spki):
        raise TLSError(f"The TLS private key {key_path} does not belong to the certificate {cert_path}.")
    return cert, key


def certificate_names(cert):
    try:
        return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


def covers_host(cert, host):
    return _host_name(host) in certificate_names(cert)


def _problem(cert_file, key_file, host, now, wanted_kind=None):
    """Why the managed certificate must be replaced, or "" if it can stay."""
    if not Path(cert_file).exists() and not Path(key_file).exists():
        return "there was none yet"
    try:
        cert, key = load_pair(cert_file, key_file)
    except TLSError as error:
        return str(error)
    if wanted_kind and key_type(key) != wanted_kind:
        return f"its key is {key_type(key).upper()} and an {wanted_kind.upper()} key was asked for"
    if cert.not_valid_after_utc - now < RENEW_BEFORE:
        return f"the certificate expires on {cert.not_valid_after_utc:%Y-%m-%d}"
    if cert.not_valid_before_utc > now:
        return f"the certificate is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M}"
    if not covers_host(cert, host):
        return f"the certificate does not name the host {host}"
    return ""


def tls_files_supplied():
    """True when the administrator points ONPREM_TLS_CERT and ONPREM_TLS_KEY at their own files."""
    cert_env, key_env = os.environ.get("ONPREM_TLS_CERT"), os.environ.get("ONPREM_TLS_KEY")
    if bool(cert_env) != bool(key_env):
        raise TLSError("Set both ONPREM_TLS_CERT and ONPREM_TLS_KEY (or neither, for a self-signed certificate).")
    return bool(cert_env)


def ensure_tls_certificate(*, host=None, cert_file=None, key_file=None, supplied=None, now=None, kind=None):
    """Make sure the web server has a usable certificate and key; return a ``TLSResult``.

    ``kind`` ("ecdsa"/"rsa", default ``ONPREM_TLS_KEY_TYPE``): the key type a self-signed
    certificate must have; one of the other type is then replaced. None keeps any type."""
    kind = kind or configured_key_type()
    host = host or settings.ONPREM_HOST
    cert_file = Path(cert_file or settings.TLS_CERT_FILE)
    key_file = Path(key_file or settings.TLS_KEY_FILE)
    supplied = tls_files_supplied() if supplied is None else supplied
    now = now or _now()

    if supplied:
        cert, _key = load_pair(cert_file, key_file)
        notes = []
        if cert.not_valid_after_utc < now:
            raise TLSError(f"The TLS certificate {cert_file} expired on {cert.not_valid_after_utc:%Y-%m-%d}.")
        if cert.not_valid_after_utc - now < RENEW_BEFORE:
            notes.append(f"it expires on {cert.not_valid_after_utc:%Y-%m-%d}")
        if not covers_host(cert, host):
            notes.append(f"it does not name the host {host}")
        return TLSResult(cert_file, key_file, "supplied", "; ".join(notes))

    # A certificate imported on the Security widget's Certificates tab is the administrator's:
    # kept while it loads and is valid (its host name is theirs to choose), else the default returns.
    imported = cert_file.with_name(cert_file.name + ".imported.json")
    if imported.exists():
        try:
            cert, _key = load_pair(cert_file, key_file)
        except TLSError as error:
            problem = f"the imported certificate cannot be used: {error}"
        else:
            if cert.not_valid_after_utc > now:
                return TLSResult(cert_file, key_file, "kept", "the certificate imported on the Security widget")
            problem = f"the imported certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}"
        generate_self_signed(host, cert_file, key_file, now=now, kind=kind)
        imported.unlink(missing_ok=True)
        return TLSResult(cert_file, key_file, "generated", problem)

    problem = _problem(cert_file, key_file, host, now, kind)
    if not problem:
        return TLSResult(cert_file, key_file, "kept")
    generate_self_signed(host, cert_file, key_file, now=now, kind=kind)
    return TLSResult(cert_file, key_file, "generated", problem)

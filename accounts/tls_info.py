"""What the first-login wizard shows of the server's TLS certificate, so a user can compare it
with what the browser received (the guide's "Check your SSL Certificate" step)."""

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.conf import settings


def server_certificate_summary(path=None):
    path = Path(path or settings.TLS_CERT_FILE)
    if not path.exists():
        return None
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(name.value) for name in san]
    except x509.ExtensionNotFound:
        names = []
    fingerprint = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    return {
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "not_before": cert.not_valid_before_utc,
        "not_after": cert.not_valid_after_utc,
        "names": names,
        "sha256": fingerprint,
        "self_signed": cert.issuer == cert.subject,
    }

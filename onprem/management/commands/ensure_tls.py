"""Make sure the web server's TLS certificate exists (``manage.py serve`` does this by itself).

For setups that start gunicorn directly (the containers in ``docker/``): with ONPREM_TLS_CERT and
ONPREM_TLS_KEY set the admin's files are only checked, otherwise a self-signed certificate for
ONPREM_HOST is made or renewed under ``DATA_DIR/tls/``. Prints the certificate's paths and its
SHA-256 fingerprint (what the first-login wizard asks users to compare).

``--key-type rsa`` (or ``ecdsa``) replaces a self-signed certificate whose key is of the other
type, once; ``ONPREM_TLS_KEY_TYPE`` does the same at every start. Without either, a certificate
already on disk is kept whatever its key, and a new one gets an ECDSA P-256 key.
"""

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from django.core.management.base import BaseCommand, CommandError

from core.tls import KEY_TYPES, TLSError, describe_key, ensure_tls_certificate
from core.tls_tickets import TicketKeyError, default_path, ensure_ticket_keys, tickets_enabled


class Command(BaseCommand):
    help = "Create or renew the self-signed TLS certificate (or check the one in ONPREM_TLS_CERT/KEY)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--key-type",
            choices=KEY_TYPES,
            help="the key a self-signed certificate must have (ECDSA P-256 or RSA-2048); "
            "one of the other type is replaced. Default: ONPREM_TLS_KEY_TYPE, else keep what is there",
        )

    def handle(self, *args, key_type=None, **options):
        try:
            result = ensure_tls_certificate(kind=key_type)
            tickets = ensure_ticket_keys() if tickets_enabled() else 0
        except (TLSError, TicketKeyError) as error:
            raise CommandError(str(error)) from error
        cert = x509.load_pem_x509_certificate(result.cert_file.read_bytes())
        what = {"generated": "Made a new", "kept": "Kept the", "supplied": "Using the supplied"}[result.action]
        line = f"{what} TLS certificate {result.cert_file} (key {result.key_file})"
        if result.reason:
            line += f": {result.reason}"
        self.stdout.write(line + ".")
        self.stdout.write(f"Key: {describe_key(cert.public_key())}.")
        self.stdout.write(f"SHA-256 fingerprint: {cert.fingerprint(hashes.SHA256()).hex(':').upper()}")
        if tickets:
            self.stdout.write(f"TLS session ticket keys: {default_path()} ({tickets} in use).")
        self.stdout.write(f"Valid until {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC.")

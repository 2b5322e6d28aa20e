"""The emulated CSSM's certificate authority: a root CA and an issuing CA (RSA, as Cisco's are).

The issuing CA certifies, at registration, the On-Prem's ID key (an end-entity certificate,
364 days, renewed at every synchronization) and the local account's signing key (a CA with
``path_length=0``: it signs device ID certificates and nothing above them). Both carry the
On-Prem UID as subject ``serialNumber``, which ``sync.documents.verify.certificate_uid`` reads.
The issuing CA also signs the emulator's own document-signing certificate. Each certificate
carries the extended key usage of its role (``sync.certificate_roles``): verifiers accept a
document only from the certificate whose role is to sign it.
"""

import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from core import pki
from core.env import write_private_file
from sync import certificate_roles as roles

ROOT_DAYS = 20 * 365
ISSUING_DAYS = 10 * 365
SIGNER_DAYS = 2 * 365
SIGNING_CERT_DAYS = 5 * 365
ID_CERT_DAYS = 364
BACKDATE = datetime.timedelta(minutes=5)


def _name(common_name, **extra):
    # The name and uid come from the On-Prem's registration document: any text, fitted by pki.
    attrs = [
        pki.name_attribute(NameOID.COMMON_NAME, common_name),
        pki.name_attribute(NameOID.ORGANIZATION_NAME, "CSSM emulator (not Cisco)"),
    ]
    if extra.get("uid"):
        attrs.append(pki.name_attribute(NameOID.SERIAL_NUMBER, extra["uid"]))
    return x509.Name(attrs)


def _key_usage(*, ca):
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _build(subject, public_key, issuer_name, issuer_key, issuer_public_key, *, ca, path_length, days, now, role=None):
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(_key_usage(ca=ca), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False)
    )
    if role is not None:
        builder = builder.add_extension(roles.extended_key_usage(role), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class CertificateAuthority:
    """Root + issuing CA + the emulator's document signer, kept as PEM files in ``directory``."""

    FILES = ("root", "issuing", "signer")

    def __init__(self, directory):
        self.directory = Path(directory)

    def _paths(self, label):
        return self.directory / f"{label}.crt", self.directory / f"{label}.key"

    def ensure(self, now=None):
        """Create the three key pairs on first use; load them afterwards."""
        now = now or datetime.datetime.now(datetime.timezone.utc)
        if not self._paths("root")[0].exists():
            self._create(now)
        self.root_cert, self.root_key = self._load("root")
        self.issuing_cert, self.issuing_key = self._load("issuing")
        self.signer_cert, self.signer_key = self._load("signer")
        if not _has_role(self.signer_cert, roles.CSSM_DOCUMENT_SIGNER):
            # A state directory from before certificate roles: a new signer under the same root,
            # so On-Prems that pinned that root keep trusting the emulator.
            self._create_signer(self.issuing_cert, self.issuing_key, now)
            self.signer_cert, self.signer_key = self._load("signer")
        return self

    def _create(self, now):
        self.directory.mkdir(parents=True, exist_ok=True)
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root_name = _name("CSSM Emulator Root CA")
        root = _build(
            root_name,
            root_key.public_key(),
            root_name,
            root_key,
            root_key.public_key(),
            ca=True,
            path_length=2,
            days=ROOT_DAYS,
            now=now,
        )
        issuing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        issuing = _build(
            _name("CSSM Emulator Issuing CA"),
            issuing_key.public_key(),
            root_name,
            root_key,
            root_key.public_key(),
            ca=True,
            path_length=1,
            days=ISSUING_DAYS,
            now=now,
        )
        for label, cert, key in (("root", root, root_key), ("issuing", issuing, issuing_key)):
            self._write(label, cert, key)
        self._create_signer(issuing, issuing_key, now)

    def _create_signer(self, issuing, issuing_key, now):
        signer_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        signer = _build(
            _name("CSSM Emulator Synchronization Signer"),
            signer_key.public_key(),
            issuing.subject,
            issuing_key,
            issuing_key.public_key(),
            ca=False,
            path_length=None,
            days=SIGNER_DAYS,
            now=now,
            role=roles.CSSM_DOCUMENT_SIGNER,
        )
        self._write("signer", signer, signer_key)

    def _write(self, label, cert, key):
        cert_path, key_path = self._paths(label)
        write_private_file(key_path, pki.private_key_pem(key))
        cert_path.write_text(pki.certificate_pem(cert))

    def _load(self, label):
        cert_path, key_path = self._paths(label)
        return pki.load_certificate(cert_path.read_text()), pki.load_private_key(key_path.read_text())

    @property
    def root_pem(self):
        return pki.certificate_pem(self.root_cert)

    def chain_pems(self):
        """What responses carry as ``certificate_chain``: issuing CA, then root."""
        return [pki.certificate_pem(self.issuing_cert), self.root_pem]

    def signer_pems(self):
        """What responses carry as ``signature.certificates``: the signer, then the issuing CA."""
        return [pki.certificate_pem(self.signer_cert), pki.certificate_pem(self.issuing_cert)]

    def issue_id_certificate(self, public_key, *, name, uid, now, days=ID_CERT_DAYS):
        return _build(
            _name(name, uid=uid),
            public_key,
            self.issuing_cert.subject,
            self.issuing_key,
            self.issuing_key.public_key(),
            ca=False,
            path_length=None,
            days=days,
            now=now,
            role=roles.ONPREM_ID,
        )

    def issue_signing_certificate(self, public_key, *, name, uid, now, days=SIGNING_CERT_DAYS):
        # path_length=0 and the device-ID purpose: it signs device ID certificates only.
        return _build(
            _name(name, uid=uid),
            public_key,
            self.issuing_cert.subject,
            self.issuing_key,
            self.issuing_key.public_key(),
            ca=True,
            path_length=0,
            days=days,
            now=now,
            role=roles.DEVICE_SIGNING_AUTHORITY,
        )


def _has_role(cert, role):
    try:
        return role.eku in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False

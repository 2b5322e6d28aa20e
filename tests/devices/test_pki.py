"""The PKI: certificates the real openssl accepts, keys encrypted at rest, a replaceable chain."""

import datetime
import shutil
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core import pki
from licensing.models import DeviceCertificate, SigningAuthority
from licensing.services.device_pki import current_authority, install_signing_authority
from tests.devices.devicesim import make_csr

pytestmark = pytest.mark.django_db
OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed")


def openssl_verify(tmp_path, chain, cert_pem):
    (tmp_path / "chain.pem").write_text("".join(chain))
    (tmp_path / "cert.pem").write_text(cert_pem)
    return subprocess.run(
        [OPENSSL, "verify", "-CAfile", str(tmp_path / "chain.pem"), str(tmp_path / "cert.pem")],
        capture_output=True,
        text=True,
        timeout=30,
    )


@needs_openssl
def test_issued_certificate_verifies_with_openssl(registered, tmp_path):
    dev = registered()
    result = openssl_verify(tmp_path, dev.chain, dev.cert_pem)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(": OK")
    cert = x509.load_pem_x509_certificate(dev.cert_pem.encode())
    assert format(cert.serial_number, "x") == dev.cert_serial
    assert isinstance(cert.public_key().curve, ec.SECP256R1)
    assert cert.public_key().public_numbers() == dev.key.public_key().public_numbers()
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


@needs_openssl
def test_another_accounts_chain_does_not_verify_the_certificate(registered, device, make_account, tmp_path):
    from licensing.services.tokens import create_token

    dev = registered()
    other = device()
    other.register(create_token(actor=None, virtual_account=make_account("Globex").virtual_accounts.get()))
    assert openssl_verify(tmp_path, other.chain, dev.cert_pem).returncode != 0


def test_signing_authority_key_is_p256_and_encrypted_at_rest(registered, acme, settings):
    registered()
    authority = SigningAuthority.objects.get(account=acme)
    with connection.cursor() as cursor:
        cursor.execute("SELECT private_key FROM licensing_signingauthority WHERE id = %s", [authority.pk])
        raw = cursor.fetchone()[0]
    assert "PRIVATE KEY" not in raw
    assert authority.private_key.startswith("-----BEGIN PRIVATE KEY-----")
    key = pki.load_private_key(authority.private_key)
    assert isinstance(key.curve, ec.SECP256R1)
    subject = pki.load_certificate(authority.certificate_pem).subject
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == settings.ONPREM_HOST
    assert "Acme" in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value


def test_serial_numbers_are_unique(registered):
    devices = [registered() for _ in range(5)]
    serials = {d.cert_serial for d in devices}
    assert len(serials) == 5
    cert = DeviceCertificate.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        DeviceCertificate.objects.create(
            product_instance=cert.product_instance,
            authority=cert.authority,
            serial_hex=cert.serial_hex,
            certificate_pem="x",
            public_key_sha256="x",
            issued_at=cert.issued_at,
            not_after=cert.not_after,
            renew_after=cert.renew_after,
        )


def test_one_current_authority_per_account(acme):
    first = current_authority(acme)
    assert current_authority(acme) == first
    with pytest.raises(IntegrityError), transaction.atomic():
        SigningAuthority.objects.create(
            account=acme,
            certificate_pem="x",
            private_key="x",
            serial_hex="1",
            not_after=timezone.now(),
            created_at=timezone.now(),
        )


def _cssm_chain(now):
    """A CSSM-like root CA and the account's signing certificate issued by it (both P-256)."""
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CSSM Emulator Root CA")])
    root_ski = x509.SubjectKeyIdentifier.from_public_key(root_key.public_key())
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
        .add_extension(root_ski, critical=False)
        .sign(root_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    signing = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "onprem.example.com"),
                    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Acme"),
                ]
            )
        )
        .issuer_name(root_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    return pki.certificate_pem(root), pki.certificate_pem(signing), pki.private_key_pem(key)


@needs_openssl
def test_a_cssm_signed_chain_replaces_the_local_one(registered, acme, tmp_path):
    dev = registered()
    local_chain = dev.chain
    root_pem, signing_pem, key_pem = _cssm_chain(timezone.now())
    new = install_signing_authority(
        account=acme, certificate_pem=signing_pem, private_key_pem=key_pem, chain_pem=root_pem
    )
    old = SigningAuthority.objects.get(account=acme, is_current=False)
    assert old.retired_at is not None and new.is_current
    # the device's current certificate still works, its replies are still signed by the old authority
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
    reply = dev.send("RENEW_ID", csr=make_csr(dev.key))
    assert reply["certificate_chain"] == [signing_pem, root_pem]
    assert reply["certificate_chain"] != local_chain
    result = openssl_verify(tmp_path, reply["certificate_chain"], reply["id_certificate"])
    assert result.returncode == 0, result.stderr
    dev.chain, dev.cert_serial = reply["certificate_chain"], reply["id_certificate_serial"]
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"  # verified with the new chain


@pytest.mark.parametrize("problem", ["mismatched_key", "not_p256", "not_a_cert"])
def test_install_refuses_bad_material(acme, problem):
    root_pem, signing_pem, key_pem = _cssm_chain(timezone.now())
    if problem == "mismatched_key":
        key_pem = pki.private_key_pem(pki.new_private_key())
    elif problem == "not_p256":
        key = ec.generate_private_key(ec.SECP384R1())
        _, cert = pki.new_signing_authority(common_name="x", organizational_unit="y", now=timezone.now())
        signing_pem = pki.certificate_pem(cert)  # a P-256 certificate, a P-384 key
        key_pem = pki.private_key_pem(key)
    else:
        signing_pem = "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"
    with pytest.raises(pki.PkiError):
        install_signing_authority(
            account=acme, certificate_pem=signing_pem, private_key_pem=key_pem, chain_pem=root_pem
        )
    assert not SigningAuthority.objects.filter(account=acme).exists()


def test_csr_checks():
    with pytest.raises(pki.PkiError):
        pki.load_csr("not a csr")
    with pytest.raises(pki.PkiError):
        pki.load_csr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
    with pytest.raises(pki.PkiError, match="P-256"):
        pki.load_csr(make_csr(ec.generate_private_key(ec.SECP384R1())))
    assert pki.load_csr(make_csr(ec.generate_private_key(ec.SECP256R1())))


def _subject_with_types(tmp_path, cert_pem):
    """The subject as openssl prints it with each attribute's ASN.1 string type (UTF-8 kept)."""
    (tmp_path / "subject.pem").write_text(cert_pem)
    result = subprocess.run(
        [
            OPENSSL,
            "x509",
            "-in",
            str(tmp_path / "subject.pem"),
            "-noout",
            "-subject",
            "-nameopt",
            "RFC2253,show_type,-esc_msb",
        ],
        capture_output=True,
        encoding="utf-8",
        timeout=30,
        check=True,
    )
    return result.stdout.strip().removeprefix("subject=")


@needs_openssl
@pytest.mark.parametrize("serial", ["ABCé1", "ABC_1", "ABC@1", "序列号-7"])
def test_a_serial_printablestring_cannot_hold_gets_a_utf8string_certificate_openssl_verifies(
    registered, tmp_path, serial
):
    dev = registered(serial)
    result = openssl_verify(tmp_path, dev.chain, dev.cert_pem)
    assert result.returncode == 0, result.stderr
    subject = _subject_with_types(tmp_path, dev.cert_pem).split(",")
    assert f"serialNumber=UTF8STRING:PID:CSR1000V SN:{serial}" in subject
    assert f"CN=UTF8STRING:CSR1000V:{serial}" in subject
    cert = x509.load_pem_x509_certificate(dev.cert_pem.encode())
    assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == f"PID:CSR1000V SN:{serial}"
    # and the device goes on with it
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"


@needs_openssl
def test_a_plain_serial_stays_a_printablestring(registered, tmp_path):
    dev = registered("FOC2412X0AB")
    assert "serialNumber=PRINTABLESTRING:PID:CSR1000V SN:FOC2412X0AB" in _subject_with_types(tmp_path, dev.cert_pem)


@needs_openssl
def test_long_non_ascii_names_are_cut_to_64_bytes_not_refused(
    registered, make_account, token, device, settings, tmp_path
):
    """Host Common Name, local account name and UDI all longer than a name attribute holds."""
    settings.ONPREM_HOST = "сервер-лицензий-" * 5 + ".example"
    account = make_account("ライセンス管理アカウント" * 3)  # 36 characters, 108 bytes
    from licensing.services.tokens import create_token

    dev = device("é" * 200)
    reply = dev.register(create_token(actor=None, virtual_account=account.virtual_accounts.get()))
    assert reply["status"] == "SUCCESS", reply
    assert openssl_verify(tmp_path, dev.chain, dev.cert_pem).returncode == 0
    for pem in (dev.cert_pem, *dev.chain):
        for attribute in x509.load_pem_x509_certificate(pem.encode()).subject:
            assert 1 <= len(attribute.value.encode()) <= 64
    cert = x509.load_pem_x509_certificate(dev.cert_pem.encode())
    serial_attribute = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value
    assert serial_attribute == "PID:CSR1000V SN:" + "é" * 24  # cut at a character boundary


def test_name_attribute_keeps_the_standard_type_where_it_fits():
    from cryptography.x509.name import _ASN1Type

    assert pki.name_attribute(NameOID.SERIAL_NUMBER, "PID:X SN:9A-1")._type == _ASN1Type.PrintableString
    assert pki.name_attribute(NameOID.SERIAL_NUMBER, "PID:X SN:9A_1")._type == _ASN1Type.UTF8String
    assert pki.name_attribute(NameOID.COMMON_NAME, "x")._type == _ASN1Type.UTF8String
    assert pki.name_attribute(NameOID.COMMON_NAME, "").value == "-"
    assert pki.clip_name("a" * 63 + "é") == "a" * 63  # é would be bytes 64 and 65

"""Certificates tab: Host Common Name, CSR generation, importing a certificate signed by a real
openssl CA (with its intermediate), every bad input leaving the files alone, revert to default."""

import datetime
import os
import ssl
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.services import certificate_actions
from core import certificates
from core.models import Event
from core.tls import ensure_tls_certificate
from tests.security.conftest import openssl
from tests.tls_probe import peer_certificate

pytestmark = pytest.mark.django_db
HOST = "onprem.example.com"
CERTS = "/admin/security/certificates/"


def _upload(name, content):
    return SimpleUploadedFile(name, content, content_type="application/x-pem-file")


def _snapshot(tls_files):
    cert, key = tls_files
    marker = certificates.marker_file(cert)
    return cert.read_bytes(), key.read_bytes(), marker.exists()


@pytest.fixture
def host(admin_client, tls_files):
    response = admin_client.post(f"{CERTS}host-name/", {"host_common_name": HOST})
    assert response.status_code == 302
    return HOST


@pytest.fixture
def csr_pem(admin_client, host):
    response = admin_client.post(
        f"{CERTS}csr/",
        {
            "common_name": HOST,
            "organizational_unit": "Licensing",
            "organization": "Example Corp",
            "locality": "Springfield",
            "state": "Oregon",
            "country": "us",
            "key_size": "2048",
            "subject_alt_names": "onprem, 192.0.2.10",
        },
    )
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{HOST}.csr"'
    return response.content.decode()


def _import(client, certificate, intermediate=b"", key=b"", description="Example CA"):
    data = {"description": description, "certificate": _upload("server.crt", certificate)}
    if intermediate:
        data["intermediate"] = _upload("chain.pem", intermediate)
    if key:
        data["private_key"] = _upload("server.key", key)
    return client.post(f"{CERTS}import/", data)


# --- Host Common Name ------------------------------------------------------------------------


def test_host_common_name_is_saved_and_exposed(admin_client, tls_files):
    assert certificate_actions.host_common_name() == "localhost"  # ONPREM_HOST until one is saved
    assert admin_client.post(f"{CERTS}host-name/", {"host_common_name": "Onprem.Example.COM"}).status_code == 302
    assert certificate_actions.host_common_name() == "onprem.example.com"
    assert admin_client.post(f"{CERTS}host-name/", {"host_common_name": "192.0.2.7"}).status_code == 302
    assert certificate_actions.host_common_name() == "192.0.2.7"
    response = admin_client.post(f"{CERTS}host-name/", {"host_common_name": "not a host!"})
    assert response.status_code == 400
    assert "fully qualified domain name" in response.content.decode()
    assert certificate_actions.host_common_name() == "192.0.2.7"
    assert Event.objects.filter(event_type="security.host_common_name_changed").count() == 2


# --- CSR -------------------------------------------------------------------------------------


def test_csr_fields_read_back_by_openssl_and_cryptography(csr_pem, tmp_path):
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    assert csr.is_signature_valid
    subject = {attr.oid: attr.value for attr in csr.subject}
    assert subject == {
        NameOID.COMMON_NAME: HOST,
        NameOID.ORGANIZATIONAL_UNIT_NAME: "Licensing",
        NameOID.ORGANIZATION_NAME: "Example Corp",
        NameOID.LOCALITY_NAME: "Springfield",
        NameOID.STATE_OR_PROVINCE_NAME: "Oregon",
        NameOID.COUNTRY_NAME: "US",
    }
    assert csr.public_key().key_size == 2048
    sans = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == [HOST, "onprem"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["192.0.2.10"]
    (tmp_path / "req.csr").write_text(csr_pem)
    text = openssl("req", "-in", "req.csr", "-noout", "-verify", "-text", cwd=tmp_path)
    assert "verify OK" in text.stdout + text.stderr
    assert "Public-Key: (2048 bit)" in text.stdout
    assert f"DNS:{HOST}, DNS:onprem, IP Address:192.0.2.10" in text.stdout
    # The key stays on the server, encrypted at rest, never in the download.
    assert "PRIVATE KEY" not in csr_pem
    pending = certificate_actions.pending_csr()
    from django.db import connection

    from accounts.security_models import PendingCsr

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT private_key FROM {PendingCsr._meta.db_table}")
        ((raw,),) = cursor.fetchall()
    assert "PRIVATE KEY" not in raw and "PRIVATE KEY" in pending.private_key


def test_csr_with_4096_bit_key(admin_client, host):
    response = admin_client.post(
        f"{CERTS}csr/", {"common_name": HOST, "organizational_unit": "IT", "country": "DE", "key_size": "4096"}
    )
    assert x509.load_pem_x509_csr(response.content).public_key().key_size == 4096


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("key_size", "1024", "Select a valid choice"),
        ("country", "USA", "two-letter country code"),
        ("subject_alt_names", "bad name!", "neither a host name nor an IP address"),
        ("common_name", "", "This field is required"),
    ],
)
def test_bad_csr_input_makes_nothing(admin_client, host, field, value, message):
    data = {"common_name": HOST, "organizational_unit": "IT", "country": "US", "key_size": "2048"}
    data[field] = value
    response = admin_client.post(f"{CERTS}csr/", data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert certificate_actions.pending_csr() is None


# --- Import ----------------------------------------------------------------------------------


def test_import_signed_certificate_with_intermediate(admin_client, tls_files, authority, csr_pem, tmp_path):
    cert_file, key_file = tls_files
    signed = authority.sign(csr_pem)
    response = _import(admin_client, signed, authority.intermediate.read_bytes())
    assert response.status_code == 302, response.content.decode()[:2000]
    page = admin_client.get(CERTS).content.decode()
    assert "after its next restart" in page or "after the next restart" in page
    assert "Imported" in page and "Example CA" in page
    # Written where the web server reads it: the certificate, then the intermediate; the key 0600.
    written = certificates.parse_certificates(cert_file.read_bytes(), "written")
    assert written[0] == x509.load_pem_x509_certificate(signed)
    assert written[1] == x509.load_pem_x509_certificate(authority.intermediate.read_bytes())
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert key.public_key() == written[0].public_key()
    # openssl agrees the chain is good.
    (tmp_path / "leaf.pem").write_bytes(written[0].public_bytes(serialization.Encoding.PEM))
    (tmp_path / "chain.pem").write_bytes(written[1].public_bytes(serialization.Encoding.PEM))
    result = openssl("verify", "-CAfile", str(authority.root), "-untrusted", "chain.pem", "leaf.pem", cwd=tmp_path)
    assert "leaf.pem: OK" in result.stdout
    # The pending key is used up; the server start keeps the imported certificate.
    assert certificate_actions.pending_csr() is None
    before = cert_file.read_bytes()
    result = ensure_tls_certificate(supplied=False)
    assert result.action == "kept" and cert_file.read_bytes() == before
    assert Event.objects.filter(event_type="security.certificate_imported").count() == 1


def test_imported_files_serve_tls_with_the_chain(admin_client, tls_files, authority, csr_pem):
    """What the next restart does: a TLS server loads the files; a client trusting the root verifies."""
    cert_file, key_file = tls_files
    assert _import(admin_client, authority.sign(csr_pem), authority.intermediate.read_bytes()).status_code == 302
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(cafile=str(authority.root))
    seen, _der = peer_certificate(server_context, client_context, server_hostname=HOST)
    assert seen["subject"][-1][0] == ("commonName", HOST)


def test_import_with_an_uploaded_key(admin_client, tls_files, authority, host):
    key_pem, csr = authority.new_key_and_csr(HOST, name="own")
    signed = authority.sign(csr, name="own")
    # Certificate and intermediate in one file works too.
    response = _import(admin_client, signed + authority.intermediate.read_bytes(), key=key_pem)
    assert response.status_code == 302
    written_key = serialization.load_pem_private_key(tls_files[1].read_bytes(), password=None)
    assert written_key.public_key() == x509.load_pem_x509_certificate(signed).public_key()


def test_an_ecdsa_certificate_and_key_import_and_serve(admin_client, tls_files, authority, host):
    """An ECDSA P-256 certificate issued by the (RSA) CA: imported, written, served, verified."""
    key_pem, csr = authority.new_key_and_csr(HOST, name="ecdsa", newkey="ec -pkeyopt ec_paramgen_curve:P-256")
    signed = authority.sign(csr, name="ecdsa")
    response = _import(admin_client, signed, authority.intermediate.read_bytes(), key=key_pem)
    assert response.status_code == 302
    cert_file, key_file = tls_files
    written_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(written_key, ec.EllipticCurvePrivateKey) and written_key.curve.name == "secp256r1"
    assert ensure_tls_certificate().action == "kept"
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    client_context = ssl.create_default_context(cafile=str(authority.root))
    seen, _der = peer_certificate(server_context, client_context, server_hostname=HOST)
    assert seen["subject"][-1][0] == ("commonName", HOST)
    verified = openssl(
        "verify",
        "-purpose",
        "sslserver",
        "-CAfile",
        str(authority.root),
        "-untrusted",
        str(authority.intermediate),
        str(cert_file),
        cwd=authority.dir,
    )
    assert verified.stdout.strip().endswith(": OK")


def _expired_certificate(authority):
    issuer_key = serialization.load_pem_private_key((authority.dir / "inter.key").read_bytes(), password=None)
    issuer = x509.load_pem_x509_certificate(authority.intermediate.read_bytes())
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


BAD_IMPORTS = {
    "garbage": (
        lambda a, csr: (b"not a certificate", a.intermediate.read_bytes(), b""),
        "holds no X.509 certificate in PEM format",
    ),
    "broken_pem": (
        lambda a, csr: (b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", b"", b""),
        "cannot be read",
    ),
    "wrong_key": (
        lambda a, csr: (a.sign(csr), a.intermediate.read_bytes(), a.new_key_and_csr(HOST, "x")[0]),
        "The private key does not belong to the certificate.",
    ),
    "garbage_key": (
        lambda a, csr: (a.sign(csr), a.intermediate.read_bytes(), b"-----BEGIN PRIVATE KEY-----\nxx\n"),
        "not an unencrypted PEM private key",
    ),
    # Expired (and so not for the pending key either): uploaded with its own key.
    "expired": (
        lambda a, csr: (lambda cert, key: (cert, a.intermediate.read_bytes(), key))(*_expired_certificate(a)),
        "expired on",
    ),
    "broken_chain": (lambda a, csr: (a.sign(csr), a.root.read_bytes(), b""), "The chain is broken"),
    "other_host": (
        lambda a, csr: (
            a.sign(a.new_key_and_csr("elsewhere.example.net", "o")[1], "o"),
            a.intermediate.read_bytes(),
            (a.dir / "o.key").read_bytes(),
        ),
        "does not name the Host Common Name",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_IMPORTS))
def test_bad_imports_change_nothing(admin_client, tls_files, authority, csr_pem, case):
    make, message = BAD_IMPORTS[case]
    certificate, intermediate, key = make(authority, csr_pem)
    before = _snapshot(tls_files)
    events = Event.objects.count()
    response = _import(admin_client, certificate, intermediate, key)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert _snapshot(tls_files) == before
    assert Event.objects.count() == events
    assert certificate_actions.pending_csr() is not None


def test_pass_phrase_and_other_key_types_are_refused(admin_client, tls_files, authority, csr_pem, tmp_path):
    signed = authority.sign(csr_pem)
    before = _snapshot(tls_files)
    openssl(
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-aes-256-cbc",
        "-pass",
        "pass:secret",
        "-out",
        "enc.key",
        cwd=tmp_path,
    )
    response = _import(admin_client, signed, authority.intermediate.read_bytes(), (tmp_path / "enc.key").read_bytes())
    assert "pass phrase" in response.content.decode()
    ed_key = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    response = _import(admin_client, signed, authority.intermediate.read_bytes(), ed_key)
    assert "must be an RSA or an ECDSA" in response.content.decode()
    small_ec = ec.generate_private_key(ec.SECP224R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    response = _import(admin_client, signed, authority.intermediate.read_bytes(), small_ec)
    assert "must be an RSA or an ECDSA" in response.content.decode()
    ec_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    response = _import(admin_client, signed, authority.intermediate.read_bytes(), ec_key)
    assert "does not belong to the certificate" in response.content.decode()
    assert _snapshot(tls_files) == before


def test_no_key_and_no_pending_csr(admin_client, tls_files, authority, host):
    _key, csr = authority.new_key_and_csr(HOST, name="nokey")
    before = _snapshot(tls_files)
    response = _import(admin_client, authority.sign(csr, name="nokey"), authority.intermediate.read_bytes())
    assert response.status_code == 400 and "Upload the certificate&#x27;s private key" in response.content.decode()
    assert _snapshot(tls_files) == before


def test_env_supplied_files_are_not_overwritten(admin_client, tls_files, authority, csr_pem, monkeypatch):
    monkeypatch.setenv("ONPREM_TLS_CERT", str(tls_files[0]))
    monkeypatch.setenv("ONPREM_TLS_KEY", str(tls_files[1]))
    before = _snapshot(tls_files)
    response = _import(admin_client, authority.sign(csr_pem), authority.intermediate.read_bytes())
    assert response.status_code == 400 and "ONPREM_TLS_CERT" in response.content.decode()
    assert _snapshot(tls_files) == before


# --- Default certificate -----------------------------------------------------------------------


def test_default_cannot_be_deleted_but_an_import_reverts_to_it(admin_client, tls_files, authority, csr_pem):
    cert_file, key_file = tls_files
    before = _snapshot(tls_files)
    response = admin_client.post(f"{CERTS}restore-default/", follow=True)
    assert "cannot be deleted" in response.content.decode()
    assert _snapshot(tls_files) == before
    assert _import(admin_client, authority.sign(csr_pem), authority.intermediate.read_bytes()).status_code == 302
    response = admin_client.post(f"{CERTS}restore-default/", follow=True)
    assert "after its next restart" in response.content.decode()
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert cert.issuer == cert.subject  # self-signed again
    assert x509.DNSName("localhost") in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert not certificates.marker_file(cert_file).exists()
    # The next start keeps this default.
    restored = cert_file.read_bytes()
    assert ensure_tls_certificate(supplied=False).action == "kept" and cert_file.read_bytes() == restored
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert Event.objects.filter(event_type="security.certificate_reverted").count() == 1


def test_an_expired_import_gives_way_to_a_default_at_start(admin_client, tls_files, authority, csr_pem):
    cert_file, _key = tls_files
    assert _import(admin_client, authority.sign(csr_pem), authority.intermediate.read_bytes()).status_code == 302
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=40)
    result = ensure_tls_certificate(supplied=False, now=later)
    assert result.action == "generated" and "expired" in result.reason
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    assert cert.issuer == cert.subject and not certificates.marker_file(cert_file).exists()


def test_page_shows_expiry(admin_client, tls_files):
    page = admin_client.get(CERTS).content.decode()
    cert = x509.load_pem_x509_certificate(tls_files[0].read_bytes())
    assert "Default (self-signed)" in page
    assert f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC" in page


def test_openssl_is_real():
    assert subprocess.run(["openssl", "version"], capture_output=True, check=True).stdout.startswith(b"OpenSSL")

"""The embedded server's TLS certificate (core.tls): SANs, key mode, reuse and renewal, openssl."""

import datetime
import ipaddress
import shutil
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from accounts.tls_info import server_certificate_summary
from core.tls import TLSError, ensure_tls_certificate, generate_self_signed

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


@pytest.fixture
def tls_paths(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("ONPREM_TLS_CERT", raising=False)
    monkeypatch.delenv("ONPREM_TLS_KEY", raising=False)
    settings.ONPREM_HOST = "licenses.example.com"
    settings.TLS_CERT_FILE = str(tmp_path / "tls" / "server.crt")
    settings.TLS_KEY_FILE = str(tmp_path / "tls" / "server.key")
    return tmp_path / "tls" / "server.crt", tmp_path / "tls" / "server.key"


def load(path):
    return x509.load_pem_x509_certificate(path.read_bytes())


def san(cert):
    return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value


def test_generates_a_server_certificate_for_the_host(tls_paths):
    cert_file, key_file = tls_paths
    result = ensure_tls_certificate()
    assert result.action == "generated"
    cert = load(cert_file)
    names = san(cert)
    assert names.get_values_for_type(x509.DNSName) == ["licenses.example.com", "localhost"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert cert.issuer == cert.subject
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert datetime.timedelta(days=825) <= lifetime <= datetime.timedelta(days=826)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    summary = server_certificate_summary(cert_file)
    assert summary["self_signed"] and "licenses.example.com" in summary["names"]


def test_keeps_a_valid_certificate(tls_paths):
    cert_file, key_file = tls_paths
    ensure_tls_certificate()
    cert_pem, key_pem = cert_file.read_bytes(), key_file.read_bytes()
    assert ensure_tls_certificate().action == "kept"
    assert (cert_file.read_bytes(), key_file.read_bytes()) == (cert_pem, key_pem)


def test_regenerates_for_another_host(tls_paths, settings):
    cert_file, _key_file = tls_paths
    ensure_tls_certificate()
    first = load(cert_file)
    settings.ONPREM_HOST = "smartlicensing.corp.example"
    result = ensure_tls_certificate()
    assert result.action == "generated" and "smartlicensing.corp.example" in result.reason
    second = load(cert_file)
    assert second.serial_number != first.serial_number
    assert "smartlicensing.corp.example" in san(second).get_values_for_type(x509.DNSName)
    assert "licenses.example.com" not in san(second).get_values_for_type(x509.DNSName)


def test_an_ip_address_host_gets_an_ip_entry(tls_paths, settings):
    cert_file, _key_file = tls_paths
    settings.ONPREM_HOST = "192.0.2.10"
    ensure_tls_certificate()
    assert ipaddress.ip_address("192.0.2.10") in san(load(cert_file)).get_values_for_type(x509.IPAddress)
    assert ensure_tls_certificate().action == "kept"


def test_renews_within_30_days_of_expiry(tls_paths):
    cert_file, _key_file = tls_paths
    ensure_tls_certificate()
    serial = load(cert_file).serial_number
    now = datetime.datetime.now(datetime.timezone.utc)
    assert ensure_tls_certificate(now=now + datetime.timedelta(days=790)).action == "kept"
    result = ensure_tls_certificate(now=now + datetime.timedelta(days=800))
    assert result.action == "generated" and "expires" in result.reason
    assert load(cert_file).serial_number != serial


def test_regenerates_when_the_key_is_missing_or_foreign(tls_paths, tmp_path):
    cert_file, key_file = tls_paths
    ensure_tls_certificate()
    key_file.unlink()
    assert ensure_tls_certificate().action == "generated"
    generate_self_signed("other", tmp_path / "o.crt", tmp_path / "o.key")
    shutil.copy(tmp_path / "o.key", key_file)
    result = ensure_tls_certificate()
    assert result.action == "generated" and "does not belong" in result.reason
    assert ensure_tls_certificate().action == "kept"


def test_supplied_files_are_checked_never_rewritten(settings, tmp_path, monkeypatch):
    cert_file, key_file = tmp_path / "mine.crt", tmp_path / "mine.key"
    generate_self_signed("somewhere.else", cert_file, key_file)
    monkeypatch.setenv("ONPREM_TLS_CERT", str(cert_file))
    monkeypatch.setenv("ONPREM_TLS_KEY", str(key_file))
    settings.TLS_CERT_FILE, settings.TLS_KEY_FILE = str(cert_file), str(key_file)
    settings.ONPREM_HOST = "licenses.example.com"
    before = cert_file.read_bytes(), key_file.read_bytes()
    result = ensure_tls_certificate()
    assert result.action == "supplied" and "does not name the host" in result.reason
    assert (cert_file.read_bytes(), key_file.read_bytes()) == before

    generate_self_signed("x", tmp_path / "x.crt", tmp_path / "x.key")
    settings.TLS_KEY_FILE = str(tmp_path / "x.key")
    with pytest.raises(TLSError, match="does not belong"):
        ensure_tls_certificate()
    settings.TLS_KEY_FILE = str(tmp_path / "missing.key")
    with pytest.raises(TLSError, match="does not exist"):
        ensure_tls_certificate()
    assert not (tmp_path / "missing.key").exists()
    assert (cert_file.read_bytes(), key_file.read_bytes()) == before


def test_only_one_supplied_file_is_refused(tls_paths, monkeypatch):
    monkeypatch.setenv("ONPREM_TLS_CERT", "/etc/ssl/mine.crt")
    with pytest.raises(TLSError, match="both"):
        ensure_tls_certificate()


@pytest.mark.skipif(not shutil.which("openssl"), reason="needs the openssl binary")
def test_openssl_verifies_the_self_signed_certificate(tls_paths):
    cert_file, key_file = tls_paths
    ensure_tls_certificate()
    done = subprocess.run(
        [OPENSSL, "verify", "-purpose", "sslserver", "-CAfile", str(cert_file), str(cert_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == f"{cert_file}: OK"
    for host in ("licenses.example.com", "localhost"):
        check = subprocess.run(
            [OPENSSL, "x509", "-in", str(cert_file), "-noout", "-checkhost", host],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "does match" in check.stdout
    check = subprocess.run(
        [OPENSSL, "x509", "-in", str(cert_file), "-noout", "-checkip", "::1"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "does match" in check.stdout
    # The key on disk is the certificate's key.
    modulus = [
        subprocess.run(
            [OPENSSL, kind, "-in", str(path), "-noout", "-modulus"], capture_output=True, text=True, check=True
        ).stdout
        for kind, path in (("x509", cert_file), ("rsa", key_file))
    ]
    assert modulus[0] == modulus[1]

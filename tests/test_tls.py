"""The embedded server's TLS certificate (core.tls): SANs, key mode, reuse and renewal, openssl."""

import datetime
import ipaddress
import shutil
import stat
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.core.management import call_command

from accounts.tls_info import server_certificate_summary
from core.tls import TLSError, ensure_tls_certificate, generate_self_signed

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"


@pytest.fixture
def tls_paths(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("ONPREM_TLS_KEY_TYPE", raising=False)
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
    # ECDSA P-256 by default: a key that signs, never one that encrypts.
    assert usage.digital_signature and not usage.key_encipherment and not usage.key_cert_sign
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
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


def test_rsa_on_request_and_existing_certificates_of_either_type_are_kept(tls_paths, monkeypatch):
    cert_file, key_file = tls_paths
    monkeypatch.setenv("ONPREM_TLS_KEY_TYPE", "rsa")
    assert ensure_tls_certificate().action == "generated"
    cert = load(cert_file)
    assert isinstance(cert.public_key(), rsa.RSAPublicKey) and cert.public_key().key_size == 2048
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment
    rsa_pem = cert_file.read_bytes()
    # The setting gone (the default, ECDSA, for new certificates): the RSA one on disk stays.
    monkeypatch.delenv("ONPREM_TLS_KEY_TYPE")
    assert ensure_tls_certificate().action == "kept" and cert_file.read_bytes() == rsa_pem
    # Asked for ECDSA explicitly: the self-signed RSA certificate is replaced, and then kept.
    monkeypatch.setenv("ONPREM_TLS_KEY_TYPE", "ECDSA")
    result = ensure_tls_certificate()
    assert result.action == "generated" and "its key is RSA" in result.reason
    assert isinstance(load(cert_file).public_key(), ec.EllipticCurvePublicKey)
    assert ensure_tls_certificate().action == "kept"
    monkeypatch.setenv("ONPREM_TLS_KEY_TYPE", "dsa")
    with pytest.raises(TLSError, match="ONPREM_TLS_KEY_TYPE must be one of ecdsa, rsa"):
        ensure_tls_certificate()
    assert isinstance(load(cert_file).public_key(), ec.EllipticCurvePublicKey)


def test_ensure_tls_key_type_flag(tls_paths, capsys):
    cert_file, _key_file = tls_paths
    call_command("ensure_tls")
    assert "Key: ECDSA P-256." in capsys.readouterr().out
    call_command("ensure_tls", "--key-type", "rsa")
    out = capsys.readouterr().out
    assert out.startswith("Made a new TLS certificate") and "Key: RSA 2048." in out
    call_command("ensure_tls")
    out = capsys.readouterr().out
    assert out.startswith("Kept the TLS certificate") and "Key: RSA 2048." in out


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
@pytest.mark.parametrize("kind", ["ecdsa", "rsa"])
def test_openssl_verifies_the_self_signed_certificate(tls_paths, kind):
    cert_file, key_file = tls_paths
    ensure_tls_certificate(kind=kind)
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
    text = subprocess.run(
        [OPENSSL, "x509", "-in", str(cert_file), "-noout", "-text"], capture_output=True, text=True, check=True
    ).stdout
    if kind == "ecdsa":
        assert "id-ecPublicKey" in text and "NIST CURVE: P-256" in text and "ecdsa-with-SHA256" in text
    else:
        assert "rsaEncryption" in text and "(2048 bit)" in text and "sha256WithRSAEncryption" in text
    # The key on disk is the certificate's key.
    public = [
        subprocess.run([OPENSSL, *command, "-in", str(path)], capture_output=True, text=True, check=True).stdout
        for command, path in ((["x509", "-noout", "-pubkey"], cert_file), (["pkey", "-pubout"], key_file))
    ]
    assert public[0] == public[1] and "PUBLIC KEY" in public[0]

"""Secrets at rest: Fernet tokens in the database, plain values in Python, key rotation."""

from cryptography.fernet import Fernet

from core import crypto


def test_round_trip_and_ciphertext_differs(monkeypatch):
    monkeypatch.setenv("ONPREM_FIELD_KEYS", Fernet.generate_key().decode())
    crypto.reset_keys()
    token = crypto.encrypt("bind-password")
    assert "bind-password" not in token
    assert crypto.decrypt(token) == "bind-password"
    crypto.reset_keys()


def test_rotation_keeps_old_values_readable(monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("ONPREM_FIELD_KEYS", old)
    crypto.reset_keys()
    token = crypto.encrypt("smtp-secret")
    monkeypatch.setenv("ONPREM_FIELD_KEYS", f"{new},{old}")
    crypto.reset_keys()
    assert crypto.decrypt(token) == "smtp-secret"
    rotated = crypto.rotate(token)
    monkeypatch.setenv("ONPREM_FIELD_KEYS", new)
    crypto.reset_keys()
    assert crypto.decrypt(rotated) == "smtp-secret"
    try:
        crypto.decrypt(token)
    except crypto.SecretUnreadable:
        pass
    else:
        raise AssertionError("a value under a dropped key must not decrypt")
    crypto.reset_keys()


def test_generated_key_file_is_private(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("ONPREM_FIELD_KEYS", raising=False)
    settings.DATA_DIR = tmp_path
    crypto.reset_keys()
    assert crypto.decrypt(crypto.encrypt("x")) == "x"
    assert oct((tmp_path / "field_keys").stat().st_mode & 0o777) == "0o600"
    crypto.reset_keys()

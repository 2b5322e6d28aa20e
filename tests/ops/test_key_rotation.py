"""Key rotation: every encrypted column found and moved to the new key, in one transaction."""

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command

from core import crypto
from core.key_rotation import encrypted_fields
from core.models import SystemSettings
from core.system_settings import update


@pytest.fixture
def key_file(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("ONPREM_FIELD_KEYS", raising=False)
    settings.DATA_DIR = tmp_path
    crypto.reset_keys()
    yield tmp_path / "field_keys"
    crypto.reset_keys()


def _only_key(path):
    return Fernet(path.read_text().split()[0].encode())


def test_every_encrypted_column_is_found():
    found = {(model._meta.label, name) for model, name, _ in encrypted_fields()}
    assert ("onprem.SystemSettings", "smtp_password") in found
    assert ("onprem.SystemSettings", "proxy_password") in found
    # The EncryptedTextFields of every app are among them, whoever added them.
    assert {
        ("accounts.LdapConfig", "bind_password"),
        ("accounts.ExternalIdentityProvider", "client_secret"),
        ("licensing.SigningAuthority", "private_key"),
    } <= found


def test_rotation_moves_every_secret_to_the_new_key_and_drops_the_old(key_file, db):
    update(
        "proxy",
        actor=None,
        proxy_enabled=True,
        proxy_host="10.0.0.1",
        proxy_port=3128,
        proxy_username="svc",
        proxy_password="old-key-secret",
    )
    old_key = _only_key(key_file)
    token = SystemSettings.objects.get().proxy_password
    assert old_key.decrypt(token.encode()) == b"old-key-secret"

    call_command("rotate_field_keys", "--drop-old")
    new_key = _only_key(key_file)
    assert len(key_file.read_text().split()) == 1
    rotated = SystemSettings.objects.get().proxy_password
    assert new_key.decrypt(rotated.encode()) == b"old-key-secret"
    with pytest.raises(InvalidToken):
        old_key.decrypt(rotated.encode())
    assert crypto.decrypt(rotated) == "old-key-secret"


def test_unreadable_secret_stops_the_rotation_and_changes_nothing(key_file, db):
    update(
        "proxy",
        actor=None,
        proxy_enabled=True,
        proxy_host="10.0.0.1",
        proxy_port=3128,
        proxy_username="svc",
        proxy_password="x",
    )
    foreign = Fernet(Fernet.generate_key()).encrypt(b"from another server").decode()
    SystemSettings.objects.update(smtp_password=foreign)
    before = SystemSettings.objects.values_list("proxy_password", "smtp_password").get()
    with pytest.raises(Exception, match="Nothing was changed"):
        call_command("rotate_field_keys")
    assert SystemSettings.objects.values_list("proxy_password", "smtp_password").get() == before

"""Secrets at rest: settings passwords and private keys are stored Fernet-encrypted.

The keys come from ``ONPREM_FIELD_KEYS`` (comma-separated Fernet keys, newest first), else
from a key generated once and kept 0600 in the data directory. Several keys make rotation
possible: values encrypted with an older key still decrypt, new values use the first key,
and ``rotate`` re-encrypts a value under the first key.

Use ``EncryptedTextField`` on a model for a secret column; the database only ever holds the
token. Views must never render a decrypted secret back into a page (show "set" / "not set").
"""

from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

from .env import env_list, write_private_file


class SecretUnreadable(Exception):
    """A stored secret no configured key can decrypt (a lost or wrong ONPREM_FIELD_KEYS)."""


def _key_file():
    return Path(settings.DATA_DIR) / "field_keys"


@lru_cache(maxsize=1)
def _fernet():
    keys = env_list("ONPREM_FIELD_KEYS")
    if not keys:
        path = _key_file()
        if not path.exists():
            write_private_file(path, Fernet.generate_key().decode() + "\n")
        keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return MultiFernet([Fernet(key.encode()) for key in keys])


def reset_keys():
    """Forget the cached keys (tests and the rotation command change them)."""
    _fernet.cache_clear()


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from exc


def rotate(token: str) -> str:
    """The same secret, encrypted under the newest key."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("a stored secret cannot be decrypted with the configured keys") from exc


class EncryptedTextField(models.TextField):
    """A text column whose value is encrypted in the database and plain in Python.

    Empty strings stay empty (so "not set" needs no decryption). Lookups other than
    ``isnull``/exact-empty make no sense on ciphertext and are not supported.
    """

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)

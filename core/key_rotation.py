"""Rotating the field encryption keys (``core.crypto``): every secret re-encrypted under a new key.

Secrets are found, not listed by hand: every ``EncryptedTextField`` of every model, plus the
columns that hold ``core.crypto`` tokens directly (``TOKEN_COLUMNS``: cached settings rows
keep ciphertext so the cache never holds a clear secret). All of it runs in one transaction:
either every value moves to the new key or none does.
"""

from django.apps import apps
from django.db import transaction

from . import crypto

# (app_label.Model, field) of text columns holding crypto tokens rather than EncryptedTextField values.
TOKEN_COLUMNS = [
    ("onprem.SystemSettings", "smtp_password"),
    ("onprem.SystemSettings", "proxy_password"),
]


def encrypted_fields():
    """``[(model, field name, is_token_column)]`` of every encrypted column."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, crypto.EncryptedTextField):
                found.append((model, field.name, False))
    for label, name in TOKEN_COLUMNS:
        found.append((apps.get_model(label), name, True))
    return found


def reencrypt_all():
    """Re-encrypt every stored secret under the newest configured key; returns the count."""
    count = 0
    with transaction.atomic():
        for model, name, is_token in encrypted_fields():
            rows = model._base_manager.select_for_update().exclude(**{name: ""}).exclude(**{f"{name}__isnull": True})
            for pk, value in rows.values_list("pk", name).iterator(chunk_size=500):
                # EncryptedTextField: values_list gives the clear value; saving encrypts with key 1.
                new = crypto.rotate(value) if is_token else value
                model._base_manager.filter(pk=pk).update(**{name: new})
                count += 1
    return count

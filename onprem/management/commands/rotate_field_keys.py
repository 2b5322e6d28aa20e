"""``manage.py rotate_field_keys``: a new encryption key for the secrets at rest.

With the key file (the embedded default, ``DATA_DIR/field_keys``): a new key is put first in
the file, every secret is re-encrypted under it, and with ``--drop-old`` the old keys are then
removed. With ``ONPREM_FIELD_KEYS``: put the new key first in the variable yourself, run this
command, then remove the old keys from the variable.
"""

import os
from pathlib import Path

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core import crypto
from core.env import write_private_file
from core.key_rotation import reencrypt_all


class Command(BaseCommand):
    help = "Re-encrypt every secret stored in the database under a new field encryption key."

    def add_arguments(self, parser):
        parser.add_argument(
            "--drop-old", action="store_true", help="after re-encrypting, remove the old keys from the key file"
        )

    def handle(self, drop_old=False, **options):
        from_env = bool(os.environ.get("ONPREM_FIELD_KEYS"))
        key_file = Path(settings.DATA_DIR) / "field_keys"
        if from_env:
            if drop_old:
                raise CommandError("The keys come from ONPREM_FIELD_KEYS: remove the old ones there yourself.")
        else:
            old = (
                [line.strip() for line in key_file.read_text().splitlines() if line.strip()]
                if key_file.exists()
                else []
            )
            write_private_file(key_file, "\n".join([Fernet.generate_key().decode(), *old]) + "\n")
            crypto.reset_keys()
        try:
            count = reencrypt_all()
        except crypto.SecretUnreadable as error:
            raise CommandError(f"Nothing was changed: {error}.") from error
        if drop_old and not from_env:
            newest = key_file.read_text().splitlines()[0]
            write_private_file(key_file, newest + "\n")
            crypto.reset_keys()
        self.stdout.write(f"Re-encrypted {count} secret(s) under the newest key.\n")

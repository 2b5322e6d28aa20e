"""``manage.py restore ARCHIVE --yes``: replace this server's data with a backup's.

Everything is checked first (checksums, database vendor, schema version); nothing is touched
when a check fails. Stop the web and worker processes before restoring, start them after.
"""

from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, restore_backup


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` (replaces the database, keys and certificate)."

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("--yes", action="store_true", help="confirm: this replaces the current data")

    def handle(self, archive, yes=False, **options):
        if not yes:
            raise CommandError("Restoring replaces every record of this server. Run it again with --yes to confirm.")
        try:
            manifest = restore_backup(archive)
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Restored the backup made at {manifest['created_at']} "
            f"(product {manifest['product_version']}). "
            f"{manifest['accounts_flagged_for_full_sync']} registered local account(s) will send "
            "a full synchronization with CSSM next. Start the server again.\n"
        )

"""``manage.py backup [DIR]``: a consistent online backup of the database, keys and certificates."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.backup import BackupError, create_backup


class Command(BaseCommand):
    help = "Back up the database, the encryption keys and the TLS certificate into one .tar.gz archive."

    def add_arguments(self, parser):
        parser.add_argument(
            "destination",
            nargs="?",
            default=None,
            help="a directory (default DATA_DIR/backups) or an archive file name",
        )

    def handle(self, destination=None, **options):
        destination = destination or (settings.DATA_DIR / "backups")
        try:
            result = create_backup(destination)
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{result.archive}\n")
        self.stdout.write(
            f"  {len(result.manifest['migrations'])} migrations, "
            f"{len(result.manifest['files'])} files, checksum in {result.archive}.sha256\n"
        )
        if result.manifest.get("note"):
            self.stderr.write(result.manifest["note"] + "\n")

"""Registration and synchronization with CSSM from the command line (docs/synchronization.md).

    manage.py cssm register ACCOUNT --username U --password-file F [--reregister]
    manage.py cssm register-request ACCOUNT FILE [--reregister]
    manage.py cssm import-authorization ACCOUNT FILE
    manage.py cssm sync ACCOUNT [--full]
    manage.py cssm export-request ACCOUNT FILE [--full]
    manage.py cssm import-response ACCOUNT FILE
    manage.py cssm status [ACCOUNT]

ACCOUNT is the local account's name. The commands act as the system (no user), with the same
checks and messages as the Administration workspace; a refusal exits non-zero with the guide's
message. The CCO password is read from a file (never from the command line, where ``ps`` shows it).
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import ServiceError
from licensing.models import LocalAccount
from sync.documents.parse import MAX_DOCUMENT_BYTES
from sync.documents.rejections import MANUAL, Corrupted
from sync.models import AccountSync


class Command(BaseCommand):
    help = "Register local accounts with CSSM and synchronize them (online or with files)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        p = sub.add_parser("register", help="register (or --reregister) online with CCO credentials")
        p.add_argument("account")
        p.add_argument("--username", required=True)
        p.add_argument("--password-file", required=True)
        p.add_argument("--reregister", action="store_true")
        p = sub.add_parser("register-request", help="write a (re-)registration request file")
        p.add_argument("account")
        p.add_argument("file")
        p.add_argument("--reregister", action="store_true")
        p = sub.add_parser("import-authorization", help="apply an authorization file from CSSM")
        p.add_argument("account")
        p.add_argument("file")
        p = sub.add_parser("sync", help="synchronize online now")
        p.add_argument("account")
        p.add_argument("--full", action="store_true")
        p = sub.add_parser("export-request", help="write a synchronization request file")
        p.add_argument("account")
        p.add_argument("file")
        p.add_argument("--full", action="store_true")
        p = sub.add_parser("import-response", help="apply a synchronization response file from CSSM")
        p.add_argument("account")
        p.add_argument("file")
        p = sub.add_parser("status", help="registration and synchronization state")
        p.add_argument("account", nargs="?")

    def handle(self, *args, **options):
        from sync.services import registration, synchronization

        action = options["action"]
        if action == "status":
            return self._status(options.get("account"))
        account = self._account(options["account"])
        try:
            if action == "register":
                password = self._read(options["password_file"]).decode("utf-8").strip("\r\n")
                registration.register_online(
                    account,
                    actor=None,
                    username=options["username"],
                    password=password,
                    reregistration=options["reregister"],
                )
                self.stdout.write(f"The local account “{account.name}” is registered and Active.")
            elif action == "register-request":
                _name, text = registration.registration_file(account, actor=None, reregistration=options["reregister"])
                self._write(options["file"], text)
            elif action == "import-authorization":
                path = Path(options["file"])
                registration.apply_authorization(account, self._read(path), name=path.name, actor=None, mode=MANUAL)
                self.stdout.write(f"The local account “{account.name}” is registered and Active.")
            elif action == "sync":
                record = synchronization.synchronize(account, actor=None, full=options["full"])
                self.stdout.write(f"{record.message} ({record.sync_type}).")
            elif action == "export-request":
                _name, text = synchronization.request_file(account, actor=None, full=options["full"])
                self._write(options["file"], text)
            elif action == "import-response":
                path = Path(options["file"])
                record = synchronization.apply_response(
                    account, self._read(path), name=path.name, actor=None, mode=MANUAL
                )
                self.stdout.write(f"{record.message} ({record.sync_type}).")
        except ServiceError as exc:
            raise CommandError(exc.message) from None

    def _account(self, name):
        account = LocalAccount.objects.exclude(status=LocalAccount.Status.REJECTED).filter(name=name).first()
        if account is None:
            raise CommandError(f"No local account named “{name}”.")
        return account

    def _read(self, path):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from None
        if len(data) > MAX_DOCUMENT_BYTES:
            raise CommandError(Corrupted().message)
        return data

    def _write(self, path, text):
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}") from None
        self.stdout.write(f"Wrote {path}.")

    def _status(self, name):
        accounts = (
            [self._account(name)]
            if name
            else LocalAccount.objects.exclude(
                status__in=[LocalAccount.Status.REJECTED, LocalAccount.Status.REQUESTED]
            ).order_by("name")
        )
        states = {s.account_id: s for s in AccountSync.objects.all()}
        for account in accounts:
            state = states.get(account.pk)
            if state is None or not state.is_registered:
                self.stdout.write(f"{account.name}: {account.get_status_display()}, not registered")
                continue
            self.stdout.write(
                f"{account.name}: {account.get_status_display()}, uid {state.uid}, registered "
                f"{state.registered_at:%Y-%m-%d %H:%M}, last sync "
                f"{state.last_sync_at.strftime('%Y-%m-%d %H:%M') if state.last_sync_at else 'never'}"
                f"{' (' + state.last_sync_result + ')' if state.last_sync_result else ''}"
                f"{', full synchronization required' if state.full_sync_required else ''}"
            )

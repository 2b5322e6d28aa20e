"""Create the first System Admin of a fresh installation (``make run`` calls this after migrate).

With no System Admin in the database, the user ``admin`` (or ``--username``) is created through
the user service with a strong random password. The password is printed once, in a box, and kept
in ``DATA_DIR/initial_admin_password`` (readable by the owner only) until the administrator has
signed in; the first login runs the initial login wizard, which replaces it and deletes the file. Later runs only say
that an administrator exists: the password is never printed again.

``--password-file PATH`` takes the password from a file instead (for automation); it is then
neither printed nor copied into the data dir.
"""

import secrets
import string
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.roles import SystemRole
from accounts.services import initial_password
from accounts.services.users import create_user
from core.env import write_private_file
from core.errors import ServiceError

PASSWORD_FILE_NAME = initial_password.FILE_NAME
initial_password_path = initial_password.path


def generate_password(length=16):
    """A random password that meets any password policy the Security widget can set: every
    character class (lower, upper, digit, special) is present, the rest is random."""
    lower, upper, digits, special = string.ascii_lowercase, string.ascii_uppercase, string.digits, "!?-#%+"
    chars = [secrets.choice(pool) for pool in (lower, upper, digits, special)]
    everything = lower + upper + digits + special
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def password_box(username, password, path):
    lines = [
        "The first System Admin has been created. Sign in with:",
        "",
        f"    username: {username}",
        f"    password: {password}",
        "",
        "This password is shown only this once. Until you sign in it is also kept in",
        f"{path} (readable by you only).",
        "The first sign-in asks you to choose a new password.",
    ]
    width = max(len(line) for line in lines)
    border = "+" + "-" * (width + 4) + "+"
    return "\n".join([border, *(f"|  {line.ljust(width)}  |" for line in lines), border])


class Command(BaseCommand):
    help = "Create the first System Admin if there is none yet, and print its password once."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin", help="user name of the first System Admin (default: admin)")
        parser.add_argument(
            "--password-file",
            metavar="PATH",
            help="read the password from this file instead of generating one (nothing is printed or stored)",
        )

    def handle(self, *args, username, password_file, **options):
        User = get_user_model()
        path = initial_password_path()

        admin = User.objects.filter(system_role=SystemRole.ADMIN).order_by("pk").first()
        if admin is not None:
            self.stdout.write(self._exists_line(admin, path))
            return

        if password_file:
            try:
                password = Path(password_file).read_text().rstrip("\r\n")
            except OSError as error:
                raise CommandError(f"Cannot read the password file {password_file}: {error.strerror}") from error
            if not password:
                raise CommandError(f"The password file {password_file} is empty.")
        else:
            password = generate_password()

        try:
            with transaction.atomic():
                user = create_user(actor=None, username=username, password=password, system_role=SystemRole.ADMIN)
                if not password_file:
                    # Inside the transaction: no administrator without a way to learn its password.
                    write_private_file(path, password + "\n")
        except ServiceError as error:
            raise CommandError(f"Cannot create the System Admin “{username}”: {error.message}") from error

        if password_file:
            self.stdout.write(f"Created the System Admin “{user.username}” with the password from {password_file}.")
        else:
            self.stdout.write(password_box(user.username, password, path))

    @staticmethod
    def _exists_line(admin, path):
        line = f"A System Admin already exists (“{admin.username}”); no new password was made."
        if path.exists():
            if admin.needs_first_login_wizard:
                line += f" The initial password is in {path}."
            else:
                line += f" {path} holds the initial password, which the first sign-in has replaced; you may delete it."
        return line

"""The first System Admin's generated password, kept in ``DATA_DIR/initial_admin_password`` by
``manage.py ensure_admin`` until that administrator has chosen their own (docs/running.md)."""

from pathlib import Path

from django.conf import settings

FILE_NAME = "initial_admin_password"


def path():
    return Path(settings.DATA_DIR) / FILE_NAME


def is_for(user):
    """Is the kept password ``user``'s current one? (Asked before the first login replaces it.)"""
    try:
        kept = path().read_text(encoding="utf-8").strip()
    except OSError:
        return False
    return bool(kept) and user.check_password(kept)


def forget():
    """Delete the file; True when there was one."""
    try:
        path().unlink()
    except FileNotFoundError:
        return False
    return True

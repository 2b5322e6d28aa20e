"""Per-process copies of the settings rows the device path reads, dropped when a setting changes.

A device message must not pay a cache-server round trip (the system settings in Redis) or a
query (the Security widget's policy) for settings that change a few times a year. Each process
(a gunicorn worker, the Celery worker) keeps its own copy of such a row, and checks on every read
that it is still current with one ``os.stat`` of a *generation stamp*: a file in the data directory
that every change of a cached row replaces (``bump``), so its inode and modification time change.
All the processes of a server share the data directory, so a change saved in one worker is seen by
every other one at its next read, without a message between processes.

Invalidation: a ``post_save`` / ``post_delete`` of a cached model (``core.apps``) and the explicit
``system_settings.forget_cached`` bump the stamp at once (the writer's own process reads its
change in its own transaction) and again when the transaction commits (another process may have
read, and kept, the row as it was before the commit). The stamp is read before the row, so a copy is
never kept under a newer stamp than the row it was read after. A change that bypasses the model
(a queryset ``update()``, a restore, SQL by hand) is seen after ``MAX_AGE`` seconds at the latest.

When the stamp cannot be read or written (a read-only data directory), reads go to the source
every time: slower, never stale.
"""

import os
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import transaction

# The longest a copy lives without a bump: bounds what a change outside the models leaves stale.
MAX_AGE = 60.0

_copies: dict[str, tuple[object, float, object]] = {}  # name: (stamp, read at, value)
_lock = threading.Lock()


def stamp_path():
    return Path(getattr(settings, "ONPREM_SETTINGS_STAMP", None) or settings.DATA_DIR / "settings.generation")


def _stamp():
    path = stamp_path()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return (str(path), None)
    except OSError:
        return None  # unreadable: no caching
    return (str(path), st.st_ino, st.st_mtime_ns, st.st_size)


def read(name, load):
    """The value ``load()`` returns, from this process's copy while the stamp has not moved."""
    stamp = _stamp()
    if stamp is not None:
        copy = _copies.get(name)
        if copy is not None and copy[0] == stamp and time.monotonic() - copy[1] < MAX_AGE:
            return copy[2]
    value = load()
    if stamp is not None:
        _copies[name] = (stamp, time.monotonic(), value)
    return value


def _replace_stamp():
    path = stamp_path()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(uuid.uuid4().hex)
        os.replace(temporary, path)  # a new inode: a change no stat can miss, however coarse its clock
    except OSError:
        temporary.unlink(missing_ok=True)
    with _lock:
        _copies.clear()


def bump():
    """A cached row changed: every process reads it again (now, and once more after the commit)."""
    _replace_stamp()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_replace_stamp)


__all__ = ["read", "bump", "stamp_path", "MAX_AGE"]

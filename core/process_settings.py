"""Per-process copies of the settings rows the device path reads, dropped when a setting changes.

A device message must not pay a cache-server round trip (the system settings in Redis) or a
query (the Security widget's policy) for settings that change a few times a year. Each process
(a gunicorn worker, the Celery worker) keeps its own copy of such a row, and checks on every read
that it is still current with one ``os.stat`` of a *generation stamp*: a file in the data directory
that every change of a cached row replaces (``bump``), so its inode and modification time change.
All the processes of a server share the data directory, so a change saved in one worker is seen by
every other one at its next read, without a message between processes.

Several web nodes (docs/operations.md, "High availability") each have their own data directory: a
bump also writes a new token under a key of Django's cache (Redis, shared by the nodes), which each
process reads at most every ``SHARED_CHECK_SECONDS`` (so a change saved on one node reaches the
others within that, at the cost of one cache read per process per interval, not per message).

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
# How often a process reads the shared token (a change saved on another node).
SHARED_CHECK_SECONDS = 2.0

_copies: dict[str, tuple[object, float, object]] = {}  # name: (stamp, read at, value)
_lock = threading.Lock()
_shared: list = [None, None, -1e9]  # [cache key, token, read at]


def _shared_key():
    return f"onprem:settings-generation:{settings.DATABASES['default']['NAME']}"


def _shared_token():
    """The token of the last change on any node, read from the cache at most every SHARED_CHECK_SECONDS."""
    key, now = _shared_key(), time.monotonic()
    if _shared[0] != key or now - _shared[2] >= SHARED_CHECK_SECONDS:
        from django.core.cache import cache

        try:
            token = cache.get(key)
        except Exception:  # noqa: BLE001 - the cache server down: the local stamp and MAX_AGE still hold
            token = _shared[1] if _shared[0] == key else None
        _shared[:] = [key, token, now]
    return _shared[1]


def stamp_path():
    return Path(getattr(settings, "ONPREM_SETTINGS_STAMP", None) or settings.DATA_DIR / "settings.generation")


def _stamp():
    path = stamp_path()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return (str(path), None, _shared_token())
    except OSError:
        return None  # unreadable: no caching
    return (str(path), st.st_ino, st.st_mtime_ns, st.st_size, _shared_token())


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
    from django.core.cache import cache

    try:
        cache.set(_shared_key(), uuid.uuid4().hex, timeout=None)
    except Exception:  # noqa: BLE001 - the cache server down: the other nodes see it within MAX_AGE
        pass
    with _lock:
        _copies.clear()
        _shared[2] = -1e9  # this process reads the new token at once


def bump():
    """A cached row changed: every process reads it again (now, and once more after the commit)."""
    _replace_stamp()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_replace_stamp)


__all__ = ["read", "bump", "stamp_path", "MAX_AGE", "SHARED_CHECK_SECONDS"]

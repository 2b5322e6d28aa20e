"""TLS session tickets that every web worker can read and that survive a restart.

A device that reconnects with the session ticket of its last connection *resumes*: no certificate,
no signature, no key-exchange verification on the server, a fraction of a full handshake's CPU
(docs/performance.md, run 6). OpenSSL encrypts tickets with keys of its own, random per
``SSL_CTX``: each gunicorn worker builds its own context, so a ticket from one worker is useless at
another, and every restart invalidates them all. Here the keys live in one file of the data dir,
``DATA_DIR/tls/ticket-keys.json`` (mode 0600), and every worker's context encrypts and decrypts
with them:

* the first key is the current one (new tickets); the others only decrypt, until they are
  ``2 x rotate`` old, so a ticket issued just before a rotation still resumes during the grace
  period that follows (``ONPREM_TLS_TICKET_ROTATE_SECONDS``, default 12 hours);
* the first worker to see the current key older than ``rotate`` makes a new one, under an
  ``flock`` of ``ticket-keys.json.lock`` and with an atomic rename, so the workers of one server
  never write two; the others see the file change within ``RELOAD_EVERY`` seconds;
* the session lifetime is set to ``rotate`` too: no ticket outlives the key that can read it.

Python's ``ssl`` module has no API for ticket keys, so ``enable()`` reaches the context's
``SSL_CTX`` (the first field of CPython's ``PySSLContext``, checked against the context's options
before anything is set) and installs OpenSSL's ticket key callback through ``ctypes``: AES-256-CBC
and HMAC-SHA256 with the keys of the file, as OpenSSL's own tickets are. Where that cannot be done
(another Python, another OpenSSL) ``enable()`` returns False and logs why; TLS then works as
before, with per-worker tickets.

``ONPREM_TLS_SESSION_TICKETS=off`` turns tickets off altogether (no stateless resumption).
"""

import ctypes
import ctypes.util
import fcntl
import json
import logging
import os
import platform
import secrets
import ssl
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

from .env import env_int

logger = logging.getLogger("onprem.tls")

FILE_KIND = "onprem-tls-ticket-keys"
NAME_LEN, HMAC_LEN, AES_LEN, IV_LEN = 16, 32, 32, 16
DEFAULT_ROTATE = 12 * 3600
MIN_ROTATE = 60
ROTATE_SETTING = "ONPREM_TLS_TICKET_ROTATE_SECONDS"
ENABLED_SETTING = "ONPREM_TLS_SESSION_TICKETS"
RELOAD_EVERY = 1.0  # seconds between two looks at the file's stamp
SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB = 72  # OpenSSL's tls1.h; SSL_CTX_set_tlsext_ticket_key_cb is a macro over it


class TicketKeyError(Exception):
    """The ticket key file cannot be read or written."""


def tickets_enabled():
    return (os.environ.get(ENABLED_SETTING) or "on").strip().lower() not in ("0", "off", "no", "false")


def rotate_seconds():
    return max(MIN_ROTATE, env_int(ROTATE_SETTING, DEFAULT_ROTATE))


def default_path():
    from .env import data_dir

    return data_dir() / "tls" / "ticket-keys.json"


@dataclass(frozen=True)
class TicketKey:
    name: bytes
    hmac: bytes
    aes: bytes
    created: float

    @classmethod
    def new(cls, now):
        return cls(secrets.token_bytes(NAME_LEN), secrets.token_bytes(HMAC_LEN), secrets.token_bytes(AES_LEN), now)

    def to_dict(self):
        return {"name": self.name.hex(), "hmac": self.hmac.hex(), "aes": self.aes.hex(), "created": self.created}

    @classmethod
    def from_dict(cls, data):
        key = cls(bytes.fromhex(data["name"]), bytes.fromhex(data["hmac"]), bytes.fromhex(data["aes"]), data["created"])
        if (len(key.name), len(key.hmac), len(key.aes)) != (NAME_LEN, HMAC_LEN, AES_LEN):
            raise ValueError("a key of the wrong length")
        return key


def _stamp(path):
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


class TicketKeyFile:
    """The keys of one file, current first: reloaded when the file changes, rotated when due."""

    def __init__(self, path, *, rotate=None, clock=time.time):
        self.path = Path(path)
        self.rotate = rotate or rotate_seconds()
        self.clock = clock
        self._keys: list[TicketKey] = []
        self._stamp = None
        self._checked = float("-inf")  # monotonic time of the last look at the file
        self._lock = threading.Lock()
        self._memory_only = False  # the file could not be written: this process keeps its own key

    # -- the file --------------------------------------------------------------------------

    def _read(self):
        try:
            data = json.loads(self.path.read_text())
            if data.get("kind") != FILE_KIND:
                raise ValueError(f"not a {FILE_KIND} file")
            return [TicketKey.from_dict(item) for item in data["keys"]]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("TLS ticket keys: %s is unreadable (%s); new keys replace it.", self.path, error)
            return []

    def _write(self, keys):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(
                {"kind": FILE_KIND, "version": 1, "rotate_seconds": self.rotate, "keys": [k.to_dict() for k in keys]},
                handle,
            )
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def _due(self, keys, now):
        return not keys or now - keys[0].created >= self.rotate or keys[0].created > now + 60

    def _rotate(self, now):
        """Under the lock file: read again, and if the current key is still due, add a new one."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            keys = self._read()
            if self._due(keys, now):
                kept = [key for key in keys if 0 <= now - key.created < 2 * self.rotate]
                keys = [TicketKey.new(now), *kept]
                self._write(keys)
                logger.info("TLS ticket keys: a new current key in %s (%d kept for decryption).", self.path, len(kept))
            return keys
        finally:
            os.close(fd)  # releases the flock

    def keys(self):
        """The keys to use now: the current one first."""
        now_mono = time.monotonic()
        if now_mono - self._checked < RELOAD_EVERY and self._keys:
            return self._keys
        with self._lock:
            now = self.clock()
            self._checked = now_mono
            if self._memory_only:
                if self._due(self._keys, now):
                    self._keys = [TicketKey.new(now), *[k for k in self._keys if now - k.created < 2 * self.rotate]]
                return self._keys
            stamp = _stamp(self.path)
            if stamp != self._stamp or not self._keys:
                self._keys, self._stamp = self._read(), stamp
            if self._due(self._keys, now):
                try:
                    self._keys = self._rotate(now)
                    self._stamp = _stamp(self.path)
                except OSError as error:
                    logger.warning(
                        "TLS ticket keys: cannot write %s (%s); this process keeps its own key, so its "
                        "tickets resume only here and not after a restart.",
                        self.path,
                        error,
                    )
                    self._memory_only = True
                    self._keys = [TicketKey.new(now), *self._keys]
            return self._keys


_files: dict[str, TicketKeyFile] = {}
_files_lock = threading.Lock()


def key_file(path=None):
    """The process's ``TicketKeyFile`` for ``path`` (default: the data dir's)."""
    path = str(Path(path or default_path()).resolve())
    with _files_lock:
        if path not in _files:
            _files[path] = TicketKeyFile(path)
        return _files[path]


def ensure_ticket_keys(path=None):
    """Create (or rotate when due) the key file now, so a start fails early when it cannot; the
    number of keys in it."""
    store = TicketKeyFile(path or default_path())
    store.keys()
    if store._memory_only:
        raise TicketKeyError(f"Cannot write the TLS session ticket keys to {store.path}.")
    return len(store._keys)


# -- OpenSSL through ctypes ---------------------------------------------------------------------


def _loaded_library(stem):
    """The path of the shared library ``stem`` (libssl, libcrypto) that the ssl module uses."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rstrip("\n").split(maxsplit=5)[-1]
                if os.path.basename(path).startswith(f"{stem}.so"):
                    return path
    except OSError:
        pass
    return ctypes.util.find_library(stem.removeprefix("lib"))


_CALLBACK_TYPE = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int
)


class _OpenSSL:
    def __init__(self):
        ssl_path, crypto_path = _loaded_library("libssl"), _loaded_library("libcrypto")
        if not ssl_path or not crypto_path:
            raise OSError("libssl/libcrypto not found")
        self.ssl, self.crypto = ctypes.CDLL(ssl_path), ctypes.CDLL(crypto_path)
        void_p, c_int = ctypes.c_void_p, ctypes.c_int
        for lib, name, restype, argtypes in (
            (self.ssl, "SSL_CTX_callback_ctrl", ctypes.c_long, [void_p, c_int, void_p]),
            (self.ssl, "SSL_CTX_get_options", ctypes.c_uint64, [void_p]),
            (self.ssl, "SSL_CTX_set_timeout", ctypes.c_long, [void_p, ctypes.c_long]),
            (self.ssl, "SSL_CTX_get_timeout", ctypes.c_long, [void_p]),
            (self.ssl, "SSL_get_SSL_CTX", void_p, [void_p]),
            (self.crypto, "EVP_aes_256_cbc", void_p, []),
            (self.crypto, "EVP_sha256", void_p, []),
            (self.crypto, "EVP_EncryptInit_ex", c_int, [void_p, void_p, void_p, ctypes.c_char_p, void_p]),
            (self.crypto, "EVP_DecryptInit_ex", c_int, [void_p, void_p, void_p, ctypes.c_char_p, void_p]),
            (self.crypto, "HMAC_Init_ex", c_int, [void_p, ctypes.c_char_p, c_int, void_p, void_p]),
        ):
            function = getattr(lib, name)
            function.restype, function.argtypes = restype, argtypes
        self.aes = self.crypto.EVP_aes_256_cbc()
        self.sha256 = self.crypto.EVP_sha256()
        self.callback = _CALLBACK_TYPE(self._ticket_key_callback)  # kept alive as long as the module

    def ctx_pointer(self, context):
        """The ``SSL_CTX *`` of ``context``, checked: its options as OpenSSL reads them must be the
        context's own, before and after flipping one bit through Python."""
        if platform.python_implementation() != "CPython":
            raise OSError("not CPython")
        pointer = ctypes.c_void_p.from_address(id(context) + object.__basicsize__).value
        if not pointer:
            raise OSError("no SSL_CTX")
        before = int(context.options)
        if self.ssl.SSL_CTX_get_options(pointer) != before:
            raise OSError("the context's layout is not the expected one")
        probe = ssl.OP_NO_COMPRESSION if not before & ssl.OP_NO_COMPRESSION else 0
        if probe:
            context.options |= probe
            seen = self.ssl.SSL_CTX_get_options(pointer)
            context.options &= ~probe
            if seen != before | probe:
                raise OSError("the context's layout is not the expected one")
        return pointer

    def _ticket_key_callback(self, ssl_ptr, key_name, iv, cipher_ctx, hmac_ctx, enc):
        try:
            store = _stores_by_ctx.get(self.ssl.SSL_get_SSL_CTX(ssl_ptr))
            if store is None:
                return 0
            keys = store.keys()
            if enc == 1:
                key = keys[0]
                ctypes.memmove(key_name, key.name, NAME_LEN)
                ctypes.memmove(iv, os.urandom(IV_LEN), IV_LEN)
                if self.crypto.EVP_EncryptInit_ex(cipher_ctx, self.aes, None, key.aes, iv) != 1:
                    return 0
                if self.crypto.HMAC_Init_ex(hmac_ctx, key.hmac, HMAC_LEN, self.sha256, None) != 1:
                    return 0
                return 1  # the ticket is issued
            name = ctypes.string_at(key_name, NAME_LEN)
            for position, key in enumerate(keys):
                if key.name == name:
                    if self.crypto.HMAC_Init_ex(hmac_ctx, key.hmac, HMAC_LEN, self.sha256, None) != 1:
                        return 0
                    if self.crypto.EVP_DecryptInit_ex(cipher_ctx, self.aes, None, key.aes, iv) != 1:
                        return 0
                    return 1 if position == 0 else 2  # 2: resume, and issue a ticket under the current key
            return 0  # an unknown (expired) key: a full handshake
        except Exception:
            logger.exception("TLS ticket key callback failed; the connection goes on without a ticket")
            return 0


_openssl: _OpenSSL | None = None
_openssl_error: str | None = None
_stores_by_ctx: dict[int, TicketKeyFile] = {}


def _library():
    global _openssl, _openssl_error
    if _openssl is None and _openssl_error is None:
        try:
            _openssl = _OpenSSL()
        except (OSError, AttributeError) as error:
            _openssl_error = str(error)
    return _openssl


def enable(context, path=None, *, store=None):
    """Make ``context`` (a server ``SSLContext``) issue and accept tickets under the keys of
    ``path`` (default: the data dir's file). True when done; False (logged) when tickets are off
    or the keys cannot be shared, in which case the context is as it was, or without tickets."""
    if not tickets_enabled():
        context.options |= ssl.OP_NO_TICKET
        return False
    library = _library()
    if library is None:
        logger.warning("TLS tickets stay per worker: OpenSSL cannot be reached (%s).", _openssl_error)
        return False
    try:
        pointer = library.ctx_pointer(context)
    except OSError as error:
        logger.warning("TLS tickets stay per worker: %s.", error)
        return False
    store = store or key_file(path)
    store.keys()  # the file exists, or this process's own key does, before the first handshake
    _stores_by_ctx[pointer] = store
    weakref.finalize(context, _stores_by_ctx.pop, pointer, None)
    library.ssl.SSL_CTX_callback_ctrl(
        pointer, SSL_CTRL_SET_TLSEXT_TICKET_KEY_CB, ctypes.cast(library.callback, ctypes.c_void_p)
    )
    library.ssl.SSL_CTX_set_timeout(pointer, store.rotate)  # no ticket outlives the key that reads it
    context.options &= ~ssl.OP_NO_TICKET
    context.num_tickets = 1  # a device keeps one session per server; a second ticket is wasted work
    return True


def session_timeout(context):
    """The context's session lifetime in seconds as OpenSSL has it (for tests and diagnostics)."""
    library = _library()
    if library is None:
        return None
    return library.ssl.SSL_CTX_get_timeout(library.ctx_pointer(context))

"""What an agent remembers between runs: key, ID certificate, chain, and the protocol state.

``DirStore`` keeps it in a directory (mode 0700): ``key.pem`` (0600, the device's private key),
``certificate.pem``, ``chain.pem`` and ``state.json`` (identity, product instance id, renewal
dates, authorizations, pending polls and unacknowledged usage reports). Writes are atomic
(temporary file + rename), so a crash never leaves half a file. ``MemoryStore`` keeps the same
in memory, for the fleet simulator.
"""

import json
import os
import tempfile
from pathlib import Path

KEY, CERT, CHAIN, STATE = "key.pem", "certificate.pem", "chain.pem", "state.json"
# The third-party keys (TPL) the server delivered, as its reply listed them: secrets like the key.
THIRD_PARTY_KEYS = "third_party_keys.json"
SECRET_FILES = (KEY, THIRD_PARTY_KEYS)


class StateError(Exception):
    """The state directory cannot be used (unreadable, unsafe permissions, corrupt)."""


class MemoryStore:
    def __init__(self):
        self.files = {}

    def read(self, name):
        return self.files.get(name)

    def write(self, name, data: bytes):
        self.files[name] = data

    def delete(self, name):
        self.files.pop(name, None)


class DirStore:
    def __init__(self, path):
        self.path = Path(path)

    def _ensure_dir(self):
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path, 0o700)

    def read(self, name):
        file = self.path / name
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateError(f"Cannot read {file}: {exc}") from exc
        if name in SECRET_FILES and os.stat(file).st_mode & 0o077:
            raise StateError(f"{file} is readable by other users; run: chmod 600 {file}")
        return data

    def write(self, name, data: bytes):
        self._ensure_dir()
        mode = 0o600 if name in SECRET_FILES else 0o644
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{name}.")
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path / name)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def delete(self, name):
        try:
            (self.path / name).unlink()
        except FileNotFoundError:
            pass


def load_json(store) -> dict:
    data = store.read(STATE)
    if data is None:
        return {}
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise StateError(f"{STATE} is corrupt: {exc}") from exc
    if not isinstance(document, dict):
        raise StateError(f"{STATE} is corrupt: not a JSON object.")
    return document


def save_json(store, document: dict):
    store.write(STATE, (json.dumps(document, indent=2, sort_keys=True) + "\n").encode())

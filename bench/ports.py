"""Loopback ports for the servers the tests and the benchmark start, safe when several processes
run at once.

`make test` runs two pytest-xdist workers, and CI, a developer or `make bench` may run beside
them. "The first port of the range that binds" is not enough then: two processes probe the same
range in the same order, both find the same port free, both start a server on it, and each test
then talks to the other's server (certificates that do not verify, or a server that does not
start). So a port is handed out only with an exclusive ``flock`` on a file named after it,
held until this process exits; a port is still probed for being free, for servers outside the
tests.
"""

import fcntl
import socket
import tempfile
from pathlib import Path

LOCKS = Path(tempfile.gettempdir()) / "onprem-test-ports"
_held = {}  # port -> the open lock file that keeps it this process's until it exits


def _lock(port):
    LOCKS.mkdir(exist_ok=True)
    handle = open(LOCKS / f"{port}.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def _bindable(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class NoFreePort(RuntimeError):
    pass


def claim_port(ports, *, reuse=True):
    """A free loopback port of ``ports`` that no other process holds; ``NoFreePort`` when there is none.

    ``reuse``: a port this process was handed before may come again once it is free (a server
    that was stopped); ``reuse=False`` never hands the same port twice (a killed server's
    orphans may still hold it, or the test wants each server on a port of its own).
    """
    for port in ports:
        if port in _held:
            if reuse and _bindable(port):
                return port
            continue
        lock = _lock(port)
        if lock is None:
            continue
        if not _bindable(port):
            lock.close()
            continue
        _held[port] = lock
        return port
    raise NoFreePort(
        f"no free port in {ports.start}-{ports.stop - 1}: other test processes hold them, "
        "or servers of an earlier run still listen there"
    )

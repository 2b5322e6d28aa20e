"""The size limit and the headers through a real gunicorn: a client that declares 50 MB and sends
64 KB gets the 413 at once (the server never waits for the rest of the body)."""

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from bench.harness import Process
from tests import ports

pytestmark = pytest.mark.live
# A server that waited for the 50 MB (the client never sends them) would not answer at all: gunicorn's
# worker timeout (30 s) would kill the request first, without a 413. So the 413 arriving within less
# than that, while the client sends nothing more, proves the refusal came before the body was read.
# (Not a tighter wall-clock bound: on a loaded machine the first request of a freshly booted worker
# can take several seconds of start-up alone.)
WAIT = 25


@pytest.fixture
def server(tmp_path):
    port = ports.claim_port(ports.RELIABILITY)
    env = dict(
        os.environ,
        ONPREM_DATA_DIR=str(tmp_path / "data"),
        SECURE_SSL_REDIRECT="0",
        DEBUG="0",
        SECRET_KEY="reliability-live-test-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    )
    env.pop("DATABASE_URL", None)
    (tmp_path / "data").mkdir()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = Process(
        [gunicorn, "onprem.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1"],
        log=tmp_path / "gunicorn.log",
        env=env,
        port=port,
        name="gunicorn",
    ).start()
    try:
        process.wait_for_port(timeout=30)
        yield port
    finally:
        process.stop()


def _raw_post(port, path, declared, sent):
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as connection:
        connection.sendall(
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {declared}\r\n\r\n".encode()
            + b"a" * sent
        )
        started = time.monotonic()
        reply = b""
        while b"bytes were sent" not in reply:  # the server closes after the reply (Connection: close)
            chunk = connection.recv(65536)
            if not chunk:
                break
            reply += chunk
        return reply.decode("latin-1"), time.monotonic() - started


@pytest.mark.parametrize("path", ["/login/", "/accounts/1/manage/user-groups/1/upload/", "/api/v1/accounts"])
def test_a_declared_oversize_body_gets_413_without_being_sent(server, path):
    reply, seconds = _raw_post(server, path, declared=50 * 1024 * 1024, sent=64 * 1024)
    status_line, _, rest = reply.partition("\r\n")
    assert status_line.startswith("HTTP/1.1 413"), reply[:300]
    assert "Content-Security-Policy: default-src 'self'" in rest
    assert "too large: 52428800 bytes were sent" in rest
    assert seconds < WAIT  # answered while the rest of the body never came, before gunicorn's 30 s timeout

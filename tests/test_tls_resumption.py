"""TLS session resumption (core/tls_tickets.py): tickets under the data dir's keys resume at another
context (another worker) and after a restart; rotation keeps the previous key for a grace period;
a real gunicorn with two workers and the project's config resumes every reconnect, before and
after a restart with the same data dir."""

import json
import os
import socket
import ssl
import stat
import sys
import threading
from pathlib import Path

import pytest

from bench.harness import Process
from core import tls_tickets
from core.tls import generate_self_signed
from tests import ports


@pytest.fixture
def pair(tmp_path):
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    generate_self_signed("localhost", cert, key)
    return cert, key


def _server_context(pair, keys=None, *, store=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*pair)
    if keys is not None or store is not None:
        assert tls_tickets.enable(context, keys, store=store)
    return context


def _serve(context, connections):
    """A loopback server answering ``connections`` connections with ``context``; its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def run():
        with listener:
            for _ in range(connections):
                conn, _ = listener.accept()
                try:
                    with context.wrap_socket(conn, server_side=True) as tls:
                        tls.recv(16)
                        tls.sendall(b"ok")
                except (ssl.SSLError, OSError):
                    pass

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1]


def _client(pair, maximum=None):
    context = ssl.create_default_context(cafile=str(pair[0]))
    if maximum:
        context.maximum_version = maximum
    return context


def _connect(client, port, session=None):
    """(session, reused, TLS version) of one exchange; the session after the reply, when a TLS 1.3
    ticket has arrived."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            tls.sendall(b"hello")
            assert tls.recv(16) == b"ok"
            return tls.session, tls.session_reused, tls.version()


@pytest.mark.parametrize("maximum", [None, ssl.TLSVersion.TLSv1_2], ids=["tls1.3", "tls1.2"])
def test_a_ticket_resumes_at_another_context_with_the_same_key_file(pair, tmp_path, maximum):
    keys = tmp_path / "data" / "tls" / "ticket-keys.json"
    client = _client(pair, maximum)
    first = _serve(_server_context(pair, keys), 2)
    session, reused, version = _connect(client, first)
    assert not reused and session.has_ticket
    assert version == ("TLSv1.2" if maximum else "TLSv1.3")
    _session, reused, _ = _connect(client, first, session)
    assert reused  # the same context
    # Another worker, or the server after a restart: a new context, the same file.
    second = _serve(_server_context(pair, keys), 1)
    _session, reused, _ = _connect(client, second, session)
    assert reused
    # A context with keys of its own (OpenSSL's default, per worker) cannot read the ticket.
    third = _serve(_server_context(pair), 1)
    _session, reused, _ = _connect(client, third, session)
    assert not reused
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    data = json.loads(keys.read_text())
    assert data["kind"] == "onprem-tls-ticket-keys" and len(data["keys"]) == 1


def test_the_context_gets_one_ticket_and_the_rotation_lifetime(pair, tmp_path):
    context = _server_context(pair, tmp_path / "keys.json")
    assert context.num_tickets == 1 and not context.options & ssl.OP_NO_TICKET
    assert tls_tickets.session_timeout(context) == tls_tickets.DEFAULT_ROTATE


def test_tickets_off(pair, tmp_path, monkeypatch):
    monkeypatch.setenv("ONPREM_TLS_SESSION_TICKETS", "off")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*pair)
    assert tls_tickets.enable(context, tmp_path / "keys.json") is False
    assert context.options & ssl.OP_NO_TICKET
    assert not (tmp_path / "keys.json").exists()


def test_rotation_keeps_the_previous_key_for_a_grace_period(pair, tmp_path):
    now = [1_000_000.0]
    path = tmp_path / "keys.json"
    rotate = 3600

    def store():  # what each worker (process) has: its own reader of the shared file
        return tls_tickets.TicketKeyFile(path, rotate=rotate, clock=lambda: now[0])

    client = _client(pair)
    session, reused, _ = _connect(client, _serve(_server_context(pair, store=store()), 1))
    assert not reused
    first_key = json.loads(path.read_text())["keys"][0]["name"]

    now[0] += rotate + 1  # past the rotation: a new current key, the old one still decrypts
    worker = store()
    renewed, reused, _ = _connect(client, _serve(_server_context(pair, store=worker), 1), session)
    assert reused
    names = [key["name"] for key in json.loads(path.read_text())["keys"]]
    assert len(names) == 2 and names[1] == first_key and names[0] != first_key
    # The resumed session came with a ticket under the new key, which keeps working after the old one goes.
    now[0] += rotate + 1
    _session, reused, _ = _connect(client, _serve(_server_context(pair, store=store()), 1), renewed)
    assert reused
    names_now = [key["name"] for key in json.loads(path.read_text())["keys"]]
    assert first_key not in names_now and names[0] in names_now
    # The first ticket: its key is gone, so a full handshake.
    _session, reused, _ = _connect(client, _serve(_server_context(pair, store=store()), 1), session)
    assert not reused


def test_concurrent_rotations_write_one_key(tmp_path):
    """Workers that see the key due at once: the flock lets one of them rotate, the rest read it."""
    path = tmp_path / "keys.json"
    now = [5_000.0]
    tls_tickets.TicketKeyFile(path, rotate=100, clock=lambda: now[0]).keys()
    now[0] += 150
    stores = [tls_tickets.TicketKeyFile(path, rotate=100, clock=lambda: now[0]) for _ in range(8)]
    currents = set()
    threads = [threading.Thread(target=lambda s=s: currents.add(s.keys()[0].name)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(currents) == 1
    assert len(json.loads(path.read_text())["keys"]) == 2


def test_an_unwritable_key_file_leaves_tls_working(pair, tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    client = _client(pair)
    port = _serve(_server_context(pair, blocker / "keys.json"), 2)
    session, reused, _ = _connect(client, port)
    _session, reused, _ = _connect(client, port, session)
    assert reused  # this process's own key
    assert "cannot write" in caplog.text
    with pytest.raises(tls_tickets.TicketKeyError):
        tls_tickets.ensure_ticket_keys(blocker / "other.json")


def test_a_corrupt_key_file_is_replaced(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    assert tls_tickets.ensure_ticket_keys(path) == 1
    assert json.loads(path.read_text())["kind"] == "onprem-tls-ticket-keys"


# -- the real server --------------------------------------------------------------------------


def _gunicorn(tmp_path, pair, port, data_dir):
    env = dict(
        os.environ,
        ONPREM_DATA_DIR=str(data_dir),
        DEBUG="0",
        SECRET_KEY="tls-resumption-test-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    )
    env.pop("DATABASE_URL", None)
    env.pop("ONPREM_TLS_SESSION_TICKETS", None)
    args = [
        Path(sys.executable).with_name("gunicorn"),
        "onprem.wsgi",
        "--config",
        "python:onprem.gunicorn_conf",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        "2",
        "--certfile",
        str(pair[0]),
        "--keyfile",
        str(pair[1]),
        "--access-logfile",
        str(tmp_path / "access.log"),
        "--access-logformat",
        "pid=%(p)s status=%(s)s",
    ]
    return Process(args, log=tmp_path / "gunicorn.log", env=env, port=port, name="gunicorn").start()


def _http_exchange(client, port, session=None):
    """One request on a new connection (gunicorn's sync workers close each one): (session, reused)."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
        with client.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
            tls.sendall(b"GET /SmartTransport HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := tls.recv(65536):
                reply += chunk
            assert reply.startswith(b"HTTP/1.1 "), reply[:100]
            return tls.session, tls.session_reused


@pytest.mark.live
def test_gunicorn_workers_resume_each_others_sessions_and_after_a_restart(pair, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = ports.claim_port(ports.RELIABILITY)
    client = _client(pair)
    server = _gunicorn(tmp_path, pair, port, data_dir)
    try:
        server.wait_for_port(timeout=60)
        session, reused = _http_exchange(client, port)
        assert not reused
        outcomes = []
        for _ in range(12):  # two workers share the listening socket: the kernel picks one each time
            session, reused = _http_exchange(client, port, session)
            outcomes.append(reused)
        assert all(outcomes), outcomes
    finally:
        server.stop()
    # Both workers answered some of them (each access line names the worker's pid).
    workers = {
        line.split()[0] for line in (tmp_path / "access.log").read_text().splitlines() if line.startswith("pid=")
    }
    assert len(workers) == 2, workers
    keys = data_dir / "tls" / "ticket-keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    server = _gunicorn(tmp_path, pair, port, data_dir)
    try:
        server.wait_for_port(timeout=60)
        _session, reused = _http_exchange(client, port, session)
        assert reused  # the ticket of the server before the restart
    finally:
        server.stop()

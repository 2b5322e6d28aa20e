"""A browser that has not accepted the self-signed certificate aborts every TLS handshake: the
server's log says so once per client, not once per connection (real gunicorn, real TLS clients)."""

import os
import socket
import ssl
import sys
import time
from pathlib import Path

import pytest

from bench.harness import Process
from core.tls import generate_self_signed
from tests import ports

pytestmark = pytest.mark.live


def _aborted_handshake(port):
    """A client that verifies the certificate against the system CAs: it refuses ours with an alert."""
    context = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(raw, server_hostname="localhost")


def test_untrusted_certificate_alerts_are_logged_once(tmp_path):
    from onprem.management.commands.serve import Command

    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    generate_self_signed("localhost", cert, key)
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    port = ports.claim_port(ports.RELIABILITY)
    env = dict(
        os.environ,
        ONPREM_DATA_DIR=str(tmp_path / "data"),
        DEBUG="0",
        SECRET_KEY="tls-alert-test-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    )
    env.pop("DATABASE_URL", None)
    (tmp_path / "data").mkdir()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    args = [
        gunicorn,
        "onprem.wsgi",
        "-b",
        f"127.0.0.1:{port}",
        "-w",
        "1",
        "--certfile",
        str(cert),
        "--keyfile",
        str(key),
        "--log-config-json",
        str(Command().gunicorn_logging_config(tmp_path, log_dir)),
    ]
    process = Process(args, log=tmp_path / "stdout.log", env=env, port=port, name="gunicorn").start()
    try:
        process.wait_for_port(timeout=30)
        for _ in range(6):
            _aborted_handshake(port)
        time.sleep(0.5)  # the worker logs after the client has gone
    finally:
        process.stop()
    lines = [line for line in (log_dir / "gunicorn.log").read_text().splitlines() if "Invalid request from ip=" in line]
    assert len(lines) == 1, lines
    assert "ALERT_UNKNOWN_CA" in lines[0] and "does not trust the server's certificate yet" in lines[0]


def test_other_invalid_requests_are_still_logged_each_time():
    import logging

    from core.tls_alerts import TlsAlertOnceFilter

    alerts = TlsAlertOnceFilter()

    def passes(message):
        return alerts.filter(logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, message, (), None))

    untrusted = "Invalid request from ip=10.0.0.7: [SSL: SSLV3_ALERT_CERTIFICATE_UNKNOWN] sslv3 alert (_ssl.c:1000)"
    assert passes(untrusted) and not passes(untrusted) and not passes(untrusted)
    assert passes(untrusted.replace("10.0.0.7", "10.0.0.8"))  # another client: its own line
    bad_line = "Invalid request from ip=10.0.0.7: Invalid Request Line 'GARBAGE'"
    assert passes(bad_line) and passes(bad_line)

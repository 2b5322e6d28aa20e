"""`manage.py serve` for real: gunicorn over HTTPS, a Celery worker and beat, on loopback only.

Every test runs the server in a fresh ONPREM_DATA_DIR on a free port, the way `make run` does
(migrate, ensure_admin, serve), and always kills what it started.
"""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from bench.harness import survivors
from core.child_processes import descendants

requests = pytest.importorskip("requests")

BASE_DIR = Path(__file__).resolve().parents[2]


def wait_for_heartbeat(server, timeout=60):
    """The Celery worker's heartbeat rows, once beat has had it write one."""
    deadline = time.monotonic() + timeout
    database = server.data_dir / "onprem.sqlite3"
    while time.monotonic() < deadline:
        assert server.proc.poll() is None, f"serve exited with {server.proc.returncode}:\n{server.printed()}"
        connection = sqlite3.connect(database, timeout=5)
        try:
            rows = connection.execute("SELECT hostname, last_seen FROM onprem_workerheartbeat").fetchall()
        finally:
            connection.close()
        if rows:
            return rows
        time.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in (server.data_dir / "logs").glob("*.log"))
    pytest.fail(f"no worker heartbeat within {timeout} s:\n{server.printed()}\n{logs}")


def stop_with(server, signum, timeout=20):
    """Send ``signum`` to serve only; return (exit status, the pids that were its descendants)."""
    family = descendants(server.proc.pid)
    assert family, "serve has no child processes"
    os.kill(server.proc.pid, signum)
    try:
        status = server.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve did not exit within {timeout} s after {signal.Signals(signum).name}")
    return status, family


def install(server):
    """What `make run` does before `serve`: migrate, then create the first System Admin."""
    server.manage("migrate", "--noinput")
    output = server.manage("ensure_admin").stdout
    found = re.findall(r"password: (\S+)", output)
    assert len(found) == 1, output
    return found[0]


@pytest.mark.live
def test_make_run_sequence_embedded(server_factory):
    server = server_factory()
    password = install(server)
    server.start()
    server.wait_until_up(path="/login/")

    session = requests.Session()
    # Only the generated certificate is trusted; REQUESTS_CA_BUNDLE & co. (and proxies) are ignored.
    session.trust_env = False
    session.verify = str(server.cert)
    login = session.get(f"{server.url}/login/", timeout=10)
    assert login.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    response = session.post(
        f"{server.url}/login/",
        data={"csrfmiddlewaretoken": token, "username": "admin", "password": password},
        headers={"Referer": f"{server.url}/login/"},
        timeout=20,
    )
    assert response.history and response.history[0].status_code == 302, response.text[:500]
    assert urlsplit(response.url).path == "/welcome/language/"
    assert response.status_code == 200

    css = session.get(f"{server.url}/static/onprem/onprem.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert css.content == (BASE_DIR / "static" / "onprem" / "onprem.css").read_bytes()

    assert wait_for_heartbeat(server)
    assert f"https://localhost:{server.port}/admin/" in server.printed()

    # Probes and metrics of the real process group: the counters of both gunicorn workers add up.
    assert session.get(f"{server.url}/readyz", timeout=10).json()["status"] == "ready"
    for _ in range(6):
        session.get(f"{server.url}/healthz", timeout=10)
    metrics = session.get(f"{server.url}/metrics", timeout=10)
    assert metrics.status_code == 200, metrics.text[:300]
    served = re.search(r'^onprem_http_requests_total\{method="GET",status="2xx"\} (\d+)', metrics.text, re.M)
    assert served and float(served.group(1)) >= 8
    assert "onprem_local_accounts" in metrics.text and "onprem_celery_queue_depth" in metrics.text
    rid = session.get(f"{server.url}/healthz", headers={"X-Request-ID": "live-probe-1"}, timeout=10)
    assert rid.headers["X-Request-ID"] == "live-probe-1"

    status, family = stop_with(server, signal.SIGINT)
    assert status == 0, server.printed()
    assert not survivors(family), "processes of serve survived it"
    assert "Stopped." in server.printed()
    assert "rid=live-probe-1" in (server.data_dir / "logs" / "access.log").read_text()
    for name in ("access.log", "gunicorn.log", "worker.log", "beat.log"):
        assert (server.data_dir / "logs" / name).stat().st_size > 0, name
    assert "GET /static/onprem/onprem.css" in (server.data_dir / "logs" / "access.log").read_text()
    assert not (BASE_DIR / "control").exists(), "the folder broker wrote outside the data dir"


@pytest.mark.live
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="set REDIS_URL to test the Redis broker")
def test_heartbeat_through_redis(server_factory):
    redis = pytest.importorskip("redis")
    parts = urlsplit(os.environ["REDIS_URL"])
    redis_url = urlunsplit(parts._replace(path="/15"))  # a database of its own; nothing else is touched
    redis.Redis.from_url(redis_url).flushdb()
    try:
        server = server_factory(REDIS_URL=redis_url)
        install(server)
        server.start()
        server.wait_until_up(path="/login/")
        assert wait_for_heartbeat(server)
        assert not (server.data_dir / "broker").exists(), "the folder broker was set up although Redis is used"
        status, family = stop_with(server, signal.SIGTERM)
        assert status == 0, server.printed()
        assert not survivors(family), "processes of serve survived it"
    finally:
        redis.Redis.from_url(redis_url).flushdb()


@pytest.mark.live
def test_refuses_to_start_with_unapplied_migrations(server_factory):
    server = server_factory()
    done = server.manage("serve", check=False)
    assert done.returncode != 0
    assert "unapplied migration" in done.stderr and "migrate" in done.stderr
    assert not server.cert.exists()


@pytest.mark.live
def test_a_port_taken_stops_the_start_and_a_dying_child_stops_everything(server_factory):
    server = server_factory()
    server.manage("migrate", "--noinput")
    # Something else holds the port: serve says which listener cannot be opened and starts nothing.
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", server.port))
        blocker.listen()
        server.start("--no-beat")
        try:
            status = server.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve kept running on a port it could not bind:\n{server.printed()}")
    assert status == 1, server.printed()
    assert f"Not started: Cannot listen on 127.0.0.1:{server.port} (ONPREM_BIND): Address already in use." in (
        server.printed()
    )

    # gunicorn itself gives up (here: an option it refuses): serve stops the others and says which died.
    server = server_factory("b", GUNICORN_CMD_ARGS="--timeout not-a-number")
    server.manage("migrate", "--noinput")
    server.start("--no-beat")
    try:
        status = server.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve kept running after gunicorn died:\n{server.printed()}")
    assert status == 1, server.printed()
    assert "The web server" in server.printed() and "exited unexpectedly" in server.printed()


# --- the command lines serve builds (no processes started) ------------------------------------
def test_children_command_lines(settings, tmp_path, monkeypatch):
    from core.tls import TLSResult
    from onprem.management.commands.serve import Command, probe_address

    settings.DATA_DIR, settings.LOG_DIR, settings.ONPREM_PORT = tmp_path, tmp_path / "logs", 9443
    settings.CELERY_BROKER_URL = "filesystem://"
    monkeypatch.delenv("ONPREM_BIND", raising=False)
    monkeypatch.setenv("ONPREM_PRODUCT_HTTPS_BIND", "")
    monkeypatch.setenv("ONPREM_PRODUCT_HTTP_BIND", "")
    monkeypatch.setenv("ONPREM_WEB_WORKERS", "3")
    monkeypatch.setenv("ONPREM_CELERY_CONCURRENCY", "4")
    # build_children points this process's environment at the metrics folder (for the children it
    # starts): restored after the test, or every later /metrics in this process would read that folder.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    tls = TLSResult(tmp_path / "tls" / "server.crt", tmp_path / "tls" / "server.key", "kept")
    web, worker, beat = Command().build_children(tls)

    def option(child, name):
        return child.argv[child.argv.index(name) + 1]

    assert web.argv[:4] == [sys.executable, "-m", "gunicorn", "onprem.wsgi:application"]
    assert option(web, "--bind") == "0.0.0.0:9443"
    assert option(web, "--workers") == "3"
    assert option(web, "--config") == "python:onprem.gunicorn_conf"  # one TLS context per worker
    assert option(web, "--certfile") == str(tls.cert_file) and option(web, "--keyfile") == str(tls.key_file)
    assert option(web, "--access-logfile") == str(tmp_path / "logs" / "access.log")
    assert option(web, "--error-logfile") == str(tmp_path / "logs" / "gunicorn.log")
    assert worker.argv[:6] == [sys.executable, "-m", "celery", "--quiet", "-A", "onprem"]
    assert worker.argv[6] == "worker" and option(worker, "--concurrency") == "4"
    assert option(worker, "--logfile") == str(tmp_path / "logs" / "worker.log")
    assert "--without-gossip" in worker.argv
    assert beat.argv[6] == "beat"
    assert option(beat, "--scheduler") == "django_celery_beat.schedulers:DatabaseScheduler"
    assert option(beat, "--pidfile") == str(tmp_path / "run" / "celerybeat.pid")
    assert option(beat, "--schedule") == str(tmp_path / "run" / "celerybeat-schedule")
    assert option(beat, "--logfile") == str(tmp_path / "logs" / "beat.log")

    # An operator's own gunicorn configuration (GUNICORN_CMD_ARGS) is not overridden by serve's.
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--config /etc/onprem/gunicorn.conf.py --timeout 60")
    (web,) = Command().build_children(tls, worker=False, beat=False)
    assert "--config" not in web.argv
    monkeypatch.delenv("GUNICORN_CMD_ARGS")

    monkeypatch.setenv("ONPREM_BIND", "127.0.0.1:8001,[::1]:8001")
    (web,) = Command().build_children(tls, worker=False, beat=False)
    assert [web.argv[i + 1] for i, arg in enumerate(web.argv) if arg == "--bind"] == ["127.0.0.1:8001", "[::1]:8001"]
    # The product listeners: https on the same gunicorn (one certificate), plain http on one of its own.
    monkeypatch.setenv("ONPREM_PRODUCT_HTTPS_BIND", "0.0.0.0:9443")
    monkeypatch.setenv("ONPREM_PRODUCT_HTTP_BIND", "0.0.0.0:8080,[::]:8080")
    monkeypatch.setenv("ONPREM_PRODUCT_HTTP_WORKERS", "1")
    web, product_http = Command().build_children(tls, worker=False, beat=False)
    assert [web.argv[i + 1] for i, arg in enumerate(web.argv) if arg == "--bind"] == [
        "127.0.0.1:8001",
        "[::1]:8001",
        "0.0.0.0:9443",
    ]
    assert product_http.name == "product HTTP server"
    assert [product_http.argv[i + 1] for i, arg in enumerate(product_http.argv) if arg == "--bind"] == [
        "0.0.0.0:8080",
        "[::]:8080",
    ]
    assert "--certfile" not in product_http.argv and "--keyfile" not in product_http.argv
    assert option(product_http, "--workers") == "1"
    assert option(product_http, "--config") == "python:onprem.gunicorn_conf"
    assert probe_address("0.0.0.0:8443") == ("127.0.0.1", 8443)
    assert probe_address("[::]:8443") == ("::1", 8443)
    assert probe_address("unix:/run/onprem.sock") is None

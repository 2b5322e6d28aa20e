"""The private Redis (cache and Celery broker) stopped under a running server: pages and device
endpoints keep answering (the system settings come from the database), /readyz says 503 naming the
cache and the broker, a mail sent meanwhile is not lost (``send_later`` sends it at once), a
synchronization asked for meanwhile waits in the database, and once Redis is back the server is
ready again, background work flows through the worker again and the waiting synchronization runs.
Also, without processes: the two fallbacks themselves."""

import json
import logging
import re
import subprocess
import sys
import time

import pytest

from tests.faults.harness import ROOT, port_in_range, run_fleet

requests = pytest.importorskip("requests")


SEND_LATER = """
from core.mail import send_later
send_later(%r, "Sent while the broker was %s.", ["ops@example.com"])
print("QUEUED")
"""


# Synchronization Now while the broker is down, for an account whose sync state exists but is not
# registered: the worker that finally runs the task answers "is not registered", which proves the
# task was handed over and run after Redis came back (a registered account would need CSSM too).
QUEUE_SYNC = """
from licensing.models import LocalAccount
from sync.models import AccountSync
from sync.tasks import queue_sync
account = LocalAccount.objects.get(name="Faults")
AccountSync.objects.get_or_create(account=account, defaults={"uid": "faults-redis-down"})
print("DISPATCHED", queue_sync(account, full=True))
print("STATUS", AccountSync.objects.get(account=account).status_message)
"""
SYNC_STATUS = """
from sync.models import AccountSync
state = AccountSync.objects.get(uid="faults-redis-down")
print("STATUS", state.status, state.status_message)
"""


def _migrate(server):
    # Not server.manage: it gives up after 120 s, too short for a full migrate on a loaded machine.
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _session(server):
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.cert)
    return session


@pytest.mark.live
@pytest.mark.faults
def test_redis_down_and_back(private_postgres, private_redis, fault_server, smtp_server, tmp_path):
    server = fault_server(
        "redis",
        DATABASE_URL=private_postgres.createdb("faults_redis_down"),
        REDIS_URL=private_redis.url,
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_server.port),
        ONPREM_SYNC_CHECK_SECONDS="5",
    )  # the scheduled-sync check every 5 s (created at migrate)
    _migrate(server)
    seeded = server.seed(max_uses=150)
    server.start()
    server.wait_until_up(timeout=180)  # a loaded machine boots gunicorn slowly
    session = _session(server)
    assert session.get(f"{server.url}/readyz", timeout=20).json()["status"] == "ready"
    # Through the worker while Redis is up: the broker path works.
    server.manage("shell", "-c", SEND_LATER % ("Before the fault", "up"))
    assert smtp_server.wait_for_subject("Before the fault"), server.printed()

    private_redis.stop()

    # Pages and device endpoints keep answering.
    assert session.get(f"{server.url}/login/", timeout=20).status_code == 200
    fleet = run_fleet(
        server,
        seeded["token"],
        devices=10,
        seed=31,
        state_dir=tmp_path / "devices",
        licenses=f"{seeded['tags']['NE']}=1",
        concurrency=4,
    )
    assert fleet["by_type"]["REGISTER"]["ok"] == 10 and fleet["failed"] == 0, json.dumps(
        {op: {k: v for k, v in row.items() if k != "latency_ms"} for op, row in fleet["by_type"].items()}
    )
    # Readiness names what is missing.
    ready = session.get(f"{server.url}/readyz", timeout=30)
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["database"] == "ok" and checks["migrations"] == "ok"
    assert checks["cache"].startswith("failed: ") and checks["broker"].startswith("failed: "), checks
    # A mail sent now is not lost: with no broker to queue it, send_later sends it at once.
    done = server.manage("shell", "-c", SEND_LATER % ("During the fault", "down"))
    assert "QUEUED" in done.stdout
    assert smtp_server.wait_for_subject("During the fault", timeout=10)
    # A synchronization asked for now waits in the database instead of being lost.
    queued = server.manage("shell", "-c", QUEUE_SYNC).stdout
    assert "DISPATCHED False" in queued and "Waiting for the task queue (unavailable)" in queued, queued
    # The worker and beat ride it out: serve still runs all three.
    assert server.proc.poll() is None, server.printed()

    private_redis.start()  # same port, empty (no persistence)
    deadline = time.monotonic() + 60
    while session.get(f"{server.url}/readyz", timeout=30).status_code != 200:
        assert time.monotonic() < deadline, "not ready again within 60 s of Redis coming back"
        time.sleep(0.5)
    # Background work flows through the (reconnected) worker again.
    server.manage("shell", "-c", SEND_LATER % ("After the fault", "back"))
    worker_log = server.data_dir / "logs" / "worker.log"
    assert smtp_server.wait_for_subject("After the fault", timeout=90), worker_log.read_text()[-3000:]
    # The synchronization that waited is handed to the worker by the next scheduled check, and runs.
    deadline = time.monotonic() + 120
    while True:
        status = server.manage("shell", "-c", SYNC_STATUS).stdout
        if "STATUS idle" in status:
            break
        assert time.monotonic() < deadline, f"the waiting synchronization never ran: {status}"
        time.sleep(2)
    assert "is not registered with Cisco Smart Software Manager" in status, status
    assert server.proc.poll() is None, server.printed()
    worker_log = (server.data_dir / "logs" / "worker.log").read_text()
    assert re.search(r"[Cc]onnect", worker_log), "the worker did not log losing the broker"


# --- the fallbacks without processes -----------------------------------------------------------
def _closed_port():
    return port_in_range()  # reserved for this session and nothing listens on it


@pytest.mark.django_db
def test_system_settings_fall_back_to_the_database_when_the_cache_fails(settings, caplog):
    from core.models import SystemSettings
    from core.system_settings import current, forget_cached

    SystemSettings.objects.create(pk=1, banner_text="From the database")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    with caplog.at_level(logging.WARNING, logger="core.system_settings"):
        assert current().banner_text == "From the database"
        forget_cached()  # no exception either
    assert "The cache is unavailable (ConnectionError)" in caplog.text


@pytest.mark.django_db
def test_send_later_sends_now_when_the_broker_is_down(caplog, mailoutbox, monkeypatch):
    # The broker refusing the task exactly as kombu does when Redis is down (the live test above
    # stops a real Redis); reconfiguring the shared Celery app here would leak into other tests.
    from kombu.exceptions import OperationalError

    from core import mail
    from core.tasks import send_mail

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(send_mail, "delay", broker_down)
    with caplog.at_level(logging.WARNING, logger="core.mail"):
        mail.send_later("Broker down", "body", ["b@example.com", "a@example.com", ""])
    assert [(m.subject, m.to) for m in mailoutbox] == [("Broker down", ["a@example.com", "b@example.com"])]
    assert "The task broker is unavailable" in caplog.text


@pytest.mark.django_db
def test_send_later_logs_a_mail_it_could_not_send_at_all(settings, caplog, monkeypatch):
    from kombu.exceptions import OperationalError

    from core import mail
    from core.tasks import send_mail

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    def smtp_down(*args, **kwargs):
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(send_mail, "delay", broker_down)
    monkeypatch.setattr(mail, "send", smtp_down)
    with caplog.at_level(logging.WARNING, logger="core.mail"):
        mail.send_later("Nowhere to go", "body", ["a@example.com"])
    assert "The mail “Nowhere to go” to 1 recipient(s) was not sent" in caplog.text

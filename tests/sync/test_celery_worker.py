"""A REAL Celery worker process (not eager) runs a scheduled synchronization.

Everything runs in separate processes against a private ONPREM_DATA_DIR: the database (SQLite
file) is migrated and seeded by ``manage.py`` commands, the broker is kombu's filesystem
transport in that directory (or Redis db 9 when REDIS_URL is set), the CSSM emulator is the
session's. The beat schedule's task (``sync.run_scheduled``) is sent as beat would send it.
"""

import os
import sys
import time
import uuid

from bench.harness import Process, manage, server_env
from tests.sync.sync_helpers import CCO_PASSWORD, CCO_USER, CISCO_VA, SMART_ACCOUNT

SETUP = """
import datetime
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from licensing.services.accounts import create_account
from sync.models import AccountSync
from sync.services.registration import register_online
account = create_account(actor=None, name={name!r}, cisco_smart_account={sa!r}, cisco_virtual_account={va!r})
register_online(account, actor=None, username={user!r}, password={password!r})
# registered 31 days ago and never synchronized: due under the default 30-day cycle
AccountSync.objects.filter(account=account).update(registered_at=timezone.now() - datetime.timedelta(days=31))
assert PeriodicTask.objects.filter(task="sync.run_scheduled", enabled=True).exists()
assert PeriodicTask.objects.filter(task="sync.purge_expired_nonces").exists()
print("ready", account.pk)
"""
STATE = """
from sync.models import AccountSync
s = AccountSync.objects.get(account__name={name!r})
print("state", s.last_sync_result or "-", s.last_sync_type or "-", s.status)
"""


def _shell(code, env):
    result = manage("shell", "-c", code, env=env, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    return result.stdout


def test_a_real_worker_runs_the_scheduled_sync(cssm, tmp_path):
    extra = {"ONPREM_CSSM_URL": cssm.url, "ONPREM_CSSM_CA_FILE": cssm.cert, "CELERY_TASK_ALWAYS_EAGER": "false"}
    env = server_env(tmp_path / "data", **extra)
    if os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = os.environ["REDIS_URL"].rsplit("/", 1)[0] + "/9"
    result = manage("migrate", "--noinput", env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    name = f"Worker {uuid.uuid4().hex[:8]}"
    assert "ready" in _shell(
        SETUP.format(name=name, sa=SMART_ACCOUNT, va=CISCO_VA, user=CCO_USER, password=CCO_PASSWORD), env
    )
    worker = Process(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "onprem",
            "worker",
            "--pool=solo",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--hostname",
            f"sync-test-{uuid.uuid4().hex[:6]}@%h",
        ],
        log=tmp_path / "worker.log",
        env=env,
        name="celery worker",
    ).start()
    try:
        _shell("from sync.tasks import run_scheduled; run_scheduled.delay()", env)
        deadline = time.monotonic() + 120
        state = ""
        while time.monotonic() < deadline:
            if not worker.running():
                break
            state = _shell(STATE.format(name=name), env)
            if "state success" in state:
                break
            time.sleep(1)
        output = worker.printed(tail=None)
        assert "state success full idle" in state, state + output[-4000:]
        assert "sync.run_scheduled" in output and "sync.synchronize_account" in output
        # the next check finds nothing due: idempotent
        assert "[]" in _shell("from sync.tasks import run_scheduled; print(run_scheduled())", env)
    finally:
        worker.stop(timeout=20)

"""kill -9 of the Celery worker in the middle of a burst of tasks: serve notices the dead child,
stops the rest and exits 1 (its designed behaviour, see serve's docstring), nothing is half-applied,
the tasks not yet run wait in the broker, and a restarted serve works them off.

Tasks are acknowledged late (CELERY_TASK_ACKS_LATE) and handed back when their pool process dies
(CELERY_TASK_REJECT_ON_WORKER_LOST): a task the dead worker had taken stays "unacked" in Redis and
is delivered again after the transport's visibility timeout; every task is idempotent."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from bench.harness import survivors
from core.child_processes import descendants
from tests.faults.harness import _parent, manage_json

pytestmark = [pytest.mark.live, pytest.mark.faults]
TASKS = 300

QUEUE = """
from licensing.tasks import recompute_alerts
for _ in range(%d):
    recompute_alerts.delay()
print("QUEUED")
"""
# The live alerts of the account, and what recomputing them from scratch now would change.
ALERTS = """
import json
from licensing.models import Alert, LocalAccount
from licensing.services.alerts import recompute_alerts
account = LocalAccount.objects.get(name="Faults")
def live():
    return sorted([a.key, a.status, a.message] for a in Alert.objects.filter(account=account).live())
before = live()
opened, cleared = recompute_alerts(account)
print("ALERTS " + json.dumps({"before": before, "after": live(), "opened": len(opened), "cleared": len(cleared)}))
"""


def _succeeded(server):
    """How many of the queued tasks have run to success, each counted once: a pool process killed
    after its task logged success but before the master acknowledged it hands the task back, and
    it runs again (at least once, never lost)."""
    log = server.data_dir / "logs" / "worker.log"
    text = log.read_text() if log.exists() else ""
    return len(set(re.findall(r"Task licensing\.recompute_alerts\[([0-9a-f-]+)\] succeeded in ", text)))


def test_kill_celery_worker_during_a_task_burst(private_postgres, private_redis, fault_server):
    server = fault_server(
        "celery",
        DATABASE_URL=private_postgres.createdb("faults_celery_kill"),
        REDIS_URL=private_redis.url,
        ONPREM_CELERY_CONCURRENCY="2",
    )
    server.manage("migrate", "--noinput")
    server.seed()
    server.start("--no-beat")
    server.wait_until_up()
    redis = private_redis.client()

    server.manage("shell", "-c", QUEUE % TASKS)
    deadline = time.monotonic() + 120
    while _succeeded(server) < 20:
        assert time.monotonic() < deadline, (server.data_dir / "logs" / "worker.log").read_text()[-3000:]
        time.sleep(0.05)
    workers = [pid for pid, cmd in server.child_pids("celery") if " worker " in cmd and _parent(pid) == server.proc.pid]
    assert len(workers) == 1, server.child_pids("celery")
    family = descendants(server.proc.pid)
    os.kill(workers[0], signal.SIGKILL)
    try:
        status = server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("serve kept running without its Celery worker:\n" + server.printed())
    done = _succeeded(server)

    assert status == 1, server.printed()
    assert f"The Celery worker (pid {workers[0]}) exited unexpectedly with signal SIGKILL" in server.printed()
    assert "stopped the others" in server.printed()
    assert not survivors(family), "processes of serve survived it"  # the web server, the dead worker's pool too

    # What was not run is still queued; what the worker had taken is unacked, not lost.
    waiting, unacked = redis.llen("celery"), redis.hlen("unacked")
    print(f"succeeded {done}, waiting {waiting}, unacked {unacked}")
    assert 0 < waiting < TASKS and unacked <= 2 * 1  # concurrency x prefetch multiplier
    # Every task is done, queued or unacked (the two in flight may be logged done and not yet acked).
    assert TASKS - 2 <= done + waiting + unacked <= TASKS + 2, (done, waiting, unacked)

    # No half-applied recompute: recomputing the alerts now, from scratch, changes nothing.
    alerts = manage_json(server, ALERTS, "ALERTS")
    assert alerts["before"] and alerts["before"] == alerts["after"], alerts
    assert alerts["opened"] == alerts["cleared"] == 0

    # A new serve on the same data dir works off the queue.
    server.log = Path(str(server.log) + ".2")
    server.start("--no-beat")
    server.wait_until_up()
    deadline = time.monotonic() + 180
    while redis.llen("celery"):
        assert time.monotonic() < deadline, f"{redis.llen('celery')} tasks still queued"
        time.sleep(0.2)
    assert server.proc.poll() is None, server.printed()


def test_kill_celery_pool_processes_hands_their_tasks_back(private_postgres, private_redis, fault_server):
    """A pool process killed under its task (out of memory, say): the worker's master replaces it,
    serve goes on, and the task is handed back to the broker and run again (acks late + reject on
    worker lost), so every queued task ends up done: none acknowledged without having run."""
    server = fault_server(
        "pool",
        DATABASE_URL=private_postgres.createdb("faults_celery_pool"),
        REDIS_URL=private_redis.url,
        ONPREM_CELERY_CONCURRENCY="2",
    )
    server.manage("migrate", "--noinput")
    server.seed()
    server.start("--no-beat")
    server.wait_until_up()
    redis = private_redis.client()
    tasks = 100

    server.manage("shell", "-c", QUEUE % tasks)
    deadline = time.monotonic() + 120
    while _succeeded(server) < 10:
        assert time.monotonic() < deadline, (server.data_dir / "logs" / "worker.log").read_text()[-3000:]
        time.sleep(0.02)
    (master,) = [
        pid for pid, cmd in server.child_pids("celery") if " worker " in cmd and _parent(pid) == server.proc.pid
    ]
    pool = descendants(master)
    assert len(pool) == 2, pool
    for pid in pool:  # both at once: with tasks back to back, at least one is running one
        os.kill(pid, signal.SIGKILL)

    deadline = time.monotonic() + 180
    while redis.llen("celery") or redis.hlen("unacked") or _succeeded(server) < tasks:
        assert server.proc.poll() is None, "serve stopped although only pool processes died:\n" + server.printed()
        assert time.monotonic() < deadline, (
            f"{_succeeded(server)} of {tasks} done, {redis.llen('celery')} queued, {redis.hlen('unacked')} unacked\n"
            + (server.data_dir / "logs" / "worker.log").read_text()[-3000:]
        )
        time.sleep(0.2)
    log = (server.data_dir / "logs" / "worker.log").read_text()
    print("\n".join(line for line in log.splitlines() if "SIGKILL" in line or "WorkerLost" in line))
    assert "exited with 'signal 9 (SIGKILL)'" in log
    assert _succeeded(server) == tasks
    assert len(descendants(master)) == 2  # replaced

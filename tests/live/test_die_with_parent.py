"""What the tests start goes when the test process goes, even by ``kill -9`` (a CI timeout): the
harness gives every server a parent-death signal, and ``manage.py serve`` gives one to gunicorn and
Celery, so no web server, worker or database is left running after the run that started it."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from bench.harness import ROOT, Installation, survivors
from core.child_processes import descendants, die_with_parent
from tests import ports

pytestmark = pytest.mark.live

# A stand-in for a pytest process: starts `manage.py serve` and a plain server through the
# harness, says so, and waits to be killed.
THROWAWAY = """
import sys, time
from pathlib import Path
from bench.harness import Installation, Process
root, port, other = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
site = Installation(root, port=port, ONPREM_HEARTBEAT_SECONDS="2")
site.start()
site.wait_until_up(timeout=120)
plain = Process([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(other)], log=root / "http.log",
                port=other).start()
plain.wait_for_port()
print("UP", flush=True)
time.sleep(600)
"""
# A stand-in for pytest-xdist: a controller starts a worker the plain way; the worker follows its
# parent (as tests/conftest.py has every xdist worker do) and starts a server through the harness.
CONTROLLER = """
import subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
time.sleep(600)
"""
WORKER = """
import signal, sys, time
from pathlib import Path
from bench.harness import Process
from core.child_processes import follow_parent
follow_parent(signal.SIGKILL)
Process([sys.executable, "-c", "import time; time.sleep(600)"], log=Path(sys.argv[1])).start()
time.sleep(600)
"""
# serve, gunicorn's master and its two workers, the Celery worker and its pool process, beat
SERVE_TREE = 7


@pytest.fixture(scope="module")
def migrated(tmp_path_factory):
    """A data dir with every migration applied, copied by each test (migrate takes a while)."""
    template = Installation(tmp_path_factory.mktemp("template"), port=ports.claim_port(ports.SERVE))
    template.manage("migrate", "--noinput")
    return template.data_dir


def _installed(migrated, root):
    shutil.copytree(migrated, root / "data")
    return root


def _whole_tree(pid, size, timeout=90):
    """The processes below ``pid`` once there are ``size`` of them (Celery forks its pool late)."""
    deadline = time.monotonic() + timeout
    while len(family := descendants(pid)) < size:
        assert time.monotonic() < deadline, f"only {len(family)} processes below {pid}"
        time.sleep(0.2)
    return family


def test_servers_die_with_the_process_that_started_them(migrated, tmp_path):
    root = _installed(migrated, tmp_path / "site")
    port, other = ports.claim_port(ports.SERVE), ports.claim_port(ports.SERVE)
    starter = subprocess.Popen(
        [sys.executable, "-c", THROWAWAY, str(root), str(port), str(other)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    family = []
    try:
        line = starter.stdout.readline()
        assert line.strip() == "UP", line + (starter.stdout.read() if starter.poll() is not None else "")
        family = _whole_tree(starter.pid, SERVE_TREE + 1)  # and the plain server
        started = time.monotonic()
        starter.kill()
        starter.wait(timeout=10)
        left = survivors(family, within=20)
        print(f"{len(family)} processes gone {time.monotonic() - started:.1f} s after the kill")
        assert not left, f"still running after their starter was killed: {left}"
    finally:
        starter.kill()
        starter.wait(timeout=10)
        for pid in survivors(family, within=0):  # what a failure left behind
            os.kill(pid, signal.SIGKILL)


def test_serve_children_die_with_serve(migrated, tmp_path):
    site = Installation(
        _installed(migrated, tmp_path / "site"), port=ports.claim_port(ports.SERVE), ONPREM_HEARTBEAT_SECONDS="2"
    )
    try:
        site.start()
        site.wait_until_up(timeout=120)
        family = _whole_tree(site.proc.pid, SERVE_TREE - 1)
        started = time.monotonic()
        site.proc.kill()  # SIGKILL: serve cannot stop anything itself
        site.proc.wait(timeout=10)
        left = survivors(family, within=20)
        print(f"{len(family)} processes gone {time.monotonic() - started:.1f} s after serve was killed")
        assert not left, f"children of serve still running after it was killed: {left}"
    finally:
        site.cleanup()


def test_an_xdist_worker_and_its_servers_go_with_the_controller(tmp_path):
    controller = subprocess.Popen(
        [sys.executable, "-c", CONTROLLER, WORKER, str(tmp_path / "server.log")],
        cwd=ROOT,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    family = []
    try:
        family = _whole_tree(controller.pid, 2, timeout=30)  # the worker and its server
        controller.kill()
        controller.wait(timeout=10)
        left = survivors(family, within=10)
        assert not left, f"still running after the controller was killed: {left}"
    finally:
        controller.kill()
        controller.wait(timeout=10)
        for pid in survivors(family, within=0):
            os.kill(pid, signal.SIGKILL)

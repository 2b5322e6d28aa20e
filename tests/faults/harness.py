"""The fault tests' harness: the real `manage.py serve` (gunicorn, Celery worker) on a PRIVATE Postgres and a
PRIVATE Redis started here, then something is killed, restarted or stopped under load.

The machine's own Postgres (5432) and Redis (6379) are shared with other people and CI: these
tests never touch them. Every server, database and Redis here listens on 127.0.0.1 on a port of
this suite's range (tests/ports.py's FAULTS) and lives in a directory under /tmp that the test
removes; each is a child process that dies with the tests (bench/harness.py).
Postgres refuses to run as root, so when the tests run as root its commands run as the
``postgres`` OS user (``runuser``). Missing binaries skip the tests with a message saying which.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from bench.harness import ROOT, Installation, Process, port_open
from core.child_processes import descendants, die_with_parent
from tests import ports

PG_BIN = Path(os.environ.get("ONPREM_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))


def port_in_range():
    """A free loopback port of this suite's range, never the same one twice in a session (a killed
    server's orphans may still hold it), nor one another test process holds (tests/ports.py)."""
    return ports.claim_port(ports.FAULTS, reuse=False)


# --- a private PostgreSQL ---------------------------------------------------------------------
class PrivatePostgres:
    """``postgres`` itself as a child process (not daemonized by pg_ctl), so it dies with the tests."""

    def __init__(self):
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (PG_BIN / tool).exists():
                pytest.skip(
                    f"PostgreSQL server binaries not found ({PG_BIN / tool}); "
                    "install postgresql-15 or set ONPREM_FAULTS_PG_BIN"
                )
        if shutil.which("createdb") is None:
            pytest.skip("the PostgreSQL client tools (createdb) are not installed")
        self.as_user, self.user = [], None
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                pytest.skip("running as root and `runuser` is missing: cannot start postgres as its own user")
            self.as_user, self.user = ["runuser", "-u", "postgres", "--"], "postgres"
        self.port = port_in_range()
        self.home = Path(tempfile.mkdtemp(prefix="onprem-faults-pg-"))
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"
        self.server = None
        if self.as_user:
            shutil.chown(self.home, "postgres", "postgres")

    def _run(self, *argv, timeout=120):
        with open(self.home / "pg_ctl.out", "a+") as out:
            start = out.seek(0, 2)
            done = subprocess.run(
                [*self.as_user, *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                cwd=self.home,
                stdin=subprocess.DEVNULL,
                preexec_fn=die_with_parent(signal.SIGKILL),
            )
            out.seek(start)
            printed = out.read()
        assert done.returncode == 0, f"{' '.join(map(str, argv))}: {printed}"
        return printed

    def init(self):
        self._run(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self):
        # SIGINT is PostgreSQL's fast shutdown: every session is cut, nothing waits for clients.
        self.server = Process(
            [
                PG_BIN / "postgres",
                "-D",
                self.data,
                "-c",
                "listen_addresses=127.0.0.1",
                "-p",
                self.port,
                "-k",
                self.home,
                "-c",
                "max_connections=200",
            ],
            log=self.log,
            cwd=self.home,
            port=self.port,
            name="postgres",
            stop_signal=signal.SIGINT,
            user=self.user,
            group=self.user,
        ).start()
        self.server.wait_until(self.ready, timeout=60, what="accept connections")

    def ready(self):
        """What ``pg_ctl -w`` waits for: the status line of postmaster.pid, and the port open."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
        except OSError:
            return False
        return len(lines) >= 8 and lines[7].strip() in ("ready", "standby") and port_open(self.port)

    def restart(self):
        """A fast shutdown, then a start: every session is cut, the server comes back on the same port."""
        self.server.stop(timeout=60)
        self.start()

    def stop(self):
        if self.server is not None:
            self.server.stop_signal = signal.SIGQUIT  # immediate shutdown
            self.server.stop(timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)

    def createdb(self, name):
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="session")
def private_postgres():
    pg = PrivatePostgres()
    try:
        pg.init().start()
        yield pg
    finally:
        pg.stop()


# --- a private Redis --------------------------------------------------------------------------
class PrivateRedis:
    def __init__(self):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            pytest.skip("redis-server is not installed")
        self.port = port_in_range()
        self.home = Path(tempfile.mkdtemp(prefix="onprem-faults-redis-"))
        self.server = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.server = Process(
            [
                self.binary,
                "--port",
                self.port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.home,
            ],
            log=self.home / "redis.log",
            port=self.port,
            name="redis-server",
        ).start()
        self.server.wait_for_port(timeout=30)
        return self

    def stop(self):
        """Stop it (SIGTERM, as an operator would) and wait until its port is closed."""
        self.server.stop(timeout=20)
        assert not port_open(self.port), f"redis-server still listens on {self.port}"

    def client(self):
        redis = pytest.importorskip("redis")
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def cleanup(self):
        if self.server is not None:
            self.server.stop(timeout=0)
        shutil.rmtree(self.home, ignore_errors=True)


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    try:
        yield server.start()
    finally:
        server.cleanup()


# --- the server under test --------------------------------------------------------------------
SEED = """
import json
from licensing.demo import seed_demo
from licensing.models import Entitlement
from licensing.services.tokens import create_token
result = seed_demo(name="Faults", product_instances=0, seed=5)
campus = next(va for va in result.virtual_accounts if va.name == "Campus")
for key in ("NE", "DE"):
    Entitlement.objects.create(virtual_account=campus, license=result.licenses[key], license_type="perpetual",
                               quantity=100000)
token = create_token(actor=None, virtual_account=campus, description="faults", max_uses=%(max_uses)d)
spare = create_token(actor=None, virtual_account=campus, description="faults retry")
print("SEEDED " + json.dumps({"token": token.token, "spare_token": spare.token,
                              "tags": {k: v.entitlement_tag for k, v in result.licenses.items()},
                              "ne_name": result.licenses["NE"].name}))
"""

# Everything the invariants look at, read through the ORM of the server's own settings.
STATE = """
import json
from django.db.models import Count, Sum
from licensing.models import DeviceIdentity, LicenseUsage, LocalAccount, ProductInstance, RegistrationToken
from licensing.services.compliance import license_positions
from core.models import Event
account = LocalAccount.objects.get(name="Faults")
tokens = {t.token: {"uses": t.uses, "max_uses": t.max_uses,
                    "pis": DeviceIdentity.objects.filter(registration_token=t).count()}
          for t in RegistrationToken.objects.filter(virtual_account__account=account)}
udis = ProductInstance.objects.filter(account=account).values("udi_pid", "udi_serial_number")
duplicates = udis.annotate(n=Count("id")).filter(n__gt=1).count()
usage = {f"{r['product_instance__virtual_account__name']}|{r['license__name']}": r["n"]
         for r in LicenseUsage.objects.filter(product_instance__account=account)
         .values("product_instance__virtual_account__name", "license__name").annotate(n=Sum("count")).order_by()}
positions = [{"va": p.virtual_account, "license": p.license, "purchased": p.purchased, "in_use": p.in_use,
              "available": p.available, "borrowed": p.borrowed, "lent": p.lent,
              "usage_rows": usage.get(f"{p.virtual_account}|{p.license}", 0)}
             for p in license_positions(account)]
events = {code: Event.objects.filter(account=account, event_type=code).count()
          for code in ("device.registered", "license.transferred", "license.transferred_one",
                       "license.transferred_in", "license.transferred_one_in")}
print("STATE " + json.dumps({"tokens": tokens, "pis": ProductInstance.objects.filter(account=account).count(),
                             "duplicates": duplicates, "positions": positions, "events": events}))
"""


def manage_json(server, script, marker):
    output = server.manage("shell", "-c", script).stdout
    line = next((line for line in output.splitlines() if line.startswith(marker + " ")), None)
    assert line, output
    return json.loads(line[len(marker) + 1 :])


class FaultServer(Installation):
    """An installation (bench/harness.py) on a port of this suite's range, with helpers to hurt it."""

    def __init__(self, root, **env):
        super().__init__(root, port=port_in_range(), **{"ONPREM_HEARTBEAT_SECONDS": "2", **env})

    def child_pids(self, needle):
        """Pids of serve's children whose command line contains ``needle`` ("gunicorn", "worker")."""
        found = []
        for pid in descendants(self.proc.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if needle in cmdline:
                found.append((pid, cmdline))
        return found

    def gunicorn_master(self):
        masters = [pid for pid, cmd in self.child_pids("gunicorn") if _parent(pid) == self.proc.pid]
        assert len(masters) == 1, self.child_pids("gunicorn")
        return masters[0]

    def gunicorn_workers(self):
        return descendants(self.gunicorn_master())

    def state(self):
        return manage_json(self, STATE, "STATE")

    def seed(self, max_uses=150):
        return manage_json(self, SEED % {"max_uses": max_uses}, "SEEDED")


def _parent(pid):
    """The parent pid, or None for a process that exited since it was listed (a killed worker)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(stat[stat.rfind(b")") + 2 :].split()[1])


@pytest.fixture
def fault_server(tmp_path):
    servers = []

    def make(name="a", **env):
        servers.append(FaultServer(tmp_path / name, **env))
        return servers[-1]

    yield make
    for server in servers:
        server.cleanup()


def run_fleet(
    server,
    token,
    *,
    devices,
    seed,
    state_dir,
    concurrency=10,
    licenses=None,
    retries=8,
    timeout=30,
    background=False,
    extra=(),
):
    """``python -m smart_agent.fleet ... --json`` as a separate process, as an operator runs it."""
    argv = [
        sys.executable,
        "-m",
        "smart_agent.fleet",
        "--server",
        server.url,
        "--ca-file",
        str(server.cert),
        "--token",
        token,
        "--devices",
        str(devices),
        "--concurrency",
        str(concurrency),
        "--seed",
        str(seed),
        "--state-dir",
        str(state_dir),
        "--retries",
        str(retries),
        "--timeout",
        str(timeout),
        "--json",
        "--quiet",
    ]
    if licenses:
        argv += ["--licenses", licenses]
    argv += list(extra)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    if background:
        return proc
    return fleet_result(proc)


def fleet_result(proc, timeout=600):
    out, err = proc.communicate(timeout=timeout)
    assert out.strip(), f"the fleet printed no summary (exit {proc.returncode}):\n{err[-3000:]}"
    return json.loads(out)

"""A pg_auto_failover cluster on loopback for the tests: a monitor and two PostgreSQL nodes
(``node_1``, ``node_2``) with synchronous replication, started by ``pg_autoctl`` exactly as
docs/operations.md has an operator start them, each in a data dir of its own under ``base_dir``.

    cluster = PgAutoFailoverCluster()         # its own dir under /tmp, ports from tests/ports.py's FAULTS
    try:
        cluster.start()                       # monitor, node_1 (primary), node_2 (secondary)
        os.environ["DATABASE_URL"] = cluster.database_url
        cluster.primary(), cluster.secondary()               # "node_1", "node_2"
        cluster.state()                       # `pg_autoctl show state --json`, parsed
        old = cluster.kill_primary()          # kill -9 of its postmaster and its keeper
        cluster.wait_for(lambda: cluster.primary() not in (None, old), timeout=90)
        cluster.restart_node(old)             # `pg_autoctl run`: it rejoins as the secondary
        cluster.wait_until_healthy(timeout=120)
    finally:
        cluster.stop()                        # every process gone, base_dir removed

The interface:

``PgAutoFailoverCluster(base_dir=None, ports=None, *, monitor_settings=None)``
    ``base_dir``: where the data dirs, logs and pg_autoctl's configuration go; it must be reachable
    by the ``postgres`` user when the tests run as root (pytest's ``tmp_path`` is not: the default,
    None, is a fresh directory under the system's temporary directory, removed by ``stop()``).
    ``ports``: ``{"monitor": p, "node_1": p, "node_2": p}``; missing ones are claimed from
    tests/ports.py's FAULTS range (never the same port twice in a session). ``monitor_settings``:
    ``pgautofailover.*`` GUCs set on the monitor before the nodes join (the failover test
    shortens nothing by default; see ``FAST_FAILOVER``).
``start()``
    ``pg_autoctl create monitor`` then ``create postgres`` for each node, all with ``--run`` as
    background processes; returns once one node is ``primary`` and the other ``secondary``.
``monitor_uri``, ``formation_uri``, ``database_url``
    The monitor's URI (``pg_autoctl show uri --formation monitor``); the formation's multi-host URI
    (``pg_autoctl show uri --formation default``: ``postgres://host:p1,host:p2/db?
    target_session_attrs=read-write&sslmode=...``); ``database_url`` is that URI with the user
    ``postgres`` and the database ``onprem`` (created on the primary by ``start()``), usable as the
    project's DATABASE_URL (onprem/settings.py parses multi-host URLs).
``state()``, ``primary()``, ``secondary()``, ``healthy()``
    The nodes' state as the monitor sees it (a list of dicts: ``nodename``, ``nodeport``,
    ``current_group_state``, ``assigned_group_state``, ``health``, ``reported_lsn``, ...); the name
    of the node whose reported *and* assigned state is ``primary`` (or ``wait_primary``: a primary
    whose secondary is gone, or ``single``) / ``secondary``, None when none is (mid-failover);
    True when the cluster is back to one primary and one secondary.
``wait_for(predicate, timeout, what=...)``, ``wait_until_healthy(timeout)``
    Polls ``predicate()`` until it is true; ``TimeoutError`` with the last state otherwise. The
    second waits for ``healthy()``, hurrying a joining node's base backup along (CHECKPOINT).
``kill_primary()``
    ``kill -9`` of the primary's postmaster and of its keeper (``pg_autoctl run``, with its
    children): the node is gone at once, as when its host loses power. Returns the node's name.
``restart_node(name)``
    ``pg_autoctl run`` for that node again; an old primary rejoins as the secondary.
``switchover()``
    ``pg_autoctl perform switchover``: the planned swap, returning once it is done.
``stop()``
    Every process down (the keepers, their postgres, the monitor), checked; ``base_dir`` removed.

PostgreSQL and pg_autoctl refuse to run as root: when the tests run as root, every command runs
as the ``postgres`` OS user, whose are the data dirs. pg_autoctl keeps its configuration and
state under XDG_CONFIG_HOME / XDG_DATA_HOME, which point into ``base_dir`` (nothing is written to
the user's home). Missing binaries skip the test with a message saying which.
"""

import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from bench.harness import Process, port_open
from core.child_processes import descendants, die_with_parent, running
from tests import ports

PG_BIN = Path(os.environ.get("ONPREM_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_AUTOCTL = os.environ.get("ONPREM_PG_AUTOCTL", "/usr/bin/pg_autoctl")
NODES = ("node_1", "node_2")
WRITABLE = ("primary", "wait_primary", "single")
DATABASE = "onprem"
# The monitor's failure detection shortened for a test that must finish in minutes: a health
# check every second, a node unhealthy after 5 s without a keeper report and a failed check, and
# a primary that does not answer taken as demoted after 5 s (pg_auto_failover's defaults: 5 s,
# 20 s, 30 s; docs/operations.md keeps the defaults and says what they cost).
FAST_FAILOVER = {
    "pgautofailover.primary_demote_timeout": "5000",
    "pgautofailover.health_check_period": "1000",
    "pgautofailover.health_check_timeout": "1000",
    "pgautofailover.health_check_max_retries": "1",
    "pgautofailover.health_check_retry_delay": "500",
    "pgautofailover.node_considered_unhealthy_timeout": "5000",
}


class PgAutoFailoverCluster:
    def __init__(self, base_dir=None, ports_=None, *, monitor_settings=None):
        for tool in ("pg_ctl", "postgres", "initdb"):
            if not (PG_BIN / tool).exists():
                pytest.skip(f"PostgreSQL server binaries not found ({PG_BIN / tool}); install postgresql-15")
        if not Path(PG_AUTOCTL).exists():
            pytest.skip(f"{PG_AUTOCTL} not found: install pg-auto-failover-cli and postgresql-15-auto-failover")
        # pytest's tmp_path is root's alone (0700): the postgres user could not reach a dir below it.
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="onprem-ha-"))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir.chmod(0o755)
        self.user = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                pytest.skip("running as root and there is no `postgres` OS user to run PostgreSQL as")
            self.user = "postgres"
            shutil.chown(self.base_dir, "postgres", "postgres")
            reachable = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(self.base_dir)])
            if reachable.returncode != 0:
                raise ValueError(f"the postgres user cannot write {self.base_dir}: pass another base_dir (or None)")
        given = dict(ports_ or {})
        self.ports = {
            name: given.get(name) or ports.claim_port(ports.FAULTS, reuse=False) for name in ("monitor", *NODES)
        }
        self.monitor_settings = dict(monitor_settings or {})
        self.env = {
            "PATH": f"{PG_BIN}:/usr/bin:/bin",
            "HOME": str(self.base_dir),
            "XDG_CONFIG_HOME": str(self.base_dir / "config"),
            "XDG_DATA_HOME": str(self.base_dir / "share"),
            "XDG_RUNTIME_DIR": str(self.base_dir / "run"),
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
        }
        self.processes = {}  # name -> Process of its `pg_autoctl run`
        self.formation_uri = None
        self.monitor_uri = None

    # --- paths and commands ---------------------------------------------------------------------
    def pgdata(self, name):
        return self.base_dir / name

    def ctl(self, *args, timeout=120, check=True):
        """``pg_autoctl <args>`` as the cluster's user; the CompletedProcess (text)."""
        done = subprocess.run(
            [PG_AUTOCTL, *map(str, args)],
            env=self.env,
            cwd=self.base_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            user=self.user,
            group=self.user,
            extra_groups=[] if self.user else None,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        if check and done.returncode != 0:
            command = " ".join(map(str, args))
            raise RuntimeError(f"pg_autoctl {command} exited {done.returncode}:\n{done.stderr[-4000:]}")
        return done

    def psql(self, port, sql, dbname="postgres"):
        done = subprocess.run(
            [
                PG_BIN / "psql",
                "-X",
                "-q",
                "-A",
                "-t",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                dbname,
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql -p {port} -c {sql!r}: {done.stderr}")
        return done.stdout.strip()

    def _launch(self, name, argv):
        """A ``pg_autoctl`` command that keeps running (``--run``, ``run``), in a process group of its own."""
        process = Process(
            [PG_AUTOCTL, *argv],
            log=self.base_dir / f"{name}.log",
            env=self.env,
            cwd=self.base_dir,
            port=self.ports[name],
            name=f"pg_autoctl {name}",
            stop_signal=signal.SIGINT,  # pg_autoctl's fast shutdown of itself and its postgres
            user=self.user,
            group=self.user,
        )
        self.processes[name] = process.start()
        if self.user:
            shutil.chown(process.log, self.user, self.user)
        return process

    # --- start --------------------------------------------------------------------------------
    def start(self, timeout=180):
        for sub in ("config", "share", "run"):
            (self.base_dir / sub).mkdir(mode=0o700, exist_ok=True)
            if self.user:
                shutil.chown(self.base_dir / sub, self.user, self.user)
        common = ["--pgctl", PG_BIN / "pg_ctl", "--hostname", "127.0.0.1", "--auth", "trust", "--no-ssl"]
        monitor = self._launch(
            "monitor",
            [
                "create",
                "monitor",
                "--pgdata",
                self.pgdata("monitor"),
                "--pgport",
                self.ports["monitor"],
                "--listen",
                "127.0.0.1",
                *common,
                "--run",
            ],
        )
        monitor.wait_until(
            lambda: self._accepts(self.ports["monitor"], "pg_auto_failover"), timeout=timeout, what="run the monitor"
        )
        for key, value in self.monitor_settings.items():
            self.psql(self.ports["monitor"], f"ALTER SYSTEM SET {key} = '{value}'")
        if self.monitor_settings:
            self.psql(self.ports["monitor"], "SELECT pg_reload_conf()")
        shown = self.ctl("show", "uri", "--pgdata", self.pgdata("monitor"), "--formation", "monitor")
        self.monitor_uri = shown.stdout.strip()
        for name in NODES:
            process = self._launch(
                name,
                [
                    "create",
                    "postgres",
                    "--pgdata",
                    self.pgdata(name),
                    "--pgport",
                    self.ports[name],
                    "--name",
                    name,
                    "--listen",
                    "127.0.0.1",
                    "--dbname",
                    DATABASE,
                    "--monitor",
                    self.monitor_uri,
                    *common,
                    "--run",
                ],
            )
            # Alone, the first node is "single"; the second joins as "secondary" (the first then "primary").
            wanted = "single" if name == NODES[0] else "secondary"
            self.wait_for(
                lambda name=name, wanted=wanted: self._node_state(name) == wanted,
                timeout=timeout,
                what=f"{name} to become {wanted}",
                process=process,
                meanwhile=self._checkpoint,
            )
        self.wait_until_healthy(timeout)
        self.formation_uri = self.ctl(
            "show", "uri", "--pgdata", self.pgdata("monitor"), "--formation", "default"
        ).stdout.strip()
        return self

    def _checkpoint(self):
        """An immediate CHECKPOINT on the writable node; True. A joining node's pg_basebackup (which
        pg_autoctl runs without --checkpoint=fast) waits for a spread checkpoint first: minutes on
        a busy machine, unless an immediate one speeds it up."""
        for node in self.state():
            if node.get("current_group_state") in WRITABLE:
                try:
                    self.psql(node["nodeport"], "CHECKPOINT")
                except RuntimeError:
                    pass

    def _accepts(self, port, dbname):
        if not port_open(port):
            return False
        try:
            self.psql(port, "SELECT 1", dbname=dbname)
        except RuntimeError:
            return False
        return True

    @property
    def database_url(self):
        """The formation URI with the ``postgres`` user: the web nodes' DATABASE_URL."""
        assert self.formation_uri, "start() the cluster first"
        return self.formation_uri.replace("postgres://", "postgres://postgres@", 1)

    # --- state --------------------------------------------------------------------------------
    def state(self):
        """``pg_autoctl show state --json`` as the monitor sees it: one dict per node."""
        done = self.ctl("show", "state", "--pgdata", self.pgdata("monitor"), "--json", timeout=30, check=False)
        if done.returncode != 0:
            return []
        try:
            return json.loads(done.stdout)
        except ValueError:
            return []

    def _node_state(self, name):
        for node in self.state():
            if node.get("nodename") == name:
                if node.get("current_group_state") == node.get("assigned_group_state"):
                    return node.get("current_group_state")
                return f"{node.get('current_group_state')}->{node.get('assigned_group_state')}"
        return None

    def _named(self, *wanted):
        names = [
            node["nodename"]
            for node in self.state()
            if node.get("current_group_state") in wanted
            and node.get("assigned_group_state") == node.get("current_group_state")
        ]
        return names[0] if len(names) == 1 else None

    def primary(self):
        """The node that takes writes: ``primary``, or ``wait_primary`` (a primary whose secondary is
        gone, writing without waiting for it) or ``single``; None while there is none (a failover)."""
        return self._named(*WRITABLE)

    def secondary(self):
        return self._named("secondary")

    def healthy(self):
        """One primary and one secondary (synchronous replication on), both as reported and assigned."""
        primary, secondary = self._named("primary"), self.secondary()
        return primary is not None and secondary is not None and primary != secondary

    def wait_for(self, predicate, timeout=120, *, what="the cluster state", process=None, meanwhile=None):
        """Return once ``predicate()`` is true (polled every 0.25 s; ``meanwhile()`` every 2 s)."""
        deadline = time.monotonic() + timeout
        next_meanwhile = time.monotonic() + 2
        while True:
            if predicate():
                return
            if process is not None and not process.running():
                raise RuntimeError(f"{process.name} exited while waiting for {what}:\n{process.printed()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"waited {timeout} s for {what}; state: {json.dumps(self.state(), indent=1)}")
            if meanwhile is not None and time.monotonic() > next_meanwhile:
                meanwhile()
                next_meanwhile = time.monotonic() + 2
            time.sleep(0.25)

    def wait_until_healthy(self, timeout=180):
        """Wait for one primary and one secondary (a node joining or rejoining: its base backup's
        checkpoint hurried along)."""
        self.wait_for(self.healthy, timeout, what="one primary and one secondary", meanwhile=self._checkpoint)

    def port_of(self, name):
        return self.ports[name]

    # --- faults -------------------------------------------------------------------------------
    def postmaster_pid(self, name):
        try:
            return int((self.pgdata(name) / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    def kill_primary(self):
        """kill -9 of the primary's postmaster and its keeper, at once; the node's name."""
        name = self.primary()
        assert name, f"no primary to kill: {self.state()}"
        self.kill_node(name)
        return name

    def kill_node(self, name):
        process = self.processes[name]
        postmaster = self.postmaster_pid(name)
        family = process.family()
        if postmaster:
            family += [postmaster, *descendants(postmaster)]
        for pid in dict.fromkeys(family):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        process.proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(running(pid) for pid in family) and time.monotonic() < deadline:
            time.sleep(0.05)

    def switchover(self, wait=120):
        """``pg_autoctl perform switchover``: the planned swap of primary and secondary (maintenance
        of the primary's host); returns once it is done."""
        self.ctl("perform", "switchover", "--pgdata", self.pgdata("monitor"), "--wait", wait, timeout=wait + 30)

    def restart_node(self, name):
        """``pg_autoctl run`` of a stopped or killed node: it rejoins (an old primary as the secondary)."""
        old = self.processes.get(name)
        if old is not None:
            old.stop(timeout=0)
        return self._launch(name, ["run", "--pgdata", self.pgdata(name)])

    # --- stop ---------------------------------------------------------------------------------
    def stop(self):
        """Every keeper and every postgres of the cluster down, then ``base_dir`` removed."""
        left = []
        for name in (*NODES, "monitor"):
            process = self.processes.get(name)
            if process is not None:
                process.stop(timeout=30)
            postmaster = self.postmaster_pid(name)
            if postmaster and running(postmaster):
                # A postgres whose keeper was killed outlives it (it is not the keeper's child any more).
                for pid in (postmaster, *descendants(postmaster)):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 10
                while running(postmaster) and time.monotonic() < deadline:
                    time.sleep(0.05)
                if running(postmaster):
                    left.append((name, postmaster))
        shutil.rmtree(self.base_dir, ignore_errors=True)
        assert not left, f"postgres processes still running after stop(): {left}"

"""High availability as docs/operations.md sets it up, with real processes on loopback: a PRIVATE
PostgreSQL primary and a streaming standby (``pg_basebackup -R``; tests/faults/harness.py's
PrivatePostgres, never the machine's own Postgres), a TCP forwarder standing in for the virtual IP
that ``DATABASE_URL`` points at, a private Redis, and two web nodes (``serve`` and
``serve --no-beat``) sharing ``SECRET_KEY``, ``ONPREM_FIELD_KEYS`` and the TLS certificate.

What it proves, then the failover it runs: docs/operations.md, "High availability".
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest
from cryptography.fernet import Fernet

from tests.faults.harness import PG_BIN, ROOT, FaultServer, PrivatePostgres, PrivateRedis, port_in_range, run_fleet
from tests.faults.invariants import assert_invariants

requests = pytest.importorskip("requests")
pytestmark = [pytest.mark.live, pytest.mark.faults]
PASSWORD = "Ha-Nodes-Correct-42"
MANAGE = [sys.executable, str(ROOT / "manage.py")]


class Forwarder(threading.Thread):
    """127.0.0.1:port -> 127.0.0.1:target; ``switch`` cuts every connection and points at a new target,
    as a virtual IP moving to the promoted standby does."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.target = target
        self.port = port_in_range()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.lock = threading.Lock()
        self.open = []

    def run(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def switch(self, target):
        with self.lock:
            self.target = target
            for sock in self.open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass
            self.open = []

    def close(self):
        self.listener.close()
        self.switch(self.target)


def _psql(pg, sql, database="onprem_ha"):
    done = subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d", database, "-At", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def _session(server):
    session = requests.Session()
    session.trust_env = False
    session.verify = str(server.cert)
    return session


QUEUE_BURST = """
from licensing.tasks import recompute_alerts
for _ in range(24):
    recompute_alerts.delay()
"""


def _succeeded(server):
    log = server.data_dir / "logs" / "worker.log"
    text = log.read_text() if log.exists() else ""
    return len(re.findall(r"Task licensing\.recompute_alerts\[[0-9a-f-]+\] succeeded in ", text))


def _agent(server, state_dir, *args):
    """The reference agent's CLI (``python -m smart_agent``) as a device's operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "smart_agent",
            "--server",
            server.url,
            "--ca-file",
            str(server.cert),
            "--state-dir",
            str(state_dir),
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _sign_in(session, server, username):
    page = session.get(f"{server.url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    done = session.post(
        f"{server.url}/login/",
        data={"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD},
        headers={"Referer": f"{server.url}/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert done.status_code == 302, done.text[:2000]


MAKE_ADMIN = f"""
from accounts.roles import SystemRole
from django.contrib.auth import get_user_model
user = get_user_model()(username="hadmin", system_role=SystemRole.ADMIN, needs_first_login_wizard=False,
                        email="hadmin@example.com")
user.set_password({PASSWORD!r})
user.save()
"""
SAVE_SECRET = """
from core.system_settings import update
update("email", actor=None, smtp_host="mail.example.com", smtp_port=25, smtp_helo_domain="example.com",
       smtp_from="ssm@example.com", smtp_auth_required=True, smtp_username="mailer", smtp_starttls=False,
       smtp_password="node-a-secret-7")
"""
READ_SECRET = """
from core import crypto
from core.models import SystemSettings
print("SECRET", crypto.decrypt(SystemSettings.objects.get().smtp_password))
"""
CLUSTER = """
from admin_widgets.ha.replication import cluster_status
cluster = cluster_status()
print("CLUSTER", cluster and cluster.role, cluster and cluster.status, cluster and [p.state for p in cluster.peers])
"""


@pytest.fixture
def cluster(tmp_path):
    primary, standby, redis, forwarder = PrivatePostgres(), PrivatePostgres(), PrivateRedis(), None
    try:
        primary.init().start()
        # The standby: a base backup of the primary with the replication settings written (-R).
        standby._run(
            PG_BIN / "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            standby.data,
            "-R",
            "-X",
            "stream",
            "--no-sync",
            "-c",
            "fast",
        )
        standby.start()
        forwarder = Forwarder(primary.port)
        forwarder.start()
        redis.start()
        yield primary, standby, forwarder, redis
    finally:
        if forwarder is not None:
            forwarder.close()
        redis.cleanup()
        for pg in (standby, primary):
            pg.stop()


def test_two_web_nodes_on_a_replicated_database_and_a_failover(cluster, tmp_path):
    primary, standby, forwarder, redis = cluster
    subprocess.run(
        ["createdb", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "onprem_ha"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    shared = dict(
        DATABASE_URL=f"postgres://postgres@127.0.0.1:{forwarder.port}/onprem_ha",
        REDIS_URL=redis.url,
        SECRET_KEY="ha-test-" + "k" * 50,
        ONPREM_FIELD_KEYS=Fernet.generate_key().decode(),
        ONPREM_WEB_WORKERS="2",
        DB_CONN_MAX_AGE="60",
    )
    nodes = []
    try:
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            nodes.append(FaultServer(tmp_path / name, **shared))
        a, b = nodes
        # once, from one node (its own call: Server.manage gives up after 120 s, short on a loaded machine)
        migrated = subprocess.run(
            [*MANAGE, "migrate", "--noinput"], cwd=ROOT, env=a.env, capture_output=True, text=True, timeout=900
        )
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        seeded = a.seed(max_uses=100)
        a.manage("shell", "-c", MAKE_ADMIN)
        a.manage("ensure_tls")
        shutil.copytree(a.data_dir / "tls", b.data_dir / "tls")  # every node serves the same certificate
        a.start()  # web, worker and beat
        b.start("--no-beat")  # web and worker
        a.wait_until_up(timeout=120)
        b.wait_until_up(timeout=120)

        # One beat for the installation: only on the node started without --no-beat.
        assert a.child_pids("onprem beat "), a.child_pids("")
        assert not b.child_pids("onprem beat "), b.child_pids("")
        assert a.child_pids("onprem worker ") and b.child_pids("onprem worker ")
        for node in nodes:
            assert _session(node).get(f"{node.url}/readyz", timeout=30).json()["status"] == "ready"

        # A session made on node A is valid on node B (same SECRET_KEY, sessions in the database).
        browser = _session(a)
        _sign_in(browser, a, "hadmin")
        on_b = browser.get(f"{b.url}/admin/", allow_redirects=False, timeout=30)
        assert on_b.status_code == 200, (on_b.status_code, on_b.headers.get("Location"))

        # A secret saved through node A's database is read by node B (same field keys).
        a.manage("shell", "-c", SAVE_SECRET)
        assert "SECRET node-a-secret-7" in b.manage("shell", "-c", READ_SECRET).stdout

        # The High Availability widget: this database is the primary, its standby streams.
        assert "CLUSTER primary healthy ['streaming']" in a.manage("shell", "-c", CLUSTER).stdout
        widget = browser.get(f"{b.url}/admin/ha/", timeout=30)
        assert widget.status_code == 200
        assert "Data is being replicated between the hosts." in widget.text and "streaming" in widget.text
        # ... and a node whose DATABASE_URL is the standby itself sees a standby receiving from its primary.
        on_standby = dict(a.env, DATABASE_URL=f"postgres://postgres@127.0.0.1:{standby.port}/onprem_ha")
        seen = subprocess.run(
            [*MANAGE, "shell", "-c", CLUSTER], cwd=ROOT, env=on_standby, capture_output=True, text=True, timeout=120
        )
        assert "CLUSTER standby healthy ['streaming']" in seen.stdout, seen.stdout + seen.stderr

        # Devices registered through node A keep working through node B (same database, same CA).
        states = tmp_path / "devices"
        licenses = f"{seeded['tags']['NE']}=1"
        first = run_fleet(a, seeded["token"], devices=12, seed=41, state_dir=states, licenses=licenses, concurrency=4)
        assert first["by_type"]["REGISTER"]["ok"] == 12 and first["failed"] == 0, first
        # One device registered through node A talks to node B, signing with the certificate A issued.
        switch = tmp_path / "switch"
        ne = seeded["tags"]["NE"]
        register = _agent(
            a, switch, "--pid", "C9300-24T", "--serial", "FOCHA000001", "register", "--token", seeded["token"]
        )
        assert register.returncode == 0, register.stderr
        on_b = _agent(b, switch, "authorize", f"{ne}=2")
        assert on_b.returncode == 0 and f"AUTHORIZED: {ne} x2" in on_b.stdout, on_b.stderr
        assert _agent(b, switch, "report").stdout.startswith("ACK: report ")
        before = a.state()
        assert before["pis"] == 13
        assert_invariants(before, registered_ok=13)
        # The nodes' workers share the Redis queue: a burst queued from one node is worked by both.
        done_a, done_b = _succeeded(a), _succeeded(b)  # beat's own first run may be among them
        b.manage("shell", "-c", QUEUE_BURST)
        _wait(lambda: _succeeded(a) + _succeeded(b) >= done_a + done_b + 24, 240, "the burst of 24 tasks")
        assert _succeeded(a) > done_a and _succeeded(b) > done_b, (done_a, done_b, _succeeded(a), _succeeded(b))

        # The standby has it all (streaming replication, asynchronous: wait for the replay).
        _wait(
            lambda: _psql(standby, "SELECT count(*) FROM licensing_productinstance") == "13",
            60,
            "the standby to replay the registrations",
        )

        # Failover: the primary dies, the standby is promoted, the "virtual IP" moves to it.
        subprocess.run(
            [*primary.as_user, PG_BIN / "pg_ctl", "-D", primary.data, "-m", "immediate", "-w", "stop"],
            check=True,
            capture_output=True,
            timeout=60,
            cwd=primary.home,
        )
        standby._run(PG_BIN / "pg_ctl", "-D", standby.data, "-w", "promote")
        forwarder.switch(standby.port)
        promoted_at = time.monotonic()
        for node in nodes:  # neither node is restarted: each reconnects by itself
            _wait(
                lambda node=node: _session(node).get(f"{node.url}/readyz", timeout=30).status_code == 200,
                60,
                f"node {node.url} to be ready on the promoted standby",
            )
        recovered_in = time.monotonic() - promoted_at
        print(f"both nodes ready {recovered_in:.1f} s after the promotion")
        assert a.proc.poll() is None and b.proc.poll() is None

        after = a.state()
        assert after["pis"] == before["pis"] and after["tokens"] == before["tokens"]
        assert after["positions"] == before["positions"]
        # The promoted database takes writes: more devices register, through node B.
        more = run_fleet(
            b, seeded["token"], devices=6, seed=42, state_dir=tmp_path / "more", licenses=licenses, concurrency=3
        )
        assert more["by_type"]["REGISTER"]["ok"] == 6 and more["failed"] == 0, more
        final = b.state()
        assert final["pis"] == 19
        assert_invariants(final, registered_ok=19)
        # The device of before the failover goes on through node A, now on the promoted database.
        on_a = _agent(a, switch, "authorize", f"{ne}=1")
        assert on_a.returncode == 0 and f"AUTHORIZED: {ne} x1" in on_a.stdout, on_a.stderr
        # The old session still works on both nodes (sessions were replicated too).
        assert browser.get(f"{a.url}/admin/", allow_redirects=False, timeout=30).status_code == 200
        # Now a primary without standbys: no cluster, so the widget is gone (as on a lone database).
        assert "CLUSTER None None None" in b.manage("shell", "-c", CLUSTER).stdout
        print(json.dumps({"first": first["by_type"]["REGISTER"], "more": more["by_type"]["REGISTER"]}))
    finally:
        for node in nodes:
            node.cleanup()

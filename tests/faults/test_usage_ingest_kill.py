"""Lossless usage ingest: kill -9 the gunicorn worker serving a REPORT_USAGE (a) inside its
transaction, before the commit, and (b) after the commit, before the reply reaches the device;
the reference agent then resends the same reports byte-for-byte and the server counts each
exactly once. And a replay after a fail-over: the same report sent to a second web node on the
same database is a DUPLICATE, also when both nodes get it at the same moment.

Real processes on loopback (`manage.py serve` on a private PostgreSQL, the real
`python -m smart_agent`); how each moment is reached without a hook in the product:
docs/reliability.md, "Lossless usage ingest".
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.child_processes import die_with_parent
from tests.faults.invariants import assert_invariants

psycopg2 = pytest.importorskip("psycopg2")
from cryptography.fernet import Fernet  # noqa: E402

pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
HOLD_CONFIG = Path(__file__).with_name("gunicorn_reply_hold.py")
PID, SERIAL = "C9300-24T", "FOC2412X0UI"
EXIT_TRANSPORT = 4  # smart_agent's exit code when the server could not be reached / cut the exchange

# The agent library's own resend of what it has not had acknowledged, and nothing new: report({}).
RESEND = """
import json, sys
from smart_agent.agent import Agent
agent = Agent(sys.argv[1], sys.argv[2], ca_file=sys.argv[3], timeout=60)
print(json.dumps(agent.report({})))
"""


# --- the device ---------------------------------------------------------------------------------
def _agent_env():
    return {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}


class Device:
    """One product instance: the smart_agent command line (and its library for a bare resend)."""

    def __init__(self, state_dir, ca_file):
        self.state_dir, self.ca_file = Path(state_dir), str(ca_file)

    def _argv(self, server, *args):
        return [
            sys.executable,
            "-m",
            "smart_agent",
            "--server",
            server.url,
            "--ca-file",
            self.ca_file,
            "--state-dir",
            str(self.state_dir),
            "--timeout",
            "60",
            "--json",
            *args,
        ]

    def run(self, server, *args):
        """One command to its end; returns the reply payload it prints (--json)."""
        done = subprocess.run(
            self._argv(server, *args),
            cwd=ROOT,
            env=_agent_env(),
            capture_output=True,
            text=True,
            timeout=180,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, f"smart_agent {' '.join(args)}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        return json.loads(done.stdout)

    def start(self, server, *args):
        return subprocess.Popen(
            self._argv(server, *args),
            cwd=ROOT,
            env=_agent_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )

    def start_resend(self, server):
        return subprocess.Popen(
            [sys.executable, "-c", RESEND, server.url, str(self.state_dir), self.ca_file],
            cwd=ROOT,
            env=_agent_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )

    def resend(self, server):
        return finished(self.start_resend(server))

    def state(self):
        return json.loads((self.state_dir / "state.json").read_text())

    def pending(self):
        """{report id: the report exactly as kept for resending}"""
        return {json.loads(r["payload"])["report_id"]: r for r in self.state().get("pending_reports", [])}

    def copy(self, to):
        shutil.copytree(self.state_dir, to)
        return Device(to, self.ca_file)


def finished(proc, timeout=180):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"the agent failed (exit {proc.returncode}):\n{out}{err}"
    return json.loads(out)


def cut_off(proc, timeout=60):
    """The agent whose exchange the kill cut: it says so and exits with the transport error."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == EXIT_TRANSPORT, f"exit {proc.returncode}:\n{out}{err}"
    return err


def acks(payload):
    return {a["report_id"]: a["status"] for a in payload["acks"]}


def usage_of(report):
    return {line["tag"]: line["count"] for line in json.loads(report["payload"])["usage"]}


# --- the database, from outside ------------------------------------------------------------------
class Database:
    def __init__(self, pg, name):
        self.params = dict(host="127.0.0.1", port=pg.port, user="postgres", dbname=name)
        self.watch = psycopg2.connect(**self.params)
        self.watch.autocommit = True  # every read a fresh snapshot (pg_stat_activity included)

    def rows(self, sql, *params):
        with self.watch.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def lock(self, table):
        """A transaction holding ``table`` in SHARE mode (reads pass, INSERT/UPDATE wait); rollback() ends it."""
        conn = psycopg2.connect(**self.params)
        with conn.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN SHARE MODE")
        return conn

    def waiting(self, query_like=None, timeout=60, proc=None, *, table=None, exclude=()):
        """The backend (pid, client port) whose statement (``LIKE query_like``) waits on a lock, or
        (``table``) that waits for a lock on that table, whatever its statement's text: the hot
        path's statements are prepared and show as ``EXECUTE onprem_…`` (licensing/services/prepared.py).
        A wait for a row lock is a wait for the holder's transaction, on no table: find it by
        ``query_like="%"``, leaving out (``exclude``) the backends already known to wait."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if table is not None:
                found = self.rows(
                    "SELECT DISTINCT a.pid, a.client_port FROM pg_stat_activity a JOIN pg_locks l "
                    "ON l.pid = a.pid WHERE a.datname = current_database() AND NOT l.granted "
                    "AND l.relation = %s::regclass",
                    table,
                )
            else:
                found = self.rows(
                    "SELECT pid, client_port FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query LIKE %s AND NOT (pid = ANY(%s))",
                    query_like,
                    list(exclude),
                )
            if found:
                assert len(found) == 1, found
                return found[0]
            if proc is not None and proc.poll() is not None:
                pytest.fail("the agent finished before its message reached the lock: " + "".join(proc.communicate()))
            time.sleep(0.05)
        pytest.fail(f"no backend waited on a lock with {query_like!r} within {timeout} s")

    def holds(self, backend, table, mode="RowExclusiveLock"):
        return bool(
            self.rows(
                "SELECT 1 FROM pg_locks WHERE pid = %s AND relation = %s::regclass AND mode = %s AND granted",
                backend,
                table,
                mode,
            )
        )

    def gone(self, backend, timeout=30):
        deadline = time.monotonic() + timeout
        while self.rows("SELECT 1 FROM pg_stat_activity WHERE pid = %s", backend):
            assert time.monotonic() < deadline, f"backend {backend} still there after {timeout} s"
            time.sleep(0.05)

    def ledger(self):
        """What the ingest wrote for the device: reports, usage, events, nonces."""
        reports = self.rows(
            "SELECT r.report_id, r.payload FROM licensing_rumreport r JOIN licensing_productinstance p "
            "ON p.id = r.product_instance_id WHERE p.udi_serial_number = %s ORDER BY r.id",
            SERIAL,
        )
        usage = dict(
            self.rows(
                "SELECT l.entitlement_tag, u.count FROM licensing_licenseusage u JOIN licensing_licensedefinition l "
                "ON l.id = u.license_id JOIN licensing_productinstance p ON p.id = u.product_instance_id "
                "WHERE p.udi_serial_number = %s",
                SERIAL,
            )
        )
        events = [
            int(re.search(r": (\d+) new report", m).group(1))
            for (m,) in self.rows(
                "SELECT message FROM onprem_event WHERE event_type = 'device.usage_reported' ORDER BY id"
            )
        ]
        return {
            "reports": [rid for rid, _ in reports],
            "payloads": dict(reports),
            "usage": usage,
            "events": events,
            "nonces": self.rows("SELECT count(*) FROM licensing_devicenonce")[0][0],
        }

    def close(self):
        self.watch.close()


def assert_exactly_once(ledger, device):
    """One row per report id, each the device's bytes, and one counted report per event."""
    assert len(ledger["reports"]) == len(set(ledger["reports"])), ledger["reports"]
    assert sum(ledger["events"]) == len(ledger["reports"]), (ledger["events"], ledger["reports"])
    assert device.pending() == {}, "the agent still holds unacknowledged reports"


# --- the server ----------------------------------------------------------------------------------
def _pid_with_local_port(pids, port):
    """Which of ``pids`` owns the TCP socket bound to local ``port`` (a worker's database connection)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    owners = []
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        if inodes & set(links):
            owners.append(pid)
    assert len(owners) == 1, (port, pids, owners)
    return owners[0]


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def kill_worker(server, pid):
    workers = server.gunicorn_workers()
    assert pid in workers, (pid, workers)
    os.kill(pid, signal.SIGKILL)
    _wait_for(
        lambda: pid not in server.gunicorn_workers() and len(server.gunicorn_workers()) == len(workers),
        60,
        "the master to replace the killed worker",
    )


class Hold:
    """The test side of tests/faults/gunicorn_reply_hold.py."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir()

    def env(self):
        return {"GUNICORN_CMD_ARGS": f"--config {HOLD_CONFIG}", "ONPREM_FAULTS_HOLD_DIR": str(self.dir)}

    def arm(self, reply_type="REPORT_USAGE_RESPONSE"):
        for name in ("held.json", "release"):
            (self.dir / name).unlink(missing_ok=True)
        (self.dir / "arm").write_text(reply_type)

    def held(self, proc, timeout=60):
        note = self.dir / "held.json"
        deadline = time.monotonic() + timeout
        while not note.exists():
            if proc.poll() is not None:
                pytest.fail("the agent finished, nothing was held: " + "".join(proc.communicate()))
            assert time.monotonic() < deadline, "no reply was held"
            time.sleep(0.05)
        return json.loads(note.read_text())


def make_node(fault_server, name, database_url, shared, **extra):
    return fault_server(name, DATABASE_URL=database_url, ONPREM_WEB_WORKERS="2", **shared, **extra)


def serve(server):
    server.start("--no-worker", "--no-beat")
    server.wait_until_up()
    return server


def _shared_secrets():
    # What two nodes of an HA pair share: the signing secrets and the keys of the secrets at rest
    # (the account CAs' private keys are stored encrypted with them).
    return {
        "SECRET_KEY": "faults-usage-" + Fernet.generate_key().decode(),
        "ONPREM_FIELD_KEYS": Fernet.generate_key().decode(),
    }


# --- the tests -----------------------------------------------------------------------------------
def test_kill_worker_before_and_after_commit_of_a_usage_report(private_postgres, fault_server, tmp_path):
    hold = Hold(tmp_path / "hold")
    server = make_node(
        fault_server, "node", private_postgres.createdb("faults_usage_kill"), _shared_secrets(), **hold.env()
    )
    device = Device(tmp_path / "device", server.cert)
    db = None
    try:
        server.manage("migrate", "--noinput")
        seeded = server.seed(max_uses=10)
        tags = seeded["tags"]
        serve(server)
        db = Database(private_postgres, "faults_usage_kill")
        device.run(server, "--pid", PID, "--serial", SERIAL, "register", "--token", seeded["token"])
        device.run(server, "authorize", f"{tags['NE']}=3", f"{tags['DE']}=1")
        before = db.ledger()
        assert before["reports"] == [] and before["usage"] == {tags["NE"]: 3, tags["DE"]: 1}

        # (a) Received, inside the transaction, not committed: the report's INSERT waits on our lock,
        #     the message's nonce is already written in the same transaction.
        lock = db.lock("licensing_rumreport")
        agent = device.start(server, "report", f"{tags['NE']}=5", f"{tags['DE']}=1")
        backend, client_port = db.waiting(table="licensing_rumreport", proc=agent)
        assert db.holds(backend, "licensing_devicenonce"), "the nonce is not in the report's transaction"
        # The device's row is locked in the report's transaction: written (RowExclusiveLock) when its
        # last contact moves by more than ONPREM_CONTACT_WRITE_SECONDS, else only locked FOR NO KEY
        # UPDATE (RowShareLock) — seconds after the AUTHORIZE above, the latter.
        assert db.holds(backend, "licensing_productinstance", mode="RowShareLock") or db.holds(
            backend, "licensing_productinstance"
        ), "the device's row is not locked in the report's transaction"
        (report_a,) = device.pending().values()  # kept by the agent before it sent it
        kill_worker(server, _pid_with_local_port(server.gunicorn_workers(), client_port))
        cut_off(agent)
        lock.rollback()
        lock.close()
        db.gone(backend)  # its client gone, the backend rolled back and exited once it got the lock
        after_a = db.ledger()
        assert after_a == before, "a transaction whose worker died before the commit left something behind"
        rid_a = json.loads(report_a["payload"])["report_id"]
        assert device.pending() == {rid_a: report_a}

        # The agent resends it, byte-for-byte: never counted, so ACK now, and counted once.
        assert acks(device.resend(server)) == {rid_a: "ACK"}
        retried_a = db.ledger()
        assert retried_a["reports"] == [rid_a] and retried_a["payloads"][rid_a] == report_a["payload"]
        assert retried_a["usage"] == usage_of(report_a) == {tags["NE"]: 5, tags["DE"]: 1}
        assert retried_a["events"] == [1]
        assert retried_a["nonces"] == before["nonces"] + 1
        assert_exactly_once(retried_a, device)

        # (b) Committed, reply not yet written: the worker holds the signed ACK when it dies.
        hold.arm()
        agent = device.start(server, "report", f"{tags['NE']}=6", f"{tags['DE']}=2")
        held = hold.held(agent)
        (report_b,) = device.pending().values()
        rid_b = json.loads(report_b["payload"])["report_id"]
        assert acks(json.loads(json.loads(held["reply"])["payload"])) == {rid_b: "ACK"}  # what the device missed
        counted = db.ledger()  # committed and visible to everyone while the device still waits
        assert counted["reports"] == [rid_a, rid_b] and counted["usage"] == {tags["NE"]: 6, tags["DE"]: 2}
        assert counted["events"] == [1, 1]
        assert agent.poll() is None, "the device got an answer: the hold did not hold"
        kill_worker(server, held["pid"])
        cut_off(agent)
        assert device.pending() == {rid_b: report_b}, "the agent dropped a report it never saw acknowledged"

        # Meanwhile the device's licensing changes (AUTHORIZE sets usage too): if the resent report
        # were applied again, its old counts would come back.
        device.run(server, "authorize", f"{tags['NE']}=2", f"{tags['DE']}=1")
        assert device.pending() == {rid_b: report_b}  # AUTHORIZE does not touch pending reports
        assert acks(device.resend(server)) == {rid_b: "DUPLICATE"}
        final = db.ledger()
        assert final["reports"] == [rid_a, rid_b] and final["payloads"][rid_b] == report_b["payload"]
        assert final["usage"] == {tags["NE"]: 2, tags["DE"]: 1}, "the duplicate was applied again"
        assert final["events"] == [1, 1], "the duplicate was logged as a new report"
        assert_exactly_once(final, device)
        assert server.proc.poll() is None, "serve died with its worker:\n" + server.printed()
        assert_invariants(server.state(), registered_ok=1)
    finally:
        if db is not None:
            db.close()


def test_replay_after_failover_to_a_second_web_node(private_postgres, fault_server, tmp_path):
    database = private_postgres.createdb("faults_usage_failover")
    shared = _shared_secrets()
    hold = Hold(tmp_path / "hold")
    node_a = make_node(fault_server, "node-a", database, shared, **hold.env())
    device = Device(tmp_path / "device", node_a.cert)
    db = None
    try:
        node_a.manage("migrate", "--noinput")
        seeded = node_a.seed(max_uses=10)
        tags = seeded["tags"]
        serve(node_a)
        # Node B: its own process, port and data dir, the same database, the same certificate
        # (an HA pair answers under one name), the same secrets.
        node_b = make_node(
            fault_server,
            "node-b",
            database,
            shared,
            ONPREM_TLS_CERT=str(node_a.cert),
            ONPREM_TLS_KEY=str(node_a.cert.with_name("server.key")),
        )
        node_b.cert = node_a.cert
        serve(node_b)
        db = Database(private_postgres, "faults_usage_failover")
        device.run(node_a, "--pid", PID, "--serial", SERIAL, "register", "--token", seeded["token"])
        device.run(node_a, "authorize", f"{tags['NE']}=3", f"{tags['DE']}=1")

        # 1. The same report on both nodes at the same moment: node A is inside its transaction
        #    (report inserted, usage waiting on our lock) when the device's standby, holding a copy
        #    of its state, sends the same report to node B. B waits for A on the product
        #    instance's row, then sees A's committed report: ACK from A, DUPLICATE from B.
        lock = db.lock("licensing_licenseusage")
        on_a = device.start(node_a, "report", f"{tags['NE']}=4", f"{tags['DE']}=1")
        backend_a, _ = db.waiting(table="licensing_licenseusage", proc=on_a)
        assert db.holds(backend_a, "licensing_rumreport")  # its report row is written, not committed
        (report_1,) = device.pending().values()
        rid_1 = json.loads(report_1["payload"])["report_id"]
        standby = device.copy(tmp_path / "standby-1")
        on_b = standby.start_resend(node_b)
        backend_b, _ = db.waiting("%", proc=on_b, exclude=[backend_a])
        assert backend_b != backend_a
        lock.rollback()
        lock.close()
        assert acks(finished(on_a)) == {rid_1: "ACK"}
        assert acks(finished(on_b)) == {rid_1: "DUPLICATE"}
        first = db.ledger()
        assert first["reports"] == [rid_1] and first["events"] == [1]
        assert first["usage"] == usage_of(report_1)
        assert_exactly_once(first, device)

        # 2. Node A commits the next report and dies, the whole node (serve, master, workers),
        #    before its reply leaves: the device fails over to node B and resends with a new report.
        hold.arm()
        on_a = device.start(node_a, "report", f"{tags['NE']}=7", f"{tags['DE']}=3")
        held = hold.held(on_a)
        (report_2,) = device.pending().values()
        rid_2 = json.loads(report_2["payload"])["report_id"]
        assert db.ledger()["reports"] == [rid_1, rid_2]  # committed on A
        assert held["pid"] in node_a.gunicorn_workers()
        node_a.cleanup()  # SIGKILL to serve's process group and every descendant
        cut_off(on_a)
        assert device.pending() == {rid_2: report_2}
        standby = device.copy(tmp_path / "standby-2")  # a copy of the state from before the fail-over

        on_b = device.run(node_b, "report", f"{tags['NE']}=2", f"{tags['DE']}=2")
        (rid_3,) = set(acks(on_b)) - {rid_2}
        assert acks(on_b) == {rid_2: "DUPLICATE", rid_3: "ACK"}
        after = db.ledger()
        assert after["reports"] == [rid_1, rid_2, rid_3]
        assert after["payloads"][rid_2] == report_2["payload"]
        assert after["usage"] == {tags["NE"]: 2, tags["DE"]: 2}  # the newest report's counts
        assert after["events"] == [1, 1, 1]
        assert_exactly_once(after, device)

        # 3. The old state replayed on node B (the device restored from a copy that still lists
        #    report 2 as unacknowledged): DUPLICATE, and the older counts do not come back.
        assert standby.pending() == {rid_2: report_2}
        assert acks(standby.resend(node_b)) == {rid_2: "DUPLICATE"}
        final = db.ledger()
        assert {k: v for k, v in final.items() if k != "nonces"} == {k: v for k, v in after.items() if k != "nonces"}
        assert final["nonces"] == after["nonces"] + 1
        assert node_b.proc.poll() is None, node_b.printed()
        assert_invariants(node_b.state(), registered_ok=1)
    finally:
        if db is not None:
            db.close()

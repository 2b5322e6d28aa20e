"""kill -9 of ``manage.py cssm sync`` while it is inside the transaction that applies CSSM's
response: the database keeps the complete previous state (entitlements of the Default local VA,
licenses, sync state and watermark, the history's outcome), and the next ``cssm sync`` applies the
whole response exactly once.

Real processes: the CSSM emulator (``manage.py cssm_emulator``) with a generated seed of a few
thousand entitlement lines, and ``manage.py cssm register`` / ``cssm sync`` as an operator runs
them, on SQLite in a private ONPREM_DATA_DIR. "Inside the apply" is observed from outside, without
hooks in the code: once the sync's request is on record (a new SyncRecord), the next writer that
holds SQLite's write lock is the apply transaction (the emulator builds its answer meanwhile and
the On-Prem writes nothing until the answer is verified).
"""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.harness import ROOT, cssm_emulator, manage, server_env
from core.child_processes import die_with_parent
from tests import ports

pytestmark = [pytest.mark.live, pytest.mark.faults]

SMART_ACCOUNT, CISCO_VA, ACCOUNT = "bulk.example", "Bulk", "Faults Sync"
USER, PASSWORD = "admin@bulk.example", "bulk-cssm-demo-1"
LICENSES, LINES = 150, 6000


def _seed(path):
    """A seed of LICENSES licenses and LINES entitlement lines, each line a purchase of its own."""
    rnd = random.Random(9)
    tag = "regid.2026-01.com.cisco.FAULTS_{:04d},1.0_{:08x}-0000-4000-8000-{:012x}".format
    out = ["licenses:"]
    for n in range(LICENSES):
        out += [
            f"  - tag: {tag(n, n, n)}",
            f"    name: Faults License {n:04d}",
            f"    description: fault-test license {n}",
            "    product_family: Faults",
        ]
    out += [
        "smart_accounts:",
        f"  - name: {SMART_ACCOUNT}",
        "    export_allowed: true",
        "    virtual_accounts:",
        f"      - name: {CISCO_VA}",
        "        entitlements:",
    ]
    expected = Counter()
    for n in range(LINES):
        lic = n % LICENSES
        kind = ("perpetual", "term", "subscription")[n % 3]
        quantity = rnd.randint(1, 500)
        out += [
            f"          - tag: {tag(lic, lic, lic)}",
            f"            type: {kind}",
            f"            quantity: {quantity}",
            f"            sku: SKU-{n:05d}",
        ]
        if kind != "perpetual":
            out += [
                "            start: 2026-01-01",
                "            end: 2029-12-31",
                f"            subscription_id: Sub{n:06d}",
            ]
        expected[f"SKU-{n:05d}"] = quantity
    out += ["users:", f"  - username: {USER}", f"    password: {PASSWORD}", f"    smart_accounts: [{SMART_ACCOUNT}]"]
    path.write_text("\n".join(out) + "\n")
    return expected


class Site:
    """A private data dir (SQLite), the emulator process, and the operator's commands."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.data_dir = tmp_path / "data"
        self.db = self.data_dir / "onprem.sqlite3"
        self.state_dir = tmp_path / "cssm"
        self.port = ports.claim_port(ports.SYNC_KILL)
        env = server_env(
            self.data_dir,
            ONPREM_CSSM_URL=f"https://127.0.0.1:{self.port}",
            ONPREM_CSSM_CA_FILE=str(self.state_dir / "tls" / "server.crt"),
        )
        self.env = {k: v for k, v in env.items() if not k.lower().endswith("_proxy")}
        self.emulator = None

    def manage(self, *args, check=True, timeout=180):
        done = manage(*args, env=self.env, timeout=timeout)
        if check:
            assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def start_emulator(self, seed):
        self.emulator = cssm_emulator(
            self.state_dir, port=self.port, env=self.env, log=self.tmp / "emulator.log", seed=seed
        )

    def stop(self):
        if self.emulator is not None:
            self.emulator.stop()

    # --- reading the database from outside (a WAL reader never waits for the writer) -------------
    def query(self, sql, *params):
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def sync_records(self):
        return self.query(
            "SELECT count(*) FROM sync_syncrecord r JOIN licensing_localaccount a "
            "ON a.id = r.account_id WHERE a.name = ? AND r.kind = 'sync'",
            ACCOUNT,
        )[0][0]

    def pending(self, sync_type):
        return self.query(
            "SELECT count(*) FROM sync_syncrecord r JOIN licensing_localaccount a "
            "ON a.id = r.account_id WHERE a.name = ? AND r.kind = 'sync' AND r.mode = 'online' "
            "AND r.result = 'pending' AND r.sync_type = ?",
            ACCOUNT,
            sync_type,
        )[0][0]

    def full_sync_required(self):
        return bool(
            self.query(
                "SELECT s.full_sync_required FROM sync_accountsync s JOIN licensing_localaccount a "
                "ON a.id = s.account_id WHERE a.name = ?",
                ACCOUNT,
            )[0][0]
        )

    def write_locked(self):
        """True while another connection holds SQLite's write lock (a write transaction is open)."""
        conn = sqlite3.connect(str(self.db), timeout=0, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc) or "busy" in str(exc), exc
            return True
        else:
            conn.execute("ROLLBACK")
            return False
        finally:
            conn.close()

    def snapshot(self):
        """Everything a sync apply writes, for the account under test."""
        account = self.query("SELECT id FROM licensing_localaccount WHERE name = ?", ACCOUNT)[0][0]
        entitlements = self.query(
            "SELECT va.name, va.is_default, l.entitlement_tag, e.license_type, e.quantity, e.start_date, e.end_date, "
            "e.subscription_id, e.sku, e.source FROM licensing_entitlement e "
            "JOIN licensing_virtualaccount va ON va.id = e.virtual_account_id "
            "JOIN licensing_licensedefinition l ON l.id = e.license_id WHERE va.account_id = ? ORDER BY e.id",
            account,
        )
        state = self.query(
            "SELECT last_response_id, last_sync_at, last_sync_result, last_sync_type, "
            "full_sync_required, onprem_name, id_certificate_pem FROM sync_accountsync "
            "WHERE account_id = ?",
            account,
        )
        return {
            "entitlements": entitlements,
            "licenses": self.query(
                "SELECT count(*) FROM licensing_licensedefinition "
                "WHERE entitlement_tag LIKE 'regid.2026-01.com.cisco.FAULTS_%'"
            )[0][0],
            "state": state,
            "watermark": self.query(
                "SELECT identifier, digest FROM sync_syncedproductinstance WHERE account_id = ? ORDER BY identifier",
                account,
            ),
            "results": Counter(
                r
                for (r,) in self.query(
                    "SELECT result FROM sync_syncrecord WHERE account_id = ? AND kind = 'sync'", account
                )
            ),
            "succeeded_events": self.query(
                "SELECT count(*) FROM onprem_event WHERE account_id = ? AND event_type = 'sync.succeeded'", account
            )[0][0],
        }


def _by_sku(snapshot):
    return Counter({row[8]: row[4] for row in snapshot["entitlements"]})


def _cpu_seconds(pid):
    """CPU time (user + system) the process has used so far, or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_sync(site, *extra, kill_after=None):
    """``cssm sync`` as a subprocess; with ``kill_after`` (CPU seconds into the apply), SIGKILL it there.

    Progress is the process's own CPU time, not the clock: a loaded machine (other test suites)
    stretches the wall time of an apply, hardly its CPU time. Returns (the process, CPU seconds from
    the apply's first write to the exit or the kill)."""
    records = site.sync_records()
    # A pending online request of the same type is sent again (its record reused, nothing written
    # before the apply); otherwise a new request is recorded first, in a short transaction of its own.
    sync_type = "full" if "--full" in extra or site.full_sync_required() else "standard"
    resend = site.pending(sync_type) > 0
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "cssm", "sync", ACCOUNT, *extra],
        cwd=ROOT,
        env=site.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent(signal.SIGKILL),
    )
    deadline = time.monotonic() + 60
    while not resend and site.sync_records() == records:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no synchronization request was recorded"
        time.sleep(0.005)
    while not site.write_locked():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"the sync finished before its apply was seen (exit {proc.returncode}): {out}{err}")
        assert time.monotonic() < deadline, "the apply never started"
        time.sleep(0.002)
    start = last = _cpu_seconds(proc.pid)
    assert start is not None
    while True:
        cpu = _cpu_seconds(proc.pid)
        if cpu is None or proc.poll() is not None:
            break
        if kill_after is None and not site.write_locked():
            break  # committed: what follows (the reply, the interpreter's exit) is no part of the apply
        last = cpu
        if kill_after is not None and cpu - start >= kill_after:
            break
        assert time.monotonic() < deadline + 60, "the apply did not finish"
        time.sleep(0.002)
    if kill_after is None:
        proc.wait(timeout=60)
        return proc, last - start
    assert proc.poll() is None, "the sync had finished before the kill: " + "".join(proc.communicate())
    assert site.write_locked(), "the apply had committed before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return proc, last - start


def test_kill_sync_inside_apply(tmp_path):
    site = Site(tmp_path)
    expected = _seed(tmp_path / "seed.yml")
    try:
        site.manage("migrate", "--noinput")
        site.start_emulator(tmp_path / "seed.yml")
        site.manage(
            "shell",
            "-c",
            (
                "from licensing.services.accounts import create_account; "
                f"create_account(actor=None, name={ACCOUNT!r}, cisco_smart_account={SMART_ACCOUNT!r}, "
                f"cisco_virtual_account={CISCO_VA!r})"
            ),
        )
        (tmp_path / "password").write_text(PASSWORD + "\n")
        site.manage("cssm", "register", ACCOUNT, "--username", USER, "--password-file", str(tmp_path / "password"))

        # 1. The first (full) synchronization, killed as soon as its apply holds the write lock:
        #    nothing of the response is there (no entitlement, no license, no watermark).
        registered = site.snapshot()
        assert registered["entitlements"] == [] and registered["licenses"] == 0
        _proc, _ = _run_sync(site, "--full", kill_after=0)
        killed = site.snapshot()
        # The request itself was recorded (committed before it was sent); its answer was not applied.
        assert killed.pop("results") == {"pending": 1}
        assert killed == {k: v for k, v in registered.items() if k != "results"}

        # The next sync sends the same pending request again, gets CSSM's stored answer and applies it once.
        proc, apply_seconds = _run_sync(site)
        out, err = proc.communicate()
        assert proc.returncode == 0, out + err
        assert "Synchronization Successful" in out
        synced = site.snapshot()
        assert _by_sku(synced) == expected and len(synced["entitlements"]) == LINES
        assert all(row[1] for row in synced["entitlements"])  # all in the Default local VA
        assert synced["licenses"] == LICENSES
        assert synced["results"]["success"] == 1 and synced["succeeded_events"] == 1

        # 2. Local drift (rows gone, quantities off), so that the next apply both removes and adds.
        #    A full sync repairs it; its apply's length, measured here, times the kills below.
        drift = (
            "from django.db.models import F; from licensing.models import Entitlement; "
            f"qs = Entitlement.objects.filter(virtual_account__account__name={ACCOUNT!r}).order_by('pk'); "
            "pks = list(qs.values_list('pk', flat=True)); "
            "Entitlement.objects.filter(pk__in=pks[::2]).delete(); "
            "Entitlement.objects.filter(pk__in=pks[1::4]).update(quantity=F('quantity') + 7)"
        )
        site.manage("shell", "-c", drift)
        proc, repair_seconds = _run_sync(site, "--full")
        out, err = proc.communicate()
        assert proc.returncode == 0, out + err
        repaired = site.snapshot()
        assert _by_sku(repaired) == expected and len(repaired["entitlements"]) == LINES
        print(f"apply of {LINES} lines: {apply_seconds:.2f} s CPU; repair of {LINES // 2}: {repair_seconds:.2f} s CPU")
        assert repair_seconds > 0.4, f"the repair took {repair_seconds:.2f} s of CPU: too short to be cut reliably"
        site.manage("shell", "-c", drift)
        drifted = site.snapshot()
        assert len(drifted["entitlements"]) == LINES // 2 and drifted["results"]["success"] == 2

        # 3. Full synchronizations killed early and late in their apply: the drifted state stays, whole.
        for fraction in (0.25, 0.6):
            _proc, at = _run_sync(site, "--full", kill_after=repair_seconds * fraction)
            after = site.snapshot()
            assert after["entitlements"] == drifted["entitlements"], f"half-applied rows after a kill at {at:.2f} s CPU"
            assert after["state"] == drifted["state"] and after["watermark"] == drifted["watermark"]
            assert after["licenses"] == drifted["licenses"]
            assert after["succeeded_events"] == drifted["succeeded_events"]
            assert after["results"]["success"] == 2

        # 4. The next synchronization applies CSSM's lines exactly once.
        done = site.manage("cssm", "sync", ACCOUNT)
        assert "Synchronization Successful" in done.stdout
        final = site.snapshot()
        assert _by_sku(final) == expected and len(final["entitlements"]) == LINES
        assert final["results"]["success"] == 3 and final["succeeded_events"] == 3
        assert final["state"][0][0] != drifted["state"][0][0]  # a new watermark (last response id)
        assert site.query("PRAGMA integrity_check") == [("ok",)]
    finally:
        site.stop()

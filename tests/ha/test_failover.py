"""Automatic failover under load, nothing lost: a pg_auto_failover monitor and two PostgreSQL nodes
(tests/ha/cluster.py, synchronous replication), two web nodes (`manage.py serve`) whose DATABASE_URL
is the formation's multi-host URI, and two fleets of devices, one per web node: fleet A is
reporting usage and fleet B registering when the primary's postmaster and keeper are killed with
``kill -9``. The monitor promotes the secondary; the web nodes find it by themselves
(target_session_attrs=read-write, CONN_HEALTH_CHECKS); the fleets finish through 503 + Retry-After.

Then: every device the fleets were told SUCCESS for is there exactly once, with its usage; every
usage report a device had acknowledged is stored, once; token uses and registration events match;
the reports whose acknowledgement the failover swallowed are resent by the agent and stored once.
The old primary rejoins as the secondary and holds the same rows; a planned switchover back
(``pg_autoctl perform switchover``) under a third, reporting fleet gives no 500 and loses nothing
either. The numbers (requests during the
switch, 503s and 500s, time to promotion, answered-SUCCESS-but-lost) are printed and go to
docs/reliability.md.
"""

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bench.harness import ROOT
from core.child_processes import die_with_parent
from tests.faults.harness import fleet_result, manage_json, run_fleet
from tests.faults.invariants import assert_invariants
from tests.ha.cluster import FAST_FAILOVER, PgAutoFailoverCluster

requests = pytest.importorskip("requests")
pytestmark = [pytest.mark.live, pytest.mark.faults, pytest.mark.postgres]

DEVICES = 40  # per fleet

# Per device (by serial): its product instance(s), its usage, its stored usage report ids.
LEDGER = """
import json
from django.db.models import Count
from licensing.models import LicenseUsage, LocalAccount, ProductInstance, RumReport
account = LocalAccount.objects.get(name="Faults")
pis = {}
for row in ProductInstance.objects.filter(account=account).values("udi_serial_number").annotate(n=Count("id")):
    pis[row["udi_serial_number"]] = row["n"]
usage = {}
for row in LicenseUsage.objects.filter(product_instance__account=account).values(
        "product_instance__udi_serial_number", "license__entitlement_tag", "count"):
    usage.setdefault(row["product_instance__udi_serial_number"], {})[row["license__entitlement_tag"]] = row["count"]
reports = {}
for row in RumReport.objects.filter(account=account).values("product_instance__udi_serial_number", "report_id"):
    reports.setdefault(row["product_instance__udi_serial_number"], []).append(row["report_id"])
print("LEDGER " + json.dumps({"pis": pis, "usage": usage, "reports": reports}))
"""

# The agent's own resend of the reports it has not seen acknowledged (nothing new): report({}).
RESEND = """
import json, sys
from pathlib import Path
from smart_agent.agent import Agent
done = 0
for state in sorted(Path(sys.argv[2]).iterdir()):
    kept = json.loads((state / "state.json").read_text())
    if kept.get("pending_reports"):
        Agent(sys.argv[1], str(state), ca_file=sys.argv[3], timeout=30).report({})
        done += 1
print(json.dumps({"resent_by": done}))
"""


class Prober(threading.Thread):
    """GET ``path`` of a web node every 100 ms (/readyz queries the database; an API call with a
    Bearer token looks the token up); keeps (time sent, status), and every 503 without Retry-After.
    ``ok``: the status of a normal answer (None: the first answer's, which must not be a 5xx)."""

    def __init__(self, server, path="/readyz", headers=None, ok=200):
        super().__init__(daemon=True)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(server.cert)
        self.session.headers.update(headers or {})
        self.url = f"{server.url}{path}"
        self.ok = ok
        self.stop = threading.Event()
        self.seen = []
        self.no_retry_after = 0

    def run(self):
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                answer = self.session.get(self.url, timeout=20)
            except requests.RequestException as error:
                self.seen.append((sent, type(error).__name__))
            else:
                self.seen.append((sent, answer.status_code))
                if self.ok is None:
                    assert answer.status_code < 500, (self.url, answer.status_code)
                    self.ok = answer.status_code
                if answer.status_code == 503 and not answer.headers.get("Retry-After"):
                    self.no_retry_after += 1
            time.sleep(0.1)

    def outage(self, since):
        """Seconds from ``since`` to the last probe sent after it that did not get a 200 (0: none)."""
        failed = [at for at, status in self.seen if at > since and status != self.ok]
        return max(failed) - since if failed else 0.0


def device_requests(server):
    log = server.data_dir / "logs" / "access.log"
    return log.read_text().count("POST /SmartTransport") if log.exists() else 0


def device_statuses(server):
    """Status of every device request in the web node's access log."""
    log = server.data_dir / "logs" / "access.log"
    text = log.read_text() if log.exists() else ""
    return [int(m.group(1)) for m in re.finditer(r'"POST /SmartTransport[^"]*" (\d{3}) ', text)]


def device_states(state_dir):
    """{serial: the agent's kept state} of a fleet's devices."""
    return {
        path.name: json.loads((path / "state.json").read_text())
        for path in sorted(Path(state_dir).iterdir())
        if (path / "state.json").exists()
    }


def resend(server, state_dir):
    done = subprocess.run(
        [sys.executable, "-c", RESEND, server.url, str(state_dir), str(server.cert)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        preexec_fn=die_with_parent(9),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def pending_ids(state):
    return {json.loads(r["payload"])["report_id"] for r in state.get("pending_reports", [])}


def count_rows(cluster, name, table):
    return int(cluster.psql(cluster.port_of(name), f"SELECT count(*) FROM {table}", dbname="onprem"))


def test_primary_killed_under_two_web_nodes_and_two_fleets(fault_server, tmp_path):
    cluster = PgAutoFailoverCluster(monitor_settings=FAST_FAILOVER)
    probers, fleets = [], []
    try:
        started = time.monotonic()
        cluster.start()
        cluster_ready = time.monotonic() - started
        first_primary = cluster.primary()
        # Synchronous replication: a commit waits for the secondary (pg_auto_failover's default).
        standby_names = cluster.psql(cluster.port_of(first_primary), "SHOW synchronous_standby_names")
        assert standby_names.startswith("ANY 1"), standby_names
        assert cluster.psql(cluster.port_of(first_primary), "SELECT sync_state FROM pg_stat_replication") == "quorum"

        shared = {
            "DATABASE_URL": cluster.database_url,
            "SECRET_KEY": "ha-" + Fernet.generate_key().decode(),
            "ONPREM_FIELD_KEYS": Fernet.generate_key().decode(),
            "ONPREM_WEB_WORKERS": "2",
        }
        web_a, web_b = fault_server("web_a", **shared), fault_server("web_b", **shared)
        web_a.manage("migrate", "--noinput")
        seeded = web_a.seed(max_uses=10 * DEVICES)
        web_a.start()  # gunicorn, a Celery worker and the one beat
        web_b.start("--no-worker", "--no-beat")
        web_a.wait_until_up()
        web_b.wait_until_up()
        licenses = f"{seeded['tags']['NE']}=1,{seeded['tags']['DE']}=2"
        api = "/api/v1/accounts/Faults/virtual-accounts"
        probers += [
            Prober(web_a),
            Prober(web_b),
            Prober(web_a, api, headers={"Authorization": "Bearer not-a-token"}, ok=None),
        ]
        for prober in probers:
            prober.start()

        states_a, states_b = tmp_path / "fleet_a", tmp_path / "fleet_b"
        common = dict(licenses=licenses, concurrency=4, retries=10, timeout=30, background=True)
        # Fleet A registers, authorizes, then every device reports every 3 s for 45 s.
        fleets.append(
            run_fleet(
                web_a,
                seeded["token"],
                devices=DEVICES,
                seed=31,
                state_dir=states_a,
                extra=["--duration", "45", "--report-interval", "3"],
                **common,
            )
        )
        deadline = time.monotonic() + 120
        while device_requests(web_a) < 2 * DEVICES + 20:  # registered, authorized, reporting
            assert time.monotonic() < deadline and fleets[0].poll() is None, "fleet A did not get to its reports"
            time.sleep(0.1)
        # Fleet B registers (and then authorizes and reports once) through web node B.
        fleets.append(run_fleet(web_b, seeded["token"], devices=DEVICES, seed=32, state_dir=states_b, **common))
        while device_requests(web_b) < DEVICES // 3:
            assert time.monotonic() < deadline and fleets[1].poll() is None, "fleet B did not get going"
            time.sleep(0.05)

        before = {server: len(device_statuses(server)) for server in (web_a, web_b)}
        killed_at = time.monotonic()
        old_primary = cluster.kill_primary()
        cluster.wait_for(lambda: cluster.primary() not in (None, old_primary), timeout=120, what="the promotion")
        promoted_after = time.monotonic() - killed_at
        new_primary = cluster.primary()
        promoted_at = time.monotonic()
        # The web nodes answer from the new primary by themselves: a 200 of /readyz sent after the promotion.
        cluster.wait_for(
            lambda: all(any(at > promoted_at and s == p.ok for at, s in p.seen) for p in probers),
            timeout=60,
            what="both web nodes ready on the new primary",
        )
        switch = {server: device_statuses(server)[before[server] :] for server in (web_a, web_b)}

        summary_a, summary_b = fleet_result(fleets[0]), fleet_result(fleets[1])
        for prober in probers:
            prober.stop.set()
            prober.join(timeout=30)
        serving_after = max(prober.outage(killed_at) for prober in probers)

        assert web_a.proc.poll() is None and web_b.proc.poll() is None, "a web node died in the failover"
        # Requests during the switch: "retry later" at worst, never a 500.
        during = [status for statuses in switch.values() for status in statuses]
        all_statuses = device_statuses(web_a) + device_statuses(web_b)
        assert 500 not in all_statuses, sorted(set(all_statuses))
        assert set(all_statuses) <= {200, 503}, sorted(set(all_statuses))
        # /readyz and the REST API: their normal answer or 503 + Retry-After, nothing else.
        for prober in probers:
            assert {s for _, s in prober.seen} <= {prober.ok, 503}, (
                prober.url,
                set(map(str, (s for _, s in prober.seen))),
            )
            assert prober.no_retry_after == 0, prober.url
        for summary in (summary_a, summary_b):
            for operation, row in summary["by_type"].items():
                assert set(row["failures"]) <= {"HTTP_503", "BUSY"}, (operation, row)

        # --- nothing answered SUCCESS is lost; nothing is there twice ----------------------------
        ledger = manage_json(web_b, LEDGER, "LEDGER")
        devices = {**device_states(states_a), **device_states(states_b)}
        registered = {serial for serial, s in devices.items() if s.get("product_instance_id")}
        assert len(registered) == summary_a["registered"] + summary_b["registered"]
        lost_devices = sorted(serial for serial in registered if ledger["pis"].get(serial) != 1)
        extra_devices = sorted(set(ledger["pis"]) - registered)
        lost_usage = sorted(
            serial
            for serial, s in devices.items()
            if s.get("requested") and ledger["usage"].get(serial) != {r["tag"]: r["count"] for r in s["requested"]}
        )
        # A report the device saw acknowledged is no longer pending in its state; it must be stored.
        # Reports made = REPORT_USAGE calls (each makes one); acknowledged = made - still pending.
        made = sum(s["by_type"].get("REPORT_USAGE", {}).get("ok", 0) for s in (summary_a, summary_b)) + sum(
            sum(s["by_type"].get("REPORT_USAGE", {}).get("failures", {}).values()) for s in (summary_a, summary_b)
        )
        stored = {serial: set(ids) for serial, ids in ledger["reports"].items()}
        pending = {serial: pending_ids(s) for serial, s in devices.items()}
        stored_total = sum(len(ids) for ids in stored.values())
        acknowledged = made - sum(len(ids) for ids in pending.values())
        stored_acknowledged = sum(len(stored.get(serial, set()) - pending[serial]) for serial in devices)
        lost_reports = acknowledged - stored_acknowledged
        state = web_b.state()
        token_uses = state["tokens"][seeded["token"]]["uses"]

        numbers = {
            "cluster_start_s": round(cluster_ready, 1),
            "promotion_s": round(promoted_after, 1),
            "web_nodes_unavailable_s": round(serving_after, 1),
            "probe_503": {p.url.split("//")[-1]: sum(status == 503 for _, status in p.seen) for p in probers},
            "device_requests": len(all_statuses),
            "device_requests_during_switch": len(during),
            "http_503": all_statuses.count(503),
            "http_500": all_statuses.count(500),
            "devices_registered": len(registered),
            "reports_made": made,
            "reports_acknowledged": acknowledged,
            "answered_success_but_lost": len(lost_devices) + len(lost_usage) + lost_reports,
            "token_uses": token_uses,
            "registration_events": state["events"]["device.registered"],
            "fleet_a": {k: summary_a[k] for k in ("requests", "ok", "failed", "http_statuses")},
            "fleet_b": {k: summary_b[k] for k in ("requests", "ok", "failed", "http_statuses")},
        }
        print("FAILOVER " + json.dumps(numbers))
        # A REGISTER whose commit the failover cut from its reply is retried by the agent and
        # answered from the registration already made: one token use and one event per device.
        uses = assert_invariants(state, registered_ok=len(registered), exact_tokens=[seeded["token"]])
        assert lost_devices == [] and extra_devices == [], (lost_devices, extra_devices)
        assert lost_usage == [], lost_usage
        assert lost_reports == 0, numbers
        assert state["pis"] == len(registered) == uses == state["events"]["device.registered"]
        assert stored_total <= made

        # --- the agent resends what it has not seen acknowledged: each report stored exactly once ----
        resend(web_a, states_a)
        resend(web_b, states_b)
        devices = {**device_states(states_a), **device_states(states_b)}
        assert all(not s.get("pending_reports") for s in devices.values())
        ledger = manage_json(web_a, LEDGER, "LEDGER")
        assert sum(len(ids) for ids in ledger["reports"].values()) == made
        assert all(len(ids) == len(set(ids)) for ids in ledger["reports"].values())

        # --- the old primary rejoins as the secondary; it holds the same rows ---------------------
        cluster.restart_node(old_primary)
        cluster.wait_until_healthy(timeout=120)
        assert cluster.primary() == new_primary and cluster.secondary() == old_primary
        for table in ("licensing_productinstance", "licensing_rumreport", "licensing_licenseusage", "onprem_event"):
            on_primary = count_rows(cluster, new_primary, table)
            cluster.wait_for(
                lambda table=table, n=on_primary: count_rows(cluster, old_primary, table) == n,
                timeout=30,
                what=f"{table} replicated to {old_primary}",
            )
        # ... synchronously replicated again.
        assert cluster.psql(cluster.port_of(new_primary), "SELECT sync_state FROM pg_stat_replication") == "quorum"

        # --- a planned switchover back (pg_autoctl perform switchover) under a reporting fleet ---------
        # The old primary goes read-only and is demoted while writes arrive: still no 500, nothing lost.
        fleets.append(
            run_fleet(
                web_b,
                seeded["spare_token"],
                devices=10,
                seed=33,
                state_dir=tmp_path / "fleet_c",
                extra=["--duration", "25", "--report-interval", "2"],
                **common,
            )
        )
        logged = len(device_statuses(web_b))
        deadline = time.monotonic() + 60
        while len(device_statuses(web_b)) < logged + 30:  # registered, authorized, reporting
            assert time.monotonic() < deadline and fleets[-1].poll() is None, "fleet C did not get to its reports"
            time.sleep(0.1)
        cluster.switchover()
        cluster.wait_until_healthy(timeout=120)
        assert cluster.primary() == old_primary and cluster.secondary() == new_primary
        summary_c = fleet_result(fleets[-1])
        after = device_statuses(web_b)[logged:]
        switched = {"requests": len(after), "http_503": after.count(503), "fleet_c": summary_c["http_statuses"]}
        print("SWITCHOVER " + json.dumps(switched))
        assert set(after) <= {200, 503}, sorted(set(after))
        assert summary_c["failed"] == 0 and summary_c["registered"] == 10, summary_c
        ledger = manage_json(web_b, LEDGER, "LEDGER")
        fleet_c = device_states(tmp_path / "fleet_c")
        made_c = summary_c["by_type"]["REPORT_USAGE"]["ok"]
        assert all(ledger["pis"].get(serial) == 1 for serial in fleet_c)
        assert sum(len(ledger["reports"].get(serial, [])) for serial in fleet_c) == made_c
    finally:
        for prober in probers:
            prober.stop.set()
        for fleet in fleets:
            if fleet.poll() is None:
                fleet.kill()
        cluster.stop()

"""The private Postgres restarted (a fast shutdown, then a start) while a fleet of devices registers,
authorizes and reports: the server is not restarted and recovers by itself (CONN_HEALTH_CHECKS
replaces the dropped persistent connections), requests during the outage fail with a clean 5xx,
and nothing is lost or half-applied: the agent's retry registers the devices that failed."""

import threading
import time

import pytest

from tests.faults.harness import fleet_result, run_fleet
from tests.faults.invariants import assert_invariants

requests = pytest.importorskip("requests")
pytestmark = [pytest.mark.live, pytest.mark.faults]
DEVICES = 120


class Prober(threading.Thread):
    """GET /readyz (it queries the database) every 50 ms; keeps (monotonic time, status or error)."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(server.cert)
        self.url = f"{server.url}/readyz"
        self.stop = threading.Event()
        self.seen = []

    def run(self):
        while not self.stop.is_set():
            try:
                self.seen.append((time.monotonic(), self.session.get(self.url, timeout=20).status_code))
            except requests.RequestException as error:
                self.seen.append((time.monotonic(), type(error).__name__))
            time.sleep(0.05)


def _device_requests(server):
    log = server.data_dir / "logs" / "access.log"
    return log.read_text().count("POST /SmartTransport") if log.exists() else 0


def test_postgres_restart_under_load(private_postgres, fault_server, tmp_path):
    server = fault_server("pg", DATABASE_URL=private_postgres.createdb("faults_pg_restart"), ONPREM_WEB_WORKERS="2")
    server.manage("migrate", "--noinput")
    seeded = server.seed(max_uses=150)
    server.start("--no-beat")
    server.wait_until_up()

    prober = Prober(server)
    prober.start()
    states = tmp_path / "devices"
    licenses = f"{seeded['tags']['NE']}=1"
    fleet = run_fleet(
        server,
        seeded["token"],
        devices=DEVICES,
        seed=21,
        state_dir=states,
        licenses=licenses,
        concurrency=8,
        background=True,
    )
    try:
        deadline = time.monotonic() + 180
        while _device_requests(server) < 60:
            assert time.monotonic() < deadline and fleet.poll() is None, "the fleet did not get going"
            time.sleep(0.05)
        down_at = time.monotonic()
        private_postgres.restart()
        up_at = time.monotonic()
        first = fleet_result(fleet)
        time.sleep(2)
    finally:
        prober.stop.set()
        prober.join(timeout=30)
        if fleet.poll() is None:
            fleet.kill()

    assert server.proc.poll() is None, "serve died when the database restarted:\n" + server.printed()
    print(
        f"outage {up_at - down_at:.2f} s; REGISTER {first['by_type']['REGISTER']}; "
        f"AUTHORIZE {first['by_type']['AUTHORIZE']}; HTTP {first['http_statuses']}"
    )
    # The web server itself stayed up: every probe got an HTTP answer, 200 or a clean 503.
    assert {status for _, status in prober.seen} <= {200, 503}, prober.seen
    # ... and answered 200 again by itself shortly after the database was back.
    recovered = [status for at, status in prober.seen if at > up_at + 1.0]
    assert recovered and set(recovered) == {200}, prober.seen
    # The devices saw "retry later" at worst (503 + Retry-After from core/db_unavailable.py, which
    # the agent retries; BUSY when its retries ran out), never a 500 and never a wrong answer.
    allowed = {"HTTP_502", "HTTP_503", "BUSY", "CONNECTION"}
    for operation, row in first["by_type"].items():
        assert set(row["failures"]) <= allowed, (operation, row)

    state = server.state()
    assert_invariants(state, registered_ok=first["registered"])

    # Idle persistent connections of both workers died with the restart: the next requests get
    # fresh ones instead of an error (CONN_HEALTH_CHECKS).
    private_postgres.restart()
    with requests.Session() as session:
        session.trust_env = False
        session.verify = str(server.cert)
        statuses = [session.get(f"{server.url}/readyz", timeout=20).status_code for _ in range(8)]
    assert statuses == [200] * 8, statuses

    # The agent's retry: every device (same seed, same state) registers; none twice.
    second = run_fleet(
        server, seeded["spare_token"], devices=DEVICES, seed=21, state_dir=states, licenses=licenses, concurrency=8
    )
    assert second["by_type"]["REGISTER"]["ok"] == DEVICES and second["failed"] == 0, second
    final = server.state()
    assert final["pis"] == DEVICES and final["duplicates"] == 0
    uses = assert_invariants(final, registered_ok=DEVICES, exact_tokens=[seeded["spare_token"]])
    assert uses == state["tokens"][seeded["token"]]["uses"] + DEVICES

"""kill -9 of gunicorn workers in the middle of a burst of device registrations and of license
transfers through the REST API: the master replaces them, what was in flight is either wholly
applied or not at all, and the agent's retry registers the devices that failed without duplicating
the ones that had registered."""

import json
import os
import signal
import threading
import time

import pytest

from tests.faults.harness import fleet_result, run_fleet
from tests.faults.invariants import assert_invariants, position, purchased_total

requests = pytest.importorskip("requests")
requests_oauthlib = pytest.importorskip("requests_oauthlib")
from oauthlib.oauth2 import BackendApplicationClient  # noqa: E402

pytestmark = [pytest.mark.live, pytest.mark.faults]
DEVICES, MAX_USES = 200, 150


def _device_requests(server):
    log = server.data_dir / "logs" / "access.log"
    return log.read_text().count("POST /SmartTransport") if log.exists() else 0


def _wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


class Transfers(threading.Thread):
    """Moves 1 Network Essentials at a time from Campus to Lab until stopped, counting outcomes."""

    def __init__(self, server, grant, license_name):
        super().__init__(daemon=True)
        self.session = requests_oauthlib.OAuth2Session(client=BackendApplicationClient(client_id=grant["client_id"]))
        self.session.trust_env = False
        self.session.verify = str(server.cert)
        self.session.fetch_token(
            f"{server.url}/oauth/token",
            client_id=grant["client_id"],
            client_secret=grant["client_secret"],
            include_client_id=True,
            timeout=30,
        )
        self.url = f"{server.url}/api/v1/accounts/Faults/virtual-accounts/Campus/licenses/transfer"
        self.body = {
            "licenses": [
                {
                    "license": license_name,
                    "licenseType": "PERPETUAL",
                    "quantity": 1,
                    "precedence": "LONGEST_TERM_FIRST",
                    "targetVirtualAccount": "Lab",
                }
            ]
        }
        self.stop = threading.Event()
        self.ok = self.refused = self.lost = 0
        self.statuses = []

    def run(self):
        while not self.stop.is_set():
            try:
                response = self.session.post(self.url, json=self.body, timeout=30)
            except requests.RequestException:
                self.lost += 1  # the worker died with the request: applied or not, the database decides
                continue
            self.statuses.append(response.status_code)
            if response.status_code == 200 and response.json()["status"] == "SUCCESS":
                self.ok += 1
            else:
                self.refused += 1


def test_kill_web_workers_during_registrations_and_transfers(private_postgres, fault_server, tmp_path):
    server = fault_server("kill", DATABASE_URL=private_postgres.createdb("faults_web_kill"), ONPREM_WEB_WORKERS="3")
    server.manage("migrate", "--noinput")
    seeded = server.seed(max_uses=MAX_USES)
    server.manage("api_console", "enable")
    grant = json.loads(
        server.manage(
            "api_client", "create", "--name", "faults", "--account", "Faults", "--role", "account_admin"
        ).stdout
    )
    server.start("--no-beat")
    server.wait_until_up()
    before = server.state()
    ne = seeded["ne_name"]
    ne_total = purchased_total(before, ne)
    lab_before = position(before, "Lab", ne)["purchased"]

    transfers = Transfers(server, grant, ne)
    transfers.start()
    states = tmp_path / "devices"
    licenses = f"{seeded['tags']['NE']}=1,{seeded['tags']['DE']}=1"
    fleet = run_fleet(
        server, seeded["token"], devices=DEVICES, seed=11, state_dir=states, licenses=licenses, background=True
    )
    killed = []
    try:
        # First one worker, then all three at once (whatever they were doing, transfers included).
        for threshold, how_many in ((30, 1), (90, 3)):
            _wait_for(lambda at=threshold: _device_requests(server) >= at, 180, f"{threshold} device requests")
            workers = server.gunicorn_workers()
            assert len(workers) == 3, workers
            for pid in workers[:how_many]:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            # The master notices and forks replacements.
            _wait_for(
                lambda: len(server.gunicorn_workers()) == 3 and not set(killed) & set(server.gunicorn_workers()),
                60,
                "replacement workers",
            )
        first = fleet_result(fleet)
        # The devices are done; the transfers alone now: each one is on a worker almost all the
        # time, so killing every worker cuts transfers in flight.
        for _ in range(3):
            time.sleep(1.0)
            workers = server.gunicorn_workers()
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            _wait_for(
                lambda: len(server.gunicorn_workers()) == 3 and not set(killed) & set(server.gunicorn_workers()),
                60,
                "replacement workers",
            )
        time.sleep(1.0)
    finally:
        transfers.stop.set()
        transfers.join(timeout=60)
        if fleet.poll() is None:
            fleet.kill()

    assert server.proc.poll() is None, "serve died with its web worker:\n" + server.printed()
    print(
        f"killed {killed}; REGISTER {first['by_type']['REGISTER']}; transfers ok={transfers.ok} "
        f"refused={transfers.refused} lost={transfers.lost}"
    )
    assert transfers.ok > 0 and transfers.refused == 0, [s for s in transfers.statuses if s != 200][:20]
    assert transfers.lost > 0, "no transfer was in flight when the workers died: the test proved nothing"

    after = server.state()
    token = after["tokens"][seeded["token"]]
    uses = assert_invariants(after, registered_ok=first["registered"])
    assert token["uses"] <= MAX_USES and uses == token["uses"]
    # 200 devices for 150 uses: the token ran out (devices lost to the kills did not spend a use).
    assert token["uses"] == MAX_USES, (token, first["by_type"]["REGISTER"])
    assert first["by_type"]["REGISTER"]["failures"].get("TOKEN_EXHAUSTED", 0) >= DEVICES - MAX_USES - 20

    # Transfers: all or nothing each. Nothing was created or lost, and Lab gained exactly one per
    # committed transfer (its "transferred in" events), at least as many as the client saw succeed.
    assert purchased_total(after, ne) == ne_total
    moved = position(after, "Lab", ne)["purchased"] - lab_before
    assert moved == after["events"]["license.transferred_one_in"] == after["events"]["license.transferred_one"]
    assert transfers.ok <= moved <= transfers.ok + transfers.lost
    assert position(after, "Campus", ne)["purchased"] == position(before, "Campus", ne)["purchased"] - moved

    # The agent's retry: the same devices (same seed, same state) with a token that has uses left.
    # Those that failed register now; those that had registered re-register as the same product instance.
    second = run_fleet(server, seeded["spare_token"], devices=DEVICES, seed=11, state_dir=states, licenses=licenses)
    assert second["by_type"]["REGISTER"] == {**second["by_type"]["REGISTER"], "ok": DEVICES, "failed": 0}, second
    final = server.state()
    assert final["pis"] == DEVICES and final["duplicates"] == 0
    total_uses = assert_invariants(final, registered_ok=DEVICES, exact_tokens=[seeded["spare_token"]])
    assert final["tokens"][seeded["token"]]["pis"] == 0  # every device now carries the spare token
    assert final["tokens"][seeded["spare_token"]]["uses"] == DEVICES
    assert total_uses == MAX_USES + DEVICES  # one event per accepted registration, across both runs

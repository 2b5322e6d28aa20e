"""Load shedding for real: `manage.py serve` (one gunicorn sync worker, HTTPS) with a small listen-queue
limit, and a reconnect storm of 60 registered devices (bench.storm_seed: real keys and ID certificates)
with 40 requests in flight. The excess must be answered 503 + Retry-After by the server itself, the
devices must wait it out and every one of them be served exactly once, with no timeout and no
other 5xx."""

import sqlite3

import pytest

from bench.scenarios import storm
from bench.server import BenchServer

pytestmark = pytest.mark.live
DEVICES = 60


@pytest.fixture(scope="module")
def server():
    bench = BenchServer(database="sqlite", web_workers=1, log=lambda message: None)
    bench.env.update(
        ONPREM_DEVICE_SHED_QUEUE="4", ONPREM_DEVICE_SHED_RETRY_AFTER="1", ONPREM_DEVICE_SHED_MAX_RETRY_AFTER="3"
    )
    try:
        bench.prepare()
        bench.seeded = bench.seed(10)
        bench.start()
        yield bench
    finally:
        bench.cleanup()


def test_a_storm_is_shed_with_503_and_retry_after_and_every_device_is_served_once(server):
    result = storm.run(
        server, server.seeded, devices=DEVICES, window=0.3, concurrency=40, max_duration=600, log=lambda message: None
    )
    assert result["seeding"]["devices"] == DEVICES
    assert result["served"] == DEVICES and result["never_served"] == 0, result
    assert result["errors"] == 0 and result["http_5xx_other_than_503"] == 0, result
    assert result["refusals"] > 0, "40 connections on one worker never went over a queue of 4"
    assert set(result["http_statuses"]) == {"200", "503"}
    assert result["refusals_without_retry_after"] == 0
    assert result["retry_after_honoured"] == result["refusals"] and result["retry_after_early"] == 0

    # The 503s are the server's own refusals, before the message is even parsed.
    access = (server.data_dir / "logs" / "access.log").read_text().splitlines()
    shed = [line for line in access if '"POST /SmartTransport' in line and '" 503 ' in line]
    assert len(shed) == result["refusals"]
    # Summarised in the server's log, not an ERROR line per refusal.
    log = (server.data_dir / "logs" / "onprem.log").read_text()
    assert "Over capacity (listen queue " in log and "Service Unavailable" not in log

    # Every device authorized its licenses and its one usage report was stored once.
    db = sqlite3.connect(f"file:{server.data_dir / 'onprem.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        with_usage = db.execute(
            "SELECT COUNT(DISTINCT u.product_instance_id) FROM licensing_licenseusage u "
            "JOIN licensing_deviceidentity d ON d.product_instance_id = u.product_instance_id "
            "WHERE d.agent_version = 'smart-agent/1.0' AND u.count > 0"
        ).fetchone()[0]
        # The storm's devices only: the seeded demo account has a usage history of its own.
        reports = db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT r.product_instance_id) FROM licensing_rumreport r "
            "JOIN licensing_deviceidentity d ON d.product_instance_id = r.product_instance_id "
            "WHERE d.agent_version = 'smart-agent/1.0'"
        ).fetchone()
    finally:
        db.close()
    assert with_usage == DEVICES
    assert reports == (DEVICES, DEVICES)

"""The fleet simulator: identities, license parsing, statistics, a run against the fake server."""

import json
import re

import pytest

from smart_agent.fleet import Config, Fleet, generate, parse_licenses
from smart_agent.fleet.__main__ import main
from smart_agent.fleet.stats import Stats, percentile

CISCO_SERIAL = re.compile(r"^[A-Z]{3}(2[2-9])(0[1-9]|[1-4]\d|5[0-2])[0-9A-Z]{4}$")
VIRTUAL_SERIAL = re.compile(r"^9[0-9A-Z]{10}$")


def test_identities_are_unique_and_realistic():
    people = generate(3000, pairs=50, seed=7)
    assert len(people) == 3000
    for field in ("udi_serial_number", "mac_address", "hostname", "ip_address"):
        values = [getattr(p, field) for p in people]
        assert len(set(values)) == len(values), field
    assert len({(p.udi_pid, p.udi_serial_number) for p in people}) == 3000
    pids = {p.udi_pid for p in people}
    assert {"CSR1000V", "C9300-24T", "ISR4451-X/K9", "N9K-C93180YC-EX"} <= pids
    for p in people:
        if p.udi_pid == "CSR1000V":
            assert VIRTUAL_SERIAL.match(p.udi_serial_number) and p.uuid and not p.udi_vid
        else:
            assert CISCO_SERIAL.match(p.udi_serial_number), p.udi_serial_number
            assert re.match(r"^V\d\d$", p.udi_vid)
        assert re.match(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$", p.mac_address)
        assert p.software_tag.startswith("regid.2014-05.com.cisco.")
    for i in range(50):  # pairs: same product, hostnames a/b
        active, standby = people[2 * i], people[2 * i + 1]
        assert active.udi_pid == standby.udi_pid
        assert active.hostname[:-1] == standby.hostname[:-1] and active.hostname.endswith("a")
    assert [p.udi_serial_number for p in generate(20, seed=3)] == [p.udi_serial_number for p in generate(20, seed=3)]
    assert generate(20, seed=3) != generate(20, seed=4)
    with pytest.raises(ValueError):
        generate(3, pairs=2)


def test_license_lists():
    assert parse_licenses("regid.2017-03.com.cisco.NE,1.0_ne=1,regid.x,1.0_y=3,plain=0") == [
        ("regid.2017-03.com.cisco.NE,1.0_ne", 1),
        ("regid.x,1.0_y", 3),
        ("plain", 0),
    ]
    for bad in ("", "a", "a=1,", "a=x", "=1"):
        with pytest.raises(ValueError):
            parse_licenses(bad)


def test_percentiles_and_summary():
    values = sorted(range(1, 101))
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 0.99)) == (50, 95, 99)
    assert percentile([], 0.5) is None
    stats = Stats()
    stats.record("REGISTER", 0.010)
    stats.record("REGISTER", 0.030, "TOKEN_EXHAUSTED")
    stats.exchange(429, 0.001)
    summary = stats.summary(devices=2)
    assert summary["ok"] == 1 and summary["failed"] == 1 and summary["failures"] == {"TOKEN_EXHAUSTED": 1}
    assert summary["by_type"]["REGISTER"]["latency_ms"]["p99"] == 30.0
    assert summary["throttled"] == 1 and summary["devices"] == 2


def test_fleet_run_against_the_fake_server(fake_server):
    licenses = [("regid.2017-03.com.cisco.NE,1.0_ne", 1), ("regid.2017-03.com.cisco.DE,1.0_de", 2)]
    fleet = Fleet(
        Config(
            server=fake_server.url,
            token="GOOD-TOKEN",
            devices=24,
            concurrency=6,
            licenses=licenses,
            redundancy_pairs=3,
            deregister=True,
            seed=1,
            progress=False,
        )
    )
    summary = fleet.run()
    assert summary["failed"] == 0, summary["failures"]
    assert summary["by_type"]["REGISTER"]["ok"] == 24
    assert summary["by_type"]["AUTHORIZE"]["ok"] == 24
    assert summary["by_type"]["REPORT_USAGE"]["ok"] == 24
    assert summary["by_type"]["DEREGISTER"]["ok"] == 24
    assert summary["registered"] == 24 and summary["requests"] == 96
    assert len(fake_server.reports) == 24
    # Pairs name each other: the ACTIVE's peer is the STANDBY's product instance and app id.
    authorize = [json.loads(doc["payload"]) for _, doc in fake_server.received if doc["header"]["type"] == "AUTHORIZE"]
    redundant = [p["app_redundancy"] for p in authorize if "app_redundancy" in p]
    assert len(redundant) == 6
    by_app = {r["app_id"]: r for r in redundant}
    for r in redundant:
        peer = by_app[r["peers"][0]["id"]]
        assert {r["app_role"], peer["app_role"]} == {"ACTIVE", "STANDBY"}
        assert peer["peers"][0]["id"] == r["app_id"]


def test_fleet_counts_failures_by_code(fake_server, capsys):
    code = main(
        ["--server", fake_server.url, "--token", "WRONG", "--devices", "5", "--concurrency", "2", "--json", "--quiet"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 1
    assert summary["failures"] == {"TOKEN_UNKNOWN": 5} and summary["registered"] == 0
    assert set(summary["latency_ms"]) == {"p50", "p95", "p99", "max", "mean"}


def test_fleet_schedule_reports_repeatedly(fake_server, capsys):
    code = main(
        [
            "--server",
            fake_server.url,
            "--token",
            "GOOD-TOKEN",
            "--devices",
            "4",
            "--concurrency",
            "4",
            "--licenses",
            "regid.a,1.0_x=1",
            "--report-interval",
            "0.5",
            "--duration",
            "2",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    reports = int(re.search(r"REPORT_USAGE\s+ok\s+(\d+)", out).group(1))
    assert 8 <= reports <= 20  # ~4 per device in 2 s
    assert "failed     0" in out or "failed 0" in out


def test_fleet_option_errors(capsys):
    for args in (
        ["--devices", "0"],
        ["--devices", "3", "--redundancy-pairs", "2"],
        ["--devices", "1", "--licenses", "x"],
    ):
        with pytest.raises(SystemExit) as caught:
            main(["--server", "http://127.0.0.1:9", "--token", "t", *args])
        assert caught.value.code == 2


def test_the_progress_line_counts_the_running_phase_as_its_summary_does():
    """It said "AUTHORIZE: 71 ok" (every message so far) where the phase's summary said 40."""
    fleet = Fleet(Config(server="https://127.0.0.1:1", token="T", devices=1, progress=False))
    for _ in range(31):
        fleet.stats.record("REGISTER", 0.01)
    for _ in range(40):
        fleet.stats.record("AUTHORIZE", 0.01)
    fleet.stats.record("AUTHORIZE", 0.01, "NOT_AUTHORIZED")
    fleet._phase = "AUTHORIZE"
    line = fleet.progress_line(rate=12.0)
    assert "AUTHORIZE: 40 ok, 1 failed (all messages: 71 ok, 1 failed), 12 req/s" in line
    assert fleet.stats.counts("AUTHORIZE") == (40, 1)

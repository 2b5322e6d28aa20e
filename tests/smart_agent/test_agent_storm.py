"""The reconnect storm against the fake server: refusals honoured with jitter, errors retried, every
device served (or counted as never served), and the devices file."""

import json
import os
import stat

import pytest

from smart_agent import RetryPolicy
from smart_agent.fleet import Config, Fleet
from smart_agent.fleet.storm import StormConfig, main, read_devices_file, run_storm, write_devices_file

TAG = "regid.2017-03.com.cisco.NETWORK_ESSENTIALS,1.0_x"


def registered_fleet(fake_server, tmp_path, devices=6):
    state_dir = tmp_path / "fleet"
    summary = Fleet(
        Config(
            server=fake_server.url,
            token="GOOD-TOKEN",
            devices=devices,
            concurrency=3,
            licenses=[(TAG, 1)],
            seed=4,
            state_dir=str(state_dir),
            progress=False,
        )
    ).run()
    assert summary["registered"] == devices and summary["failed"] == 0
    fake_server.received.clear()
    return state_dir


def received_types(fake_server):
    counts = {}
    for _path, document in fake_server.received:
        serial = json.loads(document["payload"])["sudi"]["udi_serial_number"]
        counts.setdefault(document["header"]["type"], set()).add(serial)
    return counts


def test_refused_devices_wait_out_retry_after_with_jitter_and_are_all_served(fake_server, tmp_path):
    state_dir = registered_fleet(fake_server, tmp_path)
    fake_server.script = [(503, {"Retry-After": "1"}, b'{"status":"FAILED","error_code":"SERVER_BUSY"}')] * 6 + [
        (429, {"Retry-After": "1"}, b"")
    ] * 2
    summary = run_storm(
        StormConfig(server=fake_server.url, window=0.2, concurrency=3, seed=1, progress=False), state_dir=state_dir
    )
    assert summary["devices"] == 6 and summary["served"] == 6 and summary["never_served"] == 0
    assert summary["refusals"] == 8 and summary["errors"] == 0 and summary["error_rate"] == 0
    assert summary["http_statuses"] == {"200": 12, "429": 2, "503": 6}
    assert summary["retry_after_honoured"] == 8 and summary["retry_after_early"] == 0
    assert summary["refusals_without_retry_after"] == 0
    waits = summary["retry_wait_ms"]
    # RetryPolicy.delay: never before Retry-After, then random jitter of up to 0.5 s (a device's first
    # retry) or 1 s (its second), plus scheduling slack.
    assert waits["p50"] >= 1000 and waits["max"] <= 2000 + 300
    assert waits["max"] > waits["p50"]  # spread: the devices do not come back together
    assert summary["completion_s"] >= 1.0
    # Every device authorized and reported once more, each report stored once (resends keep their id).
    types = received_types(fake_server)
    assert len(types["AUTHORIZE"]) == 6 and len(types["REPORT_USAGE"]) == 6
    for step in ("AUTHORIZE", "REPORT_USAGE"):
        row = summary["by_type"][step]
        assert row["ok"] == 6 and row["latency_ms"]["p99"] is not None and row["throughput_rps"] > 0
    assert sum(sum(row["refused"].values()) for row in summary["by_type"].values()) == 8


def test_a_served_device_sends_its_report_right_after_its_authorization(fake_server, tmp_path):
    """As a device does: not queued behind every device released before it (with one connection and
    every device released at once, that would be all the AUTHORIZEs first, then the reports)."""
    state_dir = registered_fleet(fake_server, tmp_path, devices=4)
    summary = run_storm(
        StormConfig(server=fake_server.url, window=0, concurrency=1, seed=2, progress=False), state_dir=state_dir
    )
    assert summary["served"] == 4
    sequence = [
        (document["header"]["type"], json.loads(document["payload"])["sudi"]["udi_serial_number"])
        for _path, document in fake_server.received
    ]
    assert [step for step, _serial in sequence] == ["AUTHORIZE", "REPORT_USAGE"] * 4
    assert all(sequence[i][1] == sequence[i + 1][1] for i in range(0, 8, 2))


def test_errors_are_counted_and_retried_with_backoff(fake_server, tmp_path):
    state_dir = registered_fleet(fake_server, tmp_path, devices=3)
    fake_server.script = [(500, {}, b"oops"), (502, {}, b"bad gateway")]
    summary = run_storm(
        StormConfig(
            server=fake_server.url, window=0, concurrency=1, seed=2, progress=False, retry=RetryPolicy(base_delay=0.05)
        ),
        state_dir=state_dir,
    )
    assert summary["served"] == 3 and summary["never_served"] == 0
    assert summary["errors"] == 2 and summary["by_type"]["AUTHORIZE"]["errors"] == {"HTTP_500": 1, "HTTP_502": 1}
    assert summary["http_5xx_other_than_503"] == 2
    assert summary["error_rate"] == pytest.approx(2 / summary["attempts"])


def test_devices_not_served_in_time_are_reported_and_fail_the_command(fake_server, tmp_path, capsys):
    state_dir = registered_fleet(fake_server, tmp_path, devices=2)
    fake_server.script = [(503, {"Retry-After": "30"}, b"")] * 2
    code = main(
        [
            "--server",
            fake_server.url,
            "--state-dir",
            str(state_dir),
            "--window",
            "0",
            "--max-duration",
            "1",
            "--json",
            "--quiet",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 1 and summary["served"] == 0 and summary["never_served"] == 2 and summary["refusals"] == 2


def test_devices_file_round_trip_is_private(tmp_path):
    path = tmp_path / "devices.jsonl"
    count = write_devices_file(
        path,
        chain_pems=["CHAIN-PEM"],
        devices=iter([{"identity": {"udi_pid": "A"}, "key": "K"}, {"identity": {"udi_pid": "B"}, "key": "L"}]),
    )
    assert count == 2 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    header, records = read_devices_file(path)
    assert header["chain"] == ["CHAIN-PEM"] and [r["identity"]["udi_pid"] for r in records] == ["A", "B"]
    other = tmp_path / "other.jsonl"
    other.write_text('{"something": "else"}\n')
    with pytest.raises(ValueError, match="not a storm devices file"):
        read_devices_file(other)


@pytest.fixture
def tls_fake_server(tmp_path):
    from tests.smart_agent.agent_fake_server import FakeServer

    server = FakeServer(tmp_path, tls=True)
    server.close_each = True  # a new connection for every message, as gunicorn's sync workers make
    yield server
    server.close()


@pytest.mark.parametrize("resume", [True, False])
def test_each_device_resumes_its_own_tls_session(tls_fake_server, tmp_path, resume):
    """As a device's TLS stack: its first connection is a full handshake, each later one resumes
    *its* session, though the devices share the simulator's connections."""
    devices = 4
    config = Config(
        server=tls_fake_server.url,
        token="GOOD-TOKEN",
        devices=devices,
        concurrency=2,
        licenses=[(TAG, 1)],
        seed=4,
        state_dir=str(tmp_path / "fleet"),
        progress=False,
        ca_file=str(tls_fake_server.ca_file),
        tls_resume=resume,
    )
    fleet = Fleet(config).run()
    assert fleet["registered"] == devices and fleet["failed"] == 0
    shakes = fleet["tls_handshakes"]
    assert sum(shakes.values()) == fleet["requests"]
    assert shakes == (
        {"full": devices, "resumed": fleet["requests"] - devices}
        if resume
        else {"full": fleet["requests"], "resumed": 0}
    )

    storm = run_storm(
        StormConfig(
            server=tls_fake_server.url,
            window=0,
            concurrency=2,
            seed=2,
            progress=False,
            ca_file=str(tls_fake_server.ca_file),
            tls_resume=resume,
        ),
        state_dir=tmp_path / "fleet",
    )
    assert storm["served"] == devices
    # The storm's agents are new (loaded from the state dir): AUTHORIZE is each one's first
    # connection, its REPORT_USAGE resumes that device's session.
    expected = {"full": devices, "resumed": devices} if resume else {"full": 2 * devices, "resumed": 0}
    assert storm["tls_handshakes"] == expected

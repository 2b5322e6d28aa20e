"""`python -m bench.run --quick --db sqlite --storm N`: the reconnect storm's rows in the table and the
JSON, with numbers, every device served and no errors — never how fast (that is the benchmark's)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.scenarios import storm

ROOT = Path(__file__).resolve().parents[2]
DEVICES = 120


@pytest.mark.live
def test_quick_bench_with_a_small_storm(tmp_path):
    output = tmp_path / "latest.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--db",
            "sqlite",
            "--sync-sizes",
            "0",
            "--storm",
            str(DEVICES),
            "--storm-window",
            "2",
            "--storm-concurrency",
            "48",
            "--output",
            str(output),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    results = json.loads(output.read_text())
    rows = {row["id"]: row for row in results["rows"]}
    for row_id in ("storm_authorize", "storm_report_usage"):
        row = rows[row_id]
        assert row["requests"] == DEVICES and row["errors"] == 0, row
        for field in ("throughput_rps", "p50_ms", "p95_ms", "p99_ms"):
            assert isinstance(row[field], (int, float)) and row[field] > 0, (row_id, field, row)
    total = rows["storm_total"]
    assert total["met"] is True and total["never_served"] == 0 and total["errors"] == 0, total
    assert total["seconds"] > 0 and total["error_rate"] == 0 and total["retry_after_early"] == 0
    assert results["storm"]["seeding"]["devices"] == DEVICES and results["storm"]["served"] == DEVICES
    for row in (rows["storm_authorize"], rows["storm_report_usage"], total):
        assert row["label"] in done.stdout


def test_storm_rows_say_whether_the_storm_was_clean():
    latency = {"p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0, "mean": 1.5}
    summary = {
        "devices": 10,
        "window_s": 10.0,
        "concurrency": 4,
        "served": 10,
        "never_served": 0,
        "completion_s": 12.5,
        "refusals": 7,
        "errors": 0,
        "error_rate": 0.0,
        "retry_after_honoured": 7,
        "retry_after_early": 0,
        "http_statuses": {"200": 20, "503": 7},
        "http_5xx_other_than_503": 0,
        "seeding": {"total_s": 1.0},
        "by_type": {
            "AUTHORIZE": {
                "ok": 10,
                "throughput_rps": 0.8,
                "latency_ms": latency,
                "time_to_served_ms": latency,
                "refused": {"503": 7},
                "errors": {},
            }
        },
    }
    rows = {row["id"]: row for row in storm.rows(summary)}
    assert rows["storm_total"]["met"] is True and rows["storm_authorize"]["throughput_rps"] == 0.8
    assert rows["storm_total"]["label"].startswith("Reconnect storm, 10 devices: 10 served in 12.5 s")
    summary.update(never_served=1, served=9)
    assert {row["id"]: row for row in storm.rows(summary)}["storm_total"]["met"] is False
    summary.update(never_served=0, served=10, http_5xx_other_than_503=1)
    assert {row["id"]: row for row in storm.rows(summary)}["storm_total"]["met"] is False

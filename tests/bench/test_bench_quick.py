"""`python -m bench.run --quick` end to end: the real `manage.py serve` (gunicorn + Celery worker)
in a private data dir, seeded with the service functions, loaded by the fleet simulator and the
HTTP load generator. Checks the JSON has every row with numbers and that nothing failed — never
how fast anything was (speed is the benchmark's business, not the suite's)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import run as bench_run
from bench.load import latency_summary, percentile
from bench.scenarios import api, sync

ROOT = Path(__file__).resolve().parents[2]
CPU = ("server_cpu_ms", "python_cpu_ms")  # PostgreSQL's is None on SQLite
DEVICE = ("throughput_rps", "p50_ms", "p95_ms", "p99_ms", "ratio_to_trivial", "ratio_to_healthz", *CPU)
NUMBERS = {
    "trivial_view": ("throughput_rps", "p50_ms", "p95_ms", "p99_ms", *CPU),
    "trivial_view_product": ("throughput_rps", "p50_ms", "p95_ms", "p99_ms", *CPU),
    "device_register": DEVICE,
    "device_authorize": DEVICE,
    "device_report_usage": DEVICE,
    "registrations_total": ("seconds", "projected_50000_s"),
    **{f"api_{name}": ("p50_ms", "p95_ms", "server_p50_ms", "server_p95_ms") for name in api.ENDPOINTS},
    "workspace_licenses": ("p50_ms", "p95_ms", "server_p50_ms", "server_p95_ms"),
    "workspace_product_instances": ("p50_ms", "p95_ms", "server_p50_ms", "server_p95_ms"),
}


@pytest.mark.live
def test_quick_bench_end_to_end(tmp_path):
    output = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--db", "sqlite", "--output", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    results = json.loads(output.read_text())
    rows = {row["id"]: row for row in results["rows"]}
    sync_rows = {
        f"sync_{what}_{size}"
        for size in results["config"]["sync_sizes"]
        for what in ("request_build", "response_apply")
    }
    assert sync_rows and set(rows) == set(NUMBERS) | sync_rows

    for row_id, fields in NUMBERS.items():
        for field in fields:
            value = rows[row_id][field]
            assert isinstance(value, (int, float)) and value >= 0, (row_id, field, value)
        assert rows[row_id]["errors"] == 0, rows[row_id]
    engine_missing = sync.availability()
    for row_id in sync_rows:  # numbers, or "not measured" and why when the sync engine cannot be measured
        row = rows[row_id]
        if engine_missing:
            assert row["status"] == "not measured" and row["reason"] == engine_missing
        else:
            assert isinstance(row["seconds"], (int, float)) and isinstance(row["peak_memory_mib"], (int, float)), row
            assert row["peak_memory_mib"] >= row["rss_before_mib"] > 0

    config = results["config"]
    assert results["devices"]["REGISTER"]["ok"] == config["devices"]
    assert results["devices"]["AUTHORIZE"]["ok"] == config["devices"]
    assert results["devices"]["REPORT_USAGE"]["ok"] == config["devices"]
    # The ratio is to the trivial view on the devices' own listener (the product listener).
    assert rows["device_register"]["ratio_to_trivial"] == pytest.approx(
        rows["device_register"]["throughput_rps"] / rows["trivial_view_product"]["throughput_rps"], abs=1e-3
    )
    assert rows["device_register"]["ratio_to_healthz"] == pytest.approx(
        rows["device_register"]["throughput_rps"] / rows["trivial_view"]["throughput_rps"], abs=1e-3
    )
    assert results["server"]["product_url"] != results["server"]["url"]
    # A device message costs the server more CPU than the trivial view (a signature, a transaction).
    assert rows["device_register"]["server_cpu_ms"] > rows["trivial_view_product"]["server_cpu_ms"] > 0
    assert results["machine"]["cpus"] >= 1 and results["server"]["database"] == "sqlite"
    # The printed table names every row.
    for row in results["rows"]:
        assert row["label"] in done.stdout


def test_percentiles_are_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50 and percentile(values, 0.95) == 95 and percentile(values, 0.99) == 99
    assert percentile([], 0.5) is None
    summary = latency_summary([0.010, 0.020, 0.030])
    assert summary["p50"] == 20.0 and summary["max"] == 30.0 and summary["mean"] == 20.0


def test_rows_mark_targets():
    """The table's verdicts follow bench/run.py's targets from the numbers it is given."""
    trivial = {
        "throughput_rps": 100.0,
        "latency_ms": {"p50": 1, "p95": 2, "p99": 3},
        "errors": 0,
        "requests": 10,
        "runs_rps": [100.0, 100.0],
    }

    def device(rps):
        return {
            "throughput_rps": rps,
            "latency_ms": {"p50": 1, "p95": 2, "p99": 3},
            "errors": 0,
            "messages": 10,
            "elapsed_s": 10 / rps,
        }

    page = {"latency_ms": {"p50": 10, "p95": 200}, "server_ms": {"p50": 5, "p95": 9}, "errors": 0, "requests": 5}
    results = {
        "trivial": trivial,
        "devices": {"REGISTER": device(55.0), "AUTHORIZE": device(30.0), "REPORT_USAGE": device(80.0)},
        "api": {"licenses": page, "devices": page, "alerts": page},
        "workspace": {"licenses": page},
        "sync": sync.not_measured("not yet"),
    }
    rows = {row["id"]: row for row in bench_run.build_rows(results, {"product_instances": 10})}
    assert rows["device_register"]["met"] is True and rows["device_register"]["ratio_to_trivial"] == 0.55
    assert rows["device_authorize"]["met"] is False
    assert rows["registrations_total"]["met"] is False  # 50,000 / 55 per second is far over 60 s
    assert rows["api_devices"]["met"] is False

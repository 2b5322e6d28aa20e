"""``make bench`` / ``python -m bench.run [--quick] [--devices N] [--db postgres|sqlite] ...``

Starts the server in its production shape (``manage.py serve``: gunicorn workers over HTTPS and
a Celery worker, on PostgreSQL ``onprem_bench`` and Redis db 15) in a private ONPREM_DATA_DIR,
seeds an account with the service functions, drives load, stops everything, prints one table
and writes it as JSON (``bench/results/latest.json``). See docs/performance.md.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from . import cpu, machine
from .scenarios import api, devices, storm, sync, trivial, workspace
from .server import BenchServer

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"

MODES = {
    # product instances seeded, devices registered, client threads, trivial-view seconds, API/page requests
    "full": {
        "product_instances": 25_000,
        "devices": 50_000,
        "concurrency": 8,
        "trivial_seconds": 20,
        "api_requests": 100,
        "page_requests": 30,
        "sync_sizes": [25_000, 250_000],
    },
    "quick": {
        "product_instances": 300,
        "devices": 40,
        "concurrency": 4,
        "trivial_seconds": 3,
        "api_requests": 8,
        "page_requests": 4,
        "sync_sizes": [200],
    },
}
# The targets the table's verdicts are given against (docs/performance.md).
TARGETS = {"REGISTER": 0.50, "AUTHORIZE": 0.60}
CPU_TARGETS_MS = {"REGISTER": 2.5, "AUTHORIZE": 2.0}  # server CPU per message (issue 23)
REGISTRATIONS_TARGET = (50_000, 60.0)  # devices, seconds
API_P95_TARGET_MS = 150
SYNC_TARGET = (250_000, 60.0, 1024)  # product instances, seconds, MiB of peak memory


def log(message):
    print(message, file=sys.stderr, flush=True)


CPU_FIELDS = ("server_cpu_ms", "python_cpu_ms", "postgres_cpu_ms")


def _cpu_of(row):
    return {key: row.get(key) for key in CPU_FIELDS}


def combine_runs(first, second):
    """Two runs of a trivial view as one: the mean throughput, the errors and requests of both, and
    the CPU per request of both runs together (each run's weighted by the requests it served)."""
    combined = {
        **first,
        "throughput_rps": round((first["throughput_rps"] + second["throughput_rps"]) / 2, 2),
        "errors": first["errors"] + second["errors"],
        "requests": first["requests"] + second["requests"],
        "runs_rps": [first["throughput_rps"], second["throughput_rps"]],
    }
    for key in CPU_FIELDS:
        runs = [(run.get(key), run.get("ok", 0)) for run in (first, second) if run.get(key) is not None]
        served = sum(ok for _, ok in runs)
        combined[key] = round(sum(value * ok for value, ok in runs) / served, 3) if served else None
    return combined


def _verdict(ratio, target, cpu_ms, cpu_target):
    checks = []
    if target and ratio is not None:
        checks.append(ratio >= target)
    if cpu_target and cpu_ms is not None:
        checks.append(cpu_ms <= cpu_target)
    return all(checks) if checks else None


def build_rows(results, config):
    """The table: one dict per row, the same in the printout and the JSON."""
    rows = []
    yard = results["trivial"]
    rows.append(
        {
            "id": "trivial_view",
            "label": "Trivial view GET /healthz (management)",
            "throughput_rps": yard["throughput_rps"],
            "p50_ms": yard["latency_ms"]["p50"],
            "p95_ms": yard["latency_ms"]["p95"],
            "p99_ms": yard["latency_ms"]["p99"],
            "errors": yard["errors"],
            "requests": yard["requests"],
            "runs_rps": yard["runs_rps"],
            **_cpu_of(yard),
        }
    )
    product = results.get("trivial_product")
    if product is not None:
        rows.append(
            {
                "id": "trivial_view_product",
                "label": "Trivial view GET /SmartTransport (product)",
                "throughput_rps": product["throughput_rps"],
                "p50_ms": product["latency_ms"]["p50"],
                "p95_ms": product["latency_ms"]["p95"],
                "p99_ms": product["latency_ms"]["p99"],
                "errors": product["errors"],
                "requests": product["requests"],
                "runs_rps": product["runs_rps"],
                **_cpu_of(product),
            }
        )
    # The device rows' yardstick: the trivial view on the devices' own listener when measured.
    yardstick = product if product is not None and product["throughput_rps"] else yard
    for name in ("REGISTER", "AUTHORIZE", "REPORT_USAGE"):
        row = results["devices"][name]
        ratio = round(row["throughput_rps"] / yardstick["throughput_rps"], 3) if yardstick["throughput_rps"] else None
        target, cpu_target = TARGETS.get(name), CPU_TARGETS_MS.get(name)
        wanted = [f">= {target:.0%} of trivial" if target else "", f"<= {cpu_target} ms CPU" if cpu_target else ""]
        rows.append(
            {
                "id": f"device_{name.lower()}",
                "label": f"Device {name}",
                "throughput_rps": row["throughput_rps"],
                "p50_ms": row["latency_ms"]["p50"],
                "p95_ms": row["latency_ms"]["p95"],
                "p99_ms": row["latency_ms"]["p99"],
                "errors": row["errors"],
                "requests": row["messages"],
                "ratio_to_trivial": ratio,
                "ratio_to_healthz": (
                    round(row["throughput_rps"] / yard["throughput_rps"], 3) if yard["throughput_rps"] else None
                ),
                **_cpu_of(row),
                "target": ", ".join(w for w in wanted if w) or None,
                "met": _verdict(ratio, target, row.get("server_cpu_ms"), cpu_target),
            }
        )
    register = results["devices"]["REGISTER"]
    n, limit = REGISTRATIONS_TARGET
    rows.append(
        {
            "id": "registrations_total",
            "label": f"{register['messages']} registrations",
            "seconds": register["elapsed_s"],
            "errors": register["errors"],
            "projected_50000_s": round(n / register["throughput_rps"], 1) if register["throughput_rps"] else None,
            "target": f"{n} in < {limit:.0f} s, 0 errors",
            "met": (
                register["errors"] == 0
                and register["throughput_rps"] is not None
                and n / register["throughput_rps"] < limit
            )
            if register["messages"]
            else None,
        }
    )
    for name in api.ENDPOINTS:
        row = results["api"].get(name)
        if row is None:
            rows.append(
                {
                    "id": f"api_{name}",
                    "label": f"API {name}",
                    "status": "not measured",
                    "reason": results["api"].get("_reason"),
                }
            )
            continue
        rows.append(
            {
                "id": f"api_{name}",
                "label": f"API {name} ({config['product_instances']} PIs, page of 50)",
                "p50_ms": row["latency_ms"]["p50"],
                "p95_ms": row["latency_ms"]["p95"],
                "server_p50_ms": row["server_ms"]["p50"],
                "server_p95_ms": row["server_ms"]["p95"],
                "errors": row["errors"],
                "requests": row["requests"],
                "target": f"p95 < {API_P95_TARGET_MS} ms",
                "met": row["latency_ms"]["p95"] is not None and row["latency_ms"]["p95"] < API_P95_TARGET_MS,
            }
        )
    for name, row in results["workspace"].items():
        rows.append(
            {
                "id": f"workspace_{name}",
                "label": f"Workspace {name.replace('_', ' ')} page ({config['product_instances']} PIs)",
                "p50_ms": row["latency_ms"]["p50"],
                "p95_ms": row["latency_ms"]["p95"],
                "server_p50_ms": row["server_ms"]["p50"],
                "server_p95_ms": row["server_ms"]["p95"],
                "errors": row["errors"],
                "requests": row["requests"],
            }
        )
    for key, row in results["sync"].items():
        what, size = key.rsplit("_", 1)
        label = f"Sync {'full request build' if what == 'request_build' else 'response apply'} ({int(size)} PIs)"
        out = {"id": f"sync_{key}", "label": label, **row}
        if "seconds" in row:
            out["peak_memory_mib"] = row["peak_rss_mib"]
        if what == "request_build" and int(size) >= SYNC_TARGET[0]:
            out["target"] = f"< {SYNC_TARGET[1]:.0f} s, < {SYNC_TARGET[2]} MiB"
            out["met"] = (
                (row["seconds"] < SYNC_TARGET[1] and row["peak_rss_mib"] < SYNC_TARGET[2]) if "seconds" in row else None
            )
        rows.append(out)
    if "storm" in results:  # --storm N: the reconnect storm's rows (bench/scenarios/storm.py)
        rows.extend(storm.rows(results["storm"]))
    return rows


def _fmt(value, suffix=""):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}{suffix}" if abs(value) >= 10 else f"{value:.2f}{suffix}"
    return f"{value}{suffix}"


def print_table(rows, out=sys.stdout):
    header = (
        f"{'row':<44} {'req/s':>9} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9} {'srv p95':>8} {'ratio':>6} "
        f"{'CPU ms':>7} {'errors':>6}  target"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for row in rows:
        if row.get("status") == "not measured":
            print(f"{row['label']:<44} not measured: {row.get('reason')}", file=out)
            continue
        if row["id"].startswith("sync_"):
            verdict = {True: "MET", False: "NOT MET", None: ""}[row.get("met")]
            print(
                (
                    f"{row['label']:<44} {_fmt(row['seconds'], ' s'):>9}, peak memory {_fmt(row['peak_memory_mib'])} "
                    f"MiB (before: {_fmt(row['rss_before_mib'])} MiB) {'':>15} {row.get('target') or ''} {verdict}"
                ).rstrip(),
                file=out,
            )
            continue
        if row["id"] == "registrations_total":
            verdict = {True: "MET", False: "NOT MET", None: ""}[row["met"]]
            print(
                f"{row['label']:<44} {_fmt(row['seconds'], ' s'):>9} (50,000 projected: "
                f"{_fmt(row['projected_50000_s'], ' s')}) {'':>23} {row['errors']:>6}  {row['target']} {verdict}",
                file=out,
            )
            continue
        verdict = {True: "MET", False: "NOT MET", None: ""}[row.get("met")]
        print(
            f"{row['label']:<44} {_fmt(row.get('throughput_rps')):>9} {_fmt(row.get('p50_ms')):>9} "
            f"{_fmt(row.get('p95_ms')):>9} {_fmt(row.get('p99_ms')):>9} {_fmt(row.get('server_p95_ms')):>8} "
            f"{_fmt(row.get('ratio_to_trivial')):>6} {_fmt(row.get('server_cpu_ms')):>7} {row.get('errors', 0):>6}  "
            f"{row.get('target') or ''} {verdict}".rstrip(),
            file=out,
        )


def failed_rows(results):
    """The device phases and trivial runs of ``results`` that had errors (their logs are then kept)."""
    failed = [name for name, row in results.get("devices", {}).items() if not name.startswith("_") and row["errors"]]
    return failed + [name for name in ("trivial", "trivial_product") if results.get(name, {}).get("errors")]


def _with_cpu(meter, action):
    """``action()``'s load result with the server's CPU per successful request added."""
    before = meter.read()
    result = action()
    result.update(cpu.per_message(before, meter.read(), result["ok"]))
    return result


def run(args):
    config = dict(MODES["quick" if args.quick else "full"])
    for key in ("product_instances", "devices", "concurrency"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)
    if args.sync_sizes is not None:
        config["sync_sizes"] = [int(n) for n in args.sync_sizes.split(",") if int(n) > 0]
    results = {"mode": "quick" if args.quick else "full", "config": config, "machine": machine.describe()}
    server = BenchServer(database=args.db, web_workers=args.web_workers, log=log)
    results["server"] = server.describe()
    started = time.perf_counter()
    meter = None
    try:
        log(f"bench: fresh {args.db} database, migrate ...")
        server.prepare()
        log(f"bench: seeding {config['product_instances']} product instances ...")
        t0 = time.perf_counter()
        seeded = server.seed(config["product_instances"])
        results["seed_s"] = round(time.perf_counter() - t0, 1)
        try:
            client_id, client_secret = server.api_credentials(seeded["account"])
        except Exception as exc:  # noqa: BLE001 - the API rows then say why
            client_id, client_secret, api_reason = None, None, f"no API credentials: {exc}"
        log(f"bench: starting manage.py serve ({args.web_workers} gunicorn workers) on {server.url} ...")
        server.start()
        # The server's CPU per message, from /proc (bench/cpu.py): its process tree and its
        # database's backends.
        meter = cpu.Meter(server.proc.pid, server.pg_url if args.db == "postgres" else None)
        # Warm-up: every worker imports and connects before anything is timed.
        trivial.run(server, concurrency=config["concurrency"], duration=2)
        trivial.run_product(server, concurrency=config["concurrency"], duration=1)

        def trivial_runs():
            seconds = config["trivial_seconds"]
            return (
                _with_cpu(meter, lambda: trivial.run(server, concurrency=config["concurrency"], duration=seconds)),
                _with_cpu(
                    meter, lambda: trivial.run_product(server, concurrency=config["concurrency"], duration=seconds)
                ),
            )

        log("bench: trivial view (management /healthz, product listener) ...")
        first, first_product = trivial_runs()

        log("bench: API ...")
        if client_id:
            access_token = api.token(server, client_id, client_secret)
            results["api"] = api.run(server, seeded, access_token, requests_per_endpoint=config["api_requests"])
        else:
            results["api"] = {"_reason": api_reason}
        log("bench: workspace pages ...")
        results["workspace"] = workspace.run(server, seeded, requests_per_page=config["page_requests"])

        log(f"bench: {config['devices']} devices, {config['concurrency']} client threads ...")
        results["devices"] = devices.run(
            server, seeded, devices=config["devices"], concurrency=config["concurrency"], log=log, meter=meter
        )

        log("bench: trivial view again ...")
        second, second_product = trivial_runs()
        # The yardstick is the mean of the runs before and after the devices (the machine is shared).
        results["trivial"] = combine_runs(first, second)
        results["trivial_product"] = combine_runs(first_product, second_product)
        log(f"bench: synchronization at {', '.join(map(str, config['sync_sizes']))} product instances ...")
        results["sync"] = sync.run(server, sizes=config["sync_sizes"], log=log)
        if args.storm:
            log(f"bench: reconnect storm, {args.storm} devices ...")
            results["storm"] = storm.run(
                server,
                seeded,
                devices=args.storm,
                window=args.storm_window,
                concurrency=args.storm_concurrency,
                log=log,
            )
    finally:
        if meter is not None:
            meter.close()
        failed = failed_rows(results)
        if failed and not args.keep:
            log(f"bench: errors in {', '.join(failed)}: the server's data dir and logs are kept in {server.root}")
        server.cleanup(keep=args.keep or bool(failed))
    results["machine"]["load_average_end"] = [round(x, 2) for x in __import__("os").getloadavg()]
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    results["rows"] = build_rows(results, config)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small numbers, under 2 minutes (the smoke test)")
    parser.add_argument("--devices", type=int, help="devices to register (full: 50000)")
    parser.add_argument("--product-instances", type=int, help="product instances seeded (full: 25000)")
    parser.add_argument("--concurrency", type=int, help="client threads for device and trivial-view load")
    parser.add_argument("--sync-sizes", help="product instances for the sync rows, e.g. 25000,250000 (full) or 0: none")
    parser.add_argument("--web-workers", type=int, default=4, help="gunicorn workers (default 4)")
    parser.add_argument(
        "--db",
        choices=("postgres", "sqlite"),
        default="postgres",
        help="postgres (127.0.0.1:5432, database onprem_bench, Redis db 15) or sqlite",
    )
    parser.add_argument("--output", default=str(RESULTS), help=f"JSON file (default {RESULTS})")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs) under /tmp")
    parser.add_argument(
        "--storm",
        type=int,
        default=0,
        metavar="N",
        help="also run the reconnect storm with N registered devices (0: none; full size 50000)",
    )
    parser.add_argument("--storm-window", type=float, default=storm.DEFAULTS["window"], help="seconds (10)")
    parser.add_argument(
        "--storm-concurrency", type=int, default=storm.DEFAULTS["concurrency"], help="storm requests in flight (128)"
    )
    args = parser.parse_args(argv)
    results = run(args)
    print_table(results["rows"])
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    log(f"bench: {results['elapsed_s']} s; results in {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reconnect storm: N registered devices all send AUTHORIZE then REPORT_USAGE within a short window.

``bench.storm_seed`` makes the N registered devices in bulk (real keys, real ID certificates from
the account's authority, in the fleet's virtual account) and the devices file; the storm
(``smart_agent.fleet.storm``) releases them over ``window`` seconds with at most ``concurrency``
requests in flight. The server sheds what it cannot take with 503 + Retry-After
(licensing/transport/admission.py); the devices wait, with jitter, and come back. The rows: each
message type's throughput and latency (request to verified reply, successful exchanges), and
the storm as a whole — completion time, devices never served (must be 0), refusals, errors
(timeouts, connection errors, 5xx other than the 503 refusals) and the error rate.

``python -m bench.run --storm N`` runs it after the other rows; ``python -m bench.scenarios.storm
--devices N`` runs it alone on a fresh server (seeded by bench.seed, no other scenario).
"""

import json
import sys
import time

from smart_agent.fleet.storm import StormConfig, run_storm

DEFAULTS = {"window": 10.0, "concurrency": 128}


def run(
    server,
    seeded,
    *,
    devices,
    window=DEFAULTS["window"],
    concurrency=DEFAULTS["concurrency"],
    seed=3,
    max_duration=4 * 3600,
    log=print,
):
    path = server.root / "storm-devices.jsonl"
    log(f"  storm: seeding {devices} registered devices ...")
    out = server.python(
        "-m",
        "bench.storm_seed",
        "--devices",
        str(devices),
        "--token",
        seeded["token"],
        "--licenses",
        "|".join(seeded["licenses"]),
        "--output",
        str(path),
    )
    seeding = json.loads(next(line for line in out.splitlines() if line.startswith("STORM_SEED "))[11:])
    log(f"  storm: seeded in {seeding['total_s']} s ({seeding})")
    if server.database == "postgres":
        server.analyze()
    config = StormConfig(
        server=server.url,
        window=window,
        concurrency=concurrency,
        ca_file=str(server.cert),
        timeout=30.0,
        seed=seed,
        max_duration=max_duration,
        progress=True,
    )
    log(f"  storm: {devices} devices released over {window} s, {concurrency} in flight ...")
    summary = run_storm(config, devices_file=path)
    path.unlink(missing_ok=True)  # it holds private keys
    log(
        f"  storm: {summary['served']} served, {summary['never_served']} never served in {summary['completion_s']} s; "
        f"{summary['refusals']} refused, {summary['errors']} errors; TLS handshakes {summary.get('tls_handshakes')}"
    )
    return {"seeding": seeding, **summary}


def rows(storm):
    """The storm's rows for bench.run's table (the generic columns)."""
    out = []
    label = f"{storm['devices']} devices, window {storm['window_s']:g} s, {storm['concurrency']} in flight"
    for step, row in storm["by_type"].items():
        out.append(
            {
                "id": f"storm_{step.lower()}",
                "label": f"Storm {step} ({label})",
                "throughput_rps": row["throughput_rps"],
                "p50_ms": row["latency_ms"]["p50"],
                "p95_ms": row["latency_ms"]["p95"],
                "p99_ms": row["latency_ms"]["p99"],
                "errors": sum(row["errors"].values()),
                "requests": row["ok"],
                "refused": row["refused"],
                "time_to_served_ms": row["time_to_served_ms"],
            }
        )
    clean = storm["never_served"] == 0 and storm["errors"] == 0 and storm["http_5xx_other_than_503"] == 0
    out.append(
        {
            "id": "storm_total",
            "label": f"Reconnect storm, {storm['devices']} devices: {storm['served']} served in "
            f"{storm['completion_s']:g} s, {storm['never_served']} never served, {storm['refusals']} "
            f"refused (429/503), error rate {storm['error_rate']}",
            "seconds": storm["completion_s"],
            "errors": storm["errors"],
            "never_served": storm["never_served"],
            "refusals": storm["refusals"],
            "error_rate": storm["error_rate"],
            "retry_after_honoured": storm["retry_after_honoured"],
            "retry_after_early": storm["retry_after_early"],
            "http_statuses": storm["http_statuses"],
            "tls_handshakes": storm.get("tls_handshakes"),
            "seed_s": storm["seeding"]["total_s"],
            "target": "every device served, no timeouts, no 5xx but 503 + Retry-After",
            "met": clean,
        }
    )
    return out


def main(argv=None):
    """The storm alone: a fresh server (bench.server), bench.seed's data, the storm, its rows."""
    import argparse
    from pathlib import Path

    from ..run import print_table
    from ..server import BenchServer

    parser = argparse.ArgumentParser(prog="python -m bench.scenarios.storm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=50_000, help="registered devices released (50000)")
    parser.add_argument("--window", type=float, default=DEFAULTS["window"], help="seconds (10)")
    parser.add_argument("--concurrency", type=int, default=DEFAULTS["concurrency"], help="requests in flight (128)")
    parser.add_argument(
        "--max-duration",
        type=float,
        default=4 * 3600,
        help="seconds before devices not yet served count as never served (14400)",
    )
    parser.add_argument("--product-instances", type=int, default=300, help="bench.seed's account size (300)")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--db-name",
        default="onprem_bench_storm",
        help="PostgreSQL database (dropped and created; onprem_bench...; default onprem_bench_storm)",
    )
    parser.add_argument(
        "--redis-db",
        type=int,
        default=14,
        help="Redis database number on 127.0.0.1:6379, flushed before and after (14)",
    )
    parser.add_argument("--output", help="JSON file for the result")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (logs) under /tmp")
    args = parser.parse_args(argv)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    # Its own database and Redis db, so that it can run beside bench.run (onprem_bench, Redis db 15).
    server = BenchServer(database=args.db, web_workers=args.web_workers, db_name=args.db_name, redis=False, log=log)
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    if args.db == "postgres":
        import redis

        server.env["REDIS_URL"] = redis_url
        redis.Redis.from_url(redis_url).flushdb()
    started = time.perf_counter()
    try:
        server.prepare()
        seeded = server.seed(args.product_instances)
        server.start()
        result = run(
            server,
            seeded,
            devices=args.devices,
            window=args.window,
            concurrency=args.concurrency,
            max_duration=args.max_duration,
            log=log,
        )
    finally:
        server.cleanup(keep=args.keep)
        if args.db == "postgres":
            redis.Redis.from_url(redis_url).flushdb()
    result["elapsed_total_s"] = round(time.perf_counter() - started, 1)
    table = rows(result)
    print_table(table)
    if args.output:
        Path(args.output).write_text(json.dumps({"storm": result, "rows": table}, indent=2, sort_keys=True) + "\n")
    return 0 if table[-1]["met"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""``python -m smart_agent.fleet --server URL --token T --devices N ...`` (see docs/smart-agent.md)."""

import argparse
import json
import sys

from .runner import Config, Fleet, parse_licenses


def licenses(text):
    try:
        return parse_licenses(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m smart_agent.fleet", description="Simulate a fleet of smart-licensed devices against a server."
    )
    parser.add_argument("--server", required=True, help="server URL, e.g. https://localhost:8443")
    parser.add_argument("--token", required=True, help="registration token every device registers with")
    parser.add_argument("--devices", type=int, required=True, help="number of simulated devices")
    parser.add_argument("--concurrency", type=int, default=20, help="parallel requests (default 20)")
    parser.add_argument(
        "--licenses",
        type=licenses,
        action="append",
        default=[],
        metavar="TAG=COUNT,...",
        help="licenses to authorize: each device takes a random mix of them (repeatable)",
    )
    parser.add_argument(
        "--redundancy-pairs", type=int, default=0, metavar="K", help="the first 2K devices form K ACTIVE/STANDBY pairs"
    )
    parser.add_argument(
        "--report-interval",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds between two usage reports of a device (default 60)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=0.0,
        metavar="S",
        help="keep reporting for S seconds (default 0: one report per device)",
    )
    parser.add_argument("--deregister", action="store_true", help="deregister every device at the end")
    parser.add_argument("--force", action="store_true", help="register with force (move devices between VAs)")
    parser.add_argument("--seed", type=int, help="random seed: the same seed gives the same devices")
    parser.add_argument("--state-dir", help="keep each device's state under DIR/<serial> (default: in memory)")
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--ca-file", help="PEM CA bundle that signed the server's TLS certificate")
    tls.add_argument("--insecure", action="store_true", help="do not verify the server's TLS certificate")
    parser.add_argument("--legacy", action="store_true", help="use the XML-wrapped Call Home path")
    parser.add_argument(
        "--no-tls-resume",
        action="store_true",
        help="a full TLS handshake on every connection (default: each device resumes its session)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP exchange")
    parser.add_argument("--retries", type=int, default=8, help="retries after HTTP 429/503 (default 8)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser


def print_summary(summary, out):
    lat = summary["latency_ms"]
    print(
        f"Devices: {summary['devices']} ({summary['registered']} registered, {summary['authorized']} authorized, "
        f"{summary['redundancy_pairs']} redundancy pairs), concurrency {summary['concurrency']}",
        file=out,
    )
    print(
        f"Requests: {summary['requests']} in {summary['elapsed_s']} s = {summary['requests_per_second']} req/s; "
        f"{summary['ok']} ok, {summary['failed']} failed; {summary['throttled']} throttled (429/503)",
        file=out,
    )
    print(f"Latency ms: p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}", file=out)
    for operation, row in summary["by_type"].items():
        failures = ", ".join(f"{code} {n}" for code, n in sorted(row["failures"].items())) or "-"
        print(
            f"  {operation:<13} ok {row['ok']:>6}  failed {row['failed']:>5} ({failures})  "
            f"p50 {row['latency_ms']['p50']} p95 {row['latency_ms']['p95']} p99 {row['latency_ms']['p99']}",
            file=out,
        )


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.devices < 1 or args.concurrency < 1:
        parser.error("--devices and --concurrency must be at least 1")
    if args.redundancy_pairs < 0 or args.redundancy_pairs * 2 > args.devices:
        parser.error("--redundancy-pairs K needs 0 <= 2K <= --devices")
    if args.report_interval <= 0 or args.duration < 0:
        parser.error("--report-interval must be > 0 and --duration >= 0")
    config = Config(
        server=args.server,
        token=args.token,
        devices=args.devices,
        concurrency=args.concurrency,
        licenses=[item for group in args.licenses for item in group],
        redundancy_pairs=args.redundancy_pairs,
        report_interval=args.report_interval,
        duration=args.duration,
        deregister=args.deregister,
        force=args.force,
        seed=args.seed,
        state_dir=args.state_dir,
        ca_file=args.ca_file,
        insecure=args.insecure,
        legacy=args.legacy,
        timeout=args.timeout,
        retries=args.retries,
        progress=not args.quiet,
        tls_resume=not args.no_tls_resume,
    )
    try:
        summary = Fleet(config).run()
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        print_summary(summary, sys.stdout)
    return 0 if summary["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

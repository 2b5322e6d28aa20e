"""``manage.py soak --server URL --token T --minutes N``: a bounded soak test (see onprem/soak.py)."""
import json

from django.core.management.base import BaseCommand, CommandError

from onprem.soak import soak
from smart_agent.fleet.runner import parse_licenses


class Command(BaseCommand):
    help = "Run the fleet simulator against a server for N minutes; report errors and memory growth."

    def add_arguments(self, parser):
        parser.add_argument("--server", required=True)
        parser.add_argument("--token", required=True)
        parser.add_argument("--minutes", type=float, required=True)
        parser.add_argument("--devices", type=int, default=100)
        parser.add_argument("--concurrency", type=int, default=10)
        parser.add_argument("--report-interval", type=float, default=10.0)
        parser.add_argument("--licenses", default="", help="TAG=COUNT,... each device authorizes")
        parser.add_argument("--server-pid", type=int, help="pid of `manage.py serve`: its process tree is watched")
        parser.add_argument("--ca-file")
        parser.add_argument("--insecure", action="store_true")
        parser.add_argument("--json", action="store_true")

    def handle(self, **o):
        if not 0 < o["minutes"] <= 24 * 60:
            raise CommandError("--minutes must be more than 0 and at most 1440 (the soak is bounded).")
        if o["devices"] < 1 or o["concurrency"] < 1 or o["report_interval"] <= 0:
            raise CommandError("--devices, --concurrency and --report-interval must be positive.")
        try:
            licenses = parse_licenses(o["licenses"]) if o["licenses"] else []
        except ValueError as error:
            raise CommandError(str(error)) from error
        result = soak(server=o["server"], token=o["token"], minutes=o["minutes"], devices=o["devices"],
                      server_pid=o["server_pid"], ca_file=o["ca_file"], insecure=o["insecure"], licenses=licenses,
                      report_interval=o["report_interval"], concurrency=o["concurrency"])
        if o["json"]:
            self.stdout.write(json.dumps(result, indent=2, sort_keys=True) + "\n")
        else:
            self.stdout.write(f"{result['requests']} requests in {result['elapsed_s']} s: {result['ok']} ok, "
                              f"{result['failed']} failed {result['failures'] or ''}\n")
            lat = result["latency_ms"]
            self.stdout.write(f"latency ms p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']}\n")
            for row in result["memory"]:
                self.stdout.write(f"  pid {row['pid']:>7} {row['process']:<60} {row['rss_start_mb']:>7} MB -> "
                                  f"{row['rss_end_mb']:>7} MB (peak {row['rss_peak_mb']}, {row['growth_percent']}%)\n")
        if result["failed"]:
            raise CommandError(f"{result['failed']} request(s) failed during the soak.")

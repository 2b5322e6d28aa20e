"""Soak test: the fleet simulator against a running server for N minutes, watching its memory.

The devices register once, then report usage on a schedule for the whole duration (the
steady load of a real installation). Meanwhile the resident memory of the server's process
tree (``serve`` and its gunicorn master and workers, Celery worker and beat) is sampled;
the report gives the requests, the failures by error code and, per process, the memory at
the start of the steady phase, at the end, and its growth. A leak shows as growth that keeps
rising with the duration; a short run mostly measures warm-up.
"""

import threading
import time
from dataclasses import dataclass, field

import psutil

from smart_agent.fleet.runner import Config, Fleet


@dataclass
class MemoryWatch:
    pid: int
    interval: float = 2.0
    samples: dict = field(default_factory=dict)  # pid -> [(t, rss)]
    names: dict = field(default_factory=dict)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self):
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def sample(self):
        now = time.monotonic()
        for process in self._tree():
            try:
                rss = process.memory_info().rss
                self.names.setdefault(process.pid, " ".join(process.cmdline()[:4])[:80])
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            self.samples.setdefault(process.pid, []).append((now, rss))

    def _run(self):
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self):
        self.sample()
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.sample()

    def report(self):
        rows = []
        for pid, points in sorted(self.samples.items()):
            first, last = points[0][1], points[-1][1]
            rows.append(
                {
                    "pid": pid,
                    "process": self.names.get(pid, "?"),
                    "samples": len(points),
                    "rss_start_mb": round(first / 2**20, 1),
                    "rss_end_mb": round(last / 2**20, 1),
                    "rss_peak_mb": round(max(rss for _, rss in points) / 2**20, 1),
                    "growth_percent": round((last - first) * 100 / first, 1) if first else None,
                }
            )
        return rows


def soak(
    *,
    server,
    token,
    minutes,
    devices,
    server_pid=None,
    ca_file=None,
    insecure=False,
    licenses=(),
    report_interval=10.0,
    concurrency=10,
):
    config = Config(
        server=server,
        token=token,
        devices=devices,
        concurrency=concurrency,
        licenses=list(licenses),
        report_interval=report_interval,
        duration=minutes * 60,
        ca_file=ca_file,
        insecure=insecure,
        progress=False,
    )
    watch = MemoryWatch(server_pid) if server_pid else None
    if watch:
        watch.start()
    started = time.monotonic()
    try:
        summary = Fleet(config).run()
    finally:
        if watch:
            watch.stop()
    return {
        "minutes": minutes,
        "elapsed_s": round(time.monotonic() - started, 1),
        "devices": devices,
        "requests": summary["requests"],
        "ok": summary["ok"],
        "failed": summary["failed"],
        "failures": {op: row["failures"] for op, row in summary["by_type"].items() if row["failures"]},
        "latency_ms": summary["latency_ms"],
        "memory": watch.report() if watch else [],
    }


def main(argv=None):
    """``python -m bench.soak --server URL --token T --minutes N``: the bounded soak from the shell."""
    import argparse
    import json
    import sys

    from smart_agent.fleet.runner import parse_licenses

    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=("Run the fleet simulator against a server for N minutes; report errors and memory growth."),
    )
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
    o = vars(parser.parse_args(argv))
    if not 0 < o["minutes"] <= 24 * 60:
        parser.error("--minutes must be more than 0 and at most 1440 (the soak is bounded).")
    if o["devices"] < 1 or o["concurrency"] < 1 or o["report_interval"] <= 0:
        parser.error("--devices, --concurrency and --report-interval must be positive.")
    try:
        licenses = parse_licenses(o["licenses"]) if o["licenses"] else []
    except ValueError as error:
        parser.error(str(error))
    result = soak(
        server=o["server"],
        token=o["token"],
        minutes=o["minutes"],
        devices=o["devices"],
        server_pid=o["server_pid"],
        ca_file=o["ca_file"],
        insecure=o["insecure"],
        licenses=licenses,
        report_interval=o["report_interval"],
        concurrency=o["concurrency"],
    )
    if o["json"]:
        print(json.dumps(result, indent=2, sort_keys=True))
    else:
        print(
            f"{result['requests']} requests in {result['elapsed_s']} s: {result['ok']} ok, "
            f"{result['failed']} failed {result['failures'] or ''}"
        )
        lat = result["latency_ms"]
        print(f"latency ms p50 {lat['p50']} p95 {lat['p95']} p99 {lat['p99']}")
        for row in result["memory"]:
            print(
                f"  pid {row['pid']:>7} {row['process']:<60} {row['rss_start_mb']:>7} MB -> "
                f"{row['rss_end_mb']:>7} MB (peak {row['rss_peak_mb']}, {row['growth_percent']}%)"
            )
    if result["failed"]:
        sys.exit(f"{result['failed']} request(s) failed during the soak.")


if __name__ == "__main__":
    main()

"""Profile the device messages inside one process: ``python -m bench.profile_device [--devices N]``.

Builds a fresh bench database (like ``bench.run``), then runs the reference agent against the
Django application in-process (the test client, the whole middleware stack, no sockets). Per
message type, half of the devices are timed without the profiler: the server side's CPU per
message (``time.process_time`` around the view, the agent's own cryptography left out), the CPU
the PostgreSQL backend spent on them (from /proc, when the server runs on this machine), both
next to the CPU of one ``GET /healthz`` (the benchmark's trivial view). The other half runs
under cProfile: SQL statements per message, the slowest ones, the hottest functions
(``--show-sql``: every statement of one message). The last lines (``CPU {...}``, ``QUERIES
{...}``) are the numbers in JSON.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import sys
import time
from collections import Counter, defaultdict


class InProcessTransport:
    """The smart_agent Transport interface, answered by Django's test client.

    ``cpu`` adds up the CPU seconds of the server's side only (the view through the whole
    middleware stack): the agent's own key generation and signing happen outside it.
    """

    def __init__(self, client):
        self.client = client
        self.cpu = 0.0

    def post(self, make_body, tls_session=None):
        body = make_body().encode()
        started = time.process_time()
        reply = self.client.post(
            "/SmartTransport", data=body, content_type="application/json", secure=True, HTTP_HOST="localhost"
        )
        self.cpu += time.process_time() - started
        if reply.status_code != 200:
            raise RuntimeError(f"HTTP {reply.status_code}: {reply.content[:300]!r}")
        return reply.content

    def close(self):
        pass


def inner(token, tags, devices, top, show_sql=False):
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onprem.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from smart_agent import Agent
    from smart_agent.fleet import identities
    from smart_agent.state import MemoryStore

    transport = InProcessTransport(Client())
    agents = [
        Agent("https://localhost", identity=identity, store=MemoryStore(), transport=transport)
        for identity in identities.generate(devices + 1, seed=3)
    ]
    # One device first, unprofiled: imports, caches and the account's signing material warm up.
    agents[0].register(token)
    agents[0].authorize({tag: 1 for tag in tags})
    agents[0].report()
    trivial = _trivial_cpu(transport.client)
    print(f"Trivial view GET /healthz: {trivial * 1000:.2f} ms of CPU per request")
    # The first half of the devices is timed (no cProfile, no query capture), the second half profiled.
    timed, profiled = agents[1 : devices // 2 + 1], agents[devices // 2 + 1 :]
    queries = defaultdict(list)
    texts = defaultdict(Counter)
    seconds = defaultdict(Counter)
    cpu, db_cpu = {}, {}
    for name, call in (
        ("REGISTER", lambda a: a.register(token)),
        ("AUTHORIZE", lambda a: a.authorize({tag: 1 for tag in tags})),
        ("REPORT_USAGE", lambda a: a.report()),
    ):
        transport.cpu = 0.0
        backend_before = _backend_cpu(connection)
        for agent in timed:
            call(agent)
        cpu[name] = transport.cpu / len(timed)
        if backend_before is not None:
            db_cpu[name] = (_backend_cpu(connection) - backend_before) / len(timed)
        profile = cProfile.Profile()
        for agent in profiled:
            with CaptureQueriesContext(connection) as captured:
                profile.enable()
                call(agent)
                profile.disable()
            queries[name].append(len(captured.captured_queries))
            for q in captured.captured_queries:
                texts[name][q["sql"][:160]] += 1
                seconds[name][q["sql"][:160]] += float(q["time"] or 0)
        if show_sql:
            print(f"\n----- {name}: every statement of the last message")
            for q in captured.captured_queries:
                print(f"  {' '.join(q['sql'].split())[:400]}")
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        print(
            f"\n===== {name}: {len(profiled)} messages profiled; SQL queries per message: "
            f"min {min(queries[name])} max {max(queries[name])}; server CPU per message "
            f"{cpu[name] * 1000:.2f} ms ({len(timed)} unprofiled messages; "
            f"{cpu[name] / trivial:.1f}x the trivial view)"
            + (f"; PostgreSQL backend CPU per message {db_cpu[name] * 1000:.2f} ms" if name in db_cpu else "")
        )
        for sql, total in seconds[name].most_common(15):
            print(f"  {total * 1000 / texts[name][sql]:7.2f} ms x{texts[name][sql] / len(profiled):4.1f}  {sql}")
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        stats.print_callers("redis/client.py:.*__init__")
        print(out.getvalue())
    print(
        "CPU "
        + json.dumps(
            {
                "trivial_ms": round(trivial * 1000, 3),
                **{k: round(v * 1000, 3) for k, v in cpu.items()},
                **{f"{k}_db": round(v * 1000, 3) for k, v in db_cpu.items()},
            }
        )
    )
    return {k: max(v) for k, v in queries.items()}


def _backend_cpu(connection):
    """CPU seconds the PostgreSQL backend serving ``connection`` has used (it runs on this machine:
    /proc), or None (SQLite, or the server is elsewhere)."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _trivial_cpu(client, requests=300):
    """CPU seconds per ``GET /healthz`` through the same test client (the benchmark's yardstick)."""
    for _ in range(20):
        client.get("/healthz", secure=True, HTTP_HOST="localhost")
    started = time.process_time()
    for _ in range(requests):
        client.get("/healthz", secure=True, HTTP_HOST="localhost")
    return (time.process_time() - started) / requests


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.profile_device")
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--product-instances", type=int, default=300, help="seeded first (default 300)")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--show-sql", action="store_true", help="print every statement of one message per type")
    parser.add_argument("--inner", nargs=2, metavar=("TOKEN", "TAGS_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        result = inner(args.inner[0], json.loads(args.inner[1]), args.devices, args.top, args.show_sql)
        print("QUERIES " + json.dumps(result))
        return 0
    from .server import BenchServer

    server = BenchServer(
        database=args.db, db_name="onprem_bench_profile", redis=False, log=lambda m: print(m, file=sys.stderr)
    )
    try:
        server.prepare()
        seeded = server.seed(args.product_instances)
        print(
            server.python(
                "-m",
                "bench.profile_device",
                "--devices",
                str(args.devices),
                "--top",
                str(args.top),
                *(["--show-sql"] if args.show_sql else []),
                "--inner",
                seeded["token"],
                json.dumps(seeded["licenses"]),
            )
        )
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

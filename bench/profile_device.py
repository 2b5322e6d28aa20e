"""Profile the device messages inside one process: ``python -m bench.profile_device [--devices N]``.

Builds a fresh bench database (like ``bench.run``), then runs the reference agent against the
Django application in-process (the test client, the whole middleware stack, no sockets) under
cProfile, and prints per message type the SQL queries per message and the hottest functions.
"""
import argparse
import cProfile
import io
import json
import os
import pstats
import sys
from collections import Counter, defaultdict


class InProcessTransport:
    """The smart_agent Transport interface, answered by Django's test client."""

    def __init__(self, client):
        self.client = client

    def post(self, make_body):
        reply = self.client.post("/SmartTransport", data=make_body().encode(), content_type="application/json",
                                 secure=True, HTTP_HOST="localhost")
        if reply.status_code != 200:
            raise RuntimeError(f"HTTP {reply.status_code}: {reply.content[:300]!r}")
        return reply.content

    def close(self):
        pass


def inner(token, tags, devices, top):
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
    agents = [Agent("https://localhost", identity=identity, store=MemoryStore(), transport=transport)
              for identity in identities.generate(devices + 1, seed=3)]
    # One device first, unprofiled: imports, caches and the account's signing material warm up.
    agents[0].register(token)
    agents[0].authorize({tag: 1 for tag in tags})
    agents[0].report()
    queries = defaultdict(list)
    texts = defaultdict(Counter)
    seconds = defaultdict(Counter)
    for name, call in (("REGISTER", lambda a: a.register(token)), ("AUTHORIZE", lambda a: a.authorize(
            {tag: 1 for tag in tags})), ("REPORT_USAGE", lambda a: a.report())):
        profile = cProfile.Profile()
        for agent in agents[1:]:
            with CaptureQueriesContext(connection) as captured:
                profile.enable()
                call(agent)
                profile.disable()
            queries[name].append(len(captured.captured_queries))
            for q in captured.captured_queries:
                texts[name][q["sql"][:160]] += 1
                seconds[name][q["sql"][:160]] += float(q["time"] or 0)
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        print(f"\n===== {name}: {devices} messages; SQL queries per message: "
              f"min {min(queries[name])} max {max(queries[name])}")
        for sql, total in seconds[name].most_common(15):
            print(f"  {total * 1000 / texts[name][sql]:7.2f} ms x{texts[name][sql] / devices:4.1f}  {sql}")
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        stats.print_callers("redis/client.py:.*__init__")
        print(out.getvalue())
    return {k: max(v) for k, v in queries.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.profile_device")
    parser.add_argument("--devices", type=int, default=100)
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--product-instances", type=int, default=300, help="seeded first (default 300)")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--inner", nargs=2, metavar=("TOKEN", "TAGS_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.inner:
        result = inner(args.inner[0], json.loads(args.inner[1]), args.devices, args.top)
        print("QUERIES " + json.dumps(result))
        return 0
    from .server import BenchServer

    server = BenchServer(database=args.db, db_name="onprem_bench_profile", redis=False, log=lambda m: print(m, file=sys.stderr))
    try:
        server.prepare()
        seeded = server.seed(args.product_instances)
        print(server.python("-m", "bench.profile_device", "--devices", str(args.devices), "--top", str(args.top),
                            "--inner", seeded["token"], json.dumps(seeded["licenses"])))
    finally:
        server.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

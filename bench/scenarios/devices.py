"""Device messages through the fleet simulator's library (``smart_agent.fleet``).

All devices REGISTER (one phase, timed), then AUTHORIZE, then REPORT_USAGE: throughput of a
message type is its successful replies divided by the wall time of its phase; latencies are the
simulator's (request to verified reply, retries included). The devices talk to the product
listener (``server.product_url``), as the guide's devices do. With ``meter`` (``bench.cpu.Meter``),
each phase also gets the server's CPU per message (Python and PostgreSQL, from /proc).
"""

import time
from concurrent.futures import ThreadPoolExecutor, wait

from smart_agent.fleet.runner import Config, Fleet


def run(server, seeded, *, devices, concurrency, seed=1, log=print, meter=None):
    from .. import cpu

    config = Config(
        server=getattr(server, "product_url", server.url),
        token=seeded["token"],
        devices=devices,
        concurrency=concurrency,
        licenses=[(tag, 1) for tag in seeded["licenses"]],
        seed=seed,
        ca_file=str(server.cert),
        timeout=120,
        progress=False,
    )
    fleet = Fleet(config)
    fleet.build()
    phases, readings = {}, {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="device") as pool:
        for name, action in (
            ("REGISTER", fleet.register),
            ("AUTHORIZE", fleet.authorize),
            ("REPORT_USAGE", fleet.report),
        ):
            before = meter.read() if meter else None
            started = time.perf_counter()
            wait([pool.submit(action, device) for device in fleet.devices])
            phases[name] = time.perf_counter() - started
            readings[name] = (before, meter.read() if meter else None)
            ok, failed = fleet.stats.counts(name)
            log(f"  {name}: {ok} ok, {failed} failed in {phases[name]:.1f} s ({ok / phases[name]:.1f}/s)")
    summary = fleet.stats.summary()
    rows = {}
    for name, seconds in phases.items():
        detail = summary["by_type"].get(name, {"ok": 0, "failed": 0, "failures": {}, "latency_ms": {}})
        rows[name] = {
            "messages": detail["ok"] + detail["failed"],
            "ok": detail["ok"],
            "errors": detail["failed"],
            "error_kinds": detail["failures"],
            "elapsed_s": round(seconds, 3),
            "throughput_rps": round(detail["ok"] / seconds, 2) if seconds else None,
            "latency_ms": detail["latency_ms"],
            "concurrency": concurrency,
        }
        if meter:
            rows[name].update(cpu.per_message(*readings[name], detail["ok"]))
    rows["_fleet"] = {"devices": devices, "http_statuses": summary["http_statuses"], "throttled": summary["throttled"]}
    return rows

"""The yardstick: the same server's throughput on a trivial view (``GET /healthz``: no database,
the whole middleware stack), measured with the same number of client threads as the devices."""

from ..load import Request, run_load


def run(server, *, concurrency, duration):
    request = Request("GET", "/healthz", headers={"X-Request-ID": "bench-trivial"})
    return run_load(server.url, lambda i: request, concurrency=concurrency, duration=duration, ca_file=str(server.cert))

"""The yardstick: the same server's throughput on a trivial request, measured with the same number
of client threads as the devices.

* ``run``: ``GET /healthz`` on the management listener (no database, the whole browser middleware
  stack): the yardstick of runs 1-5.
* ``run_product``: on the listener the devices use (the product listener, ``server.product_url``),
  ``GET /SmartTransport``, answered 405 by the device view through the device path's middleware
  (core/device_path.py): no database, the cheapest view that listener serves (it answers nothing
  but the device endpoints). The device rows' ratios are taken against it (issue 23).
"""

from ..load import Request, run_load


def run(server, *, concurrency, duration):
    request = Request("GET", "/healthz", headers={"X-Request-ID": "bench-trivial"})
    return run_load(server.url, lambda i: request, concurrency=concurrency, duration=duration, ca_file=str(server.cert))


def run_product(server, *, concurrency, duration):
    request = Request("GET", "/SmartTransport", headers={"X-Request-ID": "bench-trivial-product"})
    return run_load(
        server.product_url,
        lambda i: request,
        concurrency=concurrency,
        duration=duration,
        ca_file=str(server.cert),
        check=lambda status, body: status == 405,
    )

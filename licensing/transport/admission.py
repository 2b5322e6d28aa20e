"""Load shedding on the device endpoints: answer "retry later" at once instead of queueing to timeouts.

Over capacity (more connections waiting in the listen queue than ``ONPREM_DEVICE_SHED_QUEUE``,
read from Linux ``TCP_INFO``, or more device messages in progress in this process than
``ONPREM_DEVICE_MAX_IN_FLIGHT``) a device message is answered with HTTP 503 and ``Retry-After``
before any database or signature work. How it decides, and why: docs/running.md, "Load shedding
on the device endpoints".
"""

import json
import logging
import math
import os
import random
import socket
import struct
import threading
import time
from contextlib import contextmanager

from django.conf import settings
from django.http import HttpResponse

from core.env import env_int
from licensing import metrics

logger = logging.getLogger(__name__)

SERVER_BUSY = "SERVER_BUSY"
DEFAULTS = {
    "ONPREM_DEVICE_SHED_QUEUE": 64,
    "ONPREM_DEVICE_MAX_IN_FLIGHT": 0,
    "ONPREM_DEVICE_SHED_RETRY_AFTER": 5,
    "ONPREM_DEVICE_SHED_MAX_RETRY_AFTER": 30,
}
_TCP_LISTEN = 10  # linux/tcp_states.h
_TCP_INFO_LEN = 104
_UNACKED_OFFSET = 24  # struct tcp_info: 8 one-byte fields, then __u32 rto, ato, snd_mss, rcv_mss, unacked


def setting(name):
    """A Django setting when one is set (tests), else the environment, else the default."""
    value = getattr(settings, name, None)
    if value is None:
        value = env_int(name, DEFAULTS[name])
    return int(value)


# -- the listen queue ---------------------------------------------------------------------

_listeners = {"pid": None, "sockets": []}
_listeners_lock = threading.Lock()


def _find_listeners():
    """This process's listening TCP sockets (duplicated descriptors, kept for the process's life).

    Found once per process by walking its descriptors, so it works whatever started the workers
    (``serve``, the container entrypoint, a bare gunicorn) without hooks in their configuration.
    """
    found, seen = [], set()
    if not hasattr(socket, "TCP_INFO"):
        return found
    try:
        descriptors = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return found
    for fd in descriptors:
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")  # "socket:[inode]"
            # One socket often has several descriptors (gunicorn under `serve` holds its listener
            # twice): each socket is read once, or its queue would count two or three times over.
            if not target.startswith("socket:") or target in seen:
                continue
            seen.add(target)
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            listening = (
                sock.family in (socket.AF_INET, socket.AF_INET6)
                and sock.type == socket.SOCK_STREAM
                and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
            )
        except OSError:
            listening = False
        if listening:
            found.append(sock)
        else:
            sock.close()
    return found


def listeners():
    pid = os.getpid()
    if _listeners["pid"] != pid:  # gunicorn forks its workers after binding: look again in each one
        with _listeners_lock:
            if _listeners["pid"] != pid:
                _listeners["sockets"] = _find_listeners()
                _listeners["pid"] = pid
    return _listeners["sockets"]


def listen_queue_depth():
    """Connections accepted by the kernel and waiting for a worker, over every listening socket
    of this process; None when the operating system does not say."""
    total, known = 0, False
    for sock in listeners():
        try:
            info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_LEN)
        except OSError:
            continue
        if len(info) < _UNACKED_OFFSET + 4 or info[0] != _TCP_LISTEN:
            continue
        total += struct.unpack_from("I", info, _UNACKED_OFFSET)[0]
        known = True
    return total if known else None


# -- messages in progress in this process ---------------------------------------------------

_in_flight = {"count": 0}
_in_flight_lock = threading.Lock()


@contextmanager
def in_flight():
    """Count one device message in progress in this process while the block runs."""
    with _in_flight_lock:
        _in_flight["count"] += 1
    try:
        yield
    finally:
        with _in_flight_lock:
            _in_flight["count"] -= 1


def in_flight_count():
    return _in_flight["count"]


# -- the decision ---------------------------------------------------------------------------


def retry_after_seconds(observed, limit):
    """Seconds to tell a device to wait: the base at the limit, proportionally more above it."""
    base = max(1, setting("ONPREM_DEVICE_SHED_RETRY_AFTER"))
    ceiling = max(base, setting("ONPREM_DEVICE_SHED_MAX_RETRY_AFTER"))
    return int(min(ceiling, max(base, math.ceil(base * observed / max(1, limit)))))


def over_capacity(chance=random.random):
    """None when the message may be handled, else ``(reason, observed, limit)``.

    Call it while the message is counted (inside ``in_flight()``): the count includes it.

    Over the queue limit only the excess share is shed, at random (``1 - limit/depth``: at twice
    the limit, half of the messages), as RED does in routers. Shedding everything while the queue
    is long would livelock: a refusal is not free (a TLS handshake and the middleware, several ms),
    so with enough devices coming back the workers would spend all their time refusing, the queue
    would never shrink and nobody would be served. This way the server keeps serving at about its
    capacity however deep the queue, and the rest are told when to come back.
    """
    limit = setting("ONPREM_DEVICE_MAX_IN_FLIGHT")
    if limit > 0 and in_flight_count() > limit:
        return "in_flight", in_flight_count(), limit
    limit = setting("ONPREM_DEVICE_SHED_QUEUE")
    if limit > 0:
        depth = listen_queue_depth()
        if depth is not None and depth > limit and chance() < 1 - limit / depth:
            return "listen_queue", depth, limit
    return None


def refusal(reason, observed, limit):
    """(status, body, headers) of the answer to a shed message: the protocol's small unsigned
    document (docs/protocol.md, as for 400/413), HTTP 503 and Retry-After. Unsigned on purpose:
    signing needs the device's authority from the database, the work shedding exists to avoid."""
    seconds = retry_after_seconds(observed, limit)
    body = json.dumps(
        {
            "status": "FAILED",
            "error_code": SERVER_BUSY,
            "retry_after": seconds,
            "message": f"The server is busy. Retry after {seconds} seconds.",
        }
    )
    return 503, body, {"Retry-After": str(seconds), "X-Onprem-Shed": reason}


# -- where it runs: first in the middleware stack -------------------------------------------

# The device endpoints (licensing/transport/urls.py). A path test, not URL resolution: the
# decision must come before the rest of the stack, and resolving happens after it.
DEVICE_PATHS = ("/SmartTransport", "/Transportgateway/services/DeviceRequestHandler")
DEVICE_PATH_PREFIXES = ("/cslu/v1/pi/",)
REPORT_EVERY_SECONDS = 60


def is_device_message(request):
    path = request.path_info
    return request.method == "POST" and (path in DEVICE_PATHS or path.startswith(DEVICE_PATH_PREFIXES))


class DeviceAdmissionMiddleware:
    """Count device messages in progress and refuse the ones over capacity, before anything else.

    It sits right after the request id and the metrics (onprem/settings.py), so a refusal costs
    neither the session, authentication, system-settings (a cache round trip) and security
    middleware nor URL resolution: in a reconnect storm most answers are refusals, and every
    millisecond a refusal spends is taken from the devices being served. Anything else passes
    straight through.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not is_device_message(request):
            return self.get_response(request)
        with in_flight():
            busy = over_capacity()
            if busy is None:
                return self.get_response(request)
            return refuse(request, *busy)


_shed_report = {"since": None, "count": 0, "pid": None}
_shed_report_lock = threading.Lock()


def _report_shedding(reason, observed, limit):
    """One WARNING per process per minute while shedding, with the count: the log says that the
    server is shedding and how much without a line per refusal (thousands a minute in a storm)."""
    now = time.monotonic()
    with _shed_report_lock:
        if _shed_report["pid"] != os.getpid():
            _shed_report.update(pid=os.getpid(), since=None, count=0)
        _shed_report["count"] += 1
        if _shed_report["since"] is not None and now - _shed_report["since"] < REPORT_EVERY_SECONDS:
            return
        count, _shed_report["count"], _shed_report["since"] = _shed_report["count"], 0, now
    logger.warning(
        "Over capacity (%s %s > %s): %s device message(s) answered 503 with Retry-After by this "
        "process since the last report.",
        reason.replace("_", " "),
        observed,
        limit,
        count,
    )


def refuse(request, reason, observed, limit):
    """The HTTP answer to a shed message. The body (within the size limit) is read first so that a
    kept-alive connection stays in step; an oversized one is not read at all (refused all the same)."""
    from .views import read_body  # not at import: the logging configuration imports this module early

    read_body(request)
    status, text, headers = refusal(reason, observed, limit)
    metrics.device_message("MESSAGE", SERVER_BUSY)
    _report_shedding(reason, observed, limit)
    request.onprem_shed = True  # django.request does not log it as a server error (onprem/settings.py)
    return HttpResponse(text, status=status, content_type="application/json; charset=utf-8", headers=headers)


class NotShedFilter(logging.Filter):
    """Keeps django.request's "Service Unavailable" ERROR line out of the logs for shed messages:
    a refusal is the server working as designed, and ``_report_shedding`` summarises them."""

    def filter(self, record):
        request = getattr(record, "request", None)
        return not getattr(request, "onprem_shed", False)


__all__ = [
    "over_capacity",
    "refusal",
    "refuse",
    "in_flight",
    "listen_queue_depth",
    "retry_after_seconds",
    "DeviceAdmissionMiddleware",
    "NotShedFilter",
    "SERVER_BUSY",
]

"""A small threaded HTTP(S) load generator with keep-alive connections.

Every worker thread keeps one ``http.client`` connection and reopens it when the server closed
it (gunicorn's sync workers answer ``Connection: close``, so in practice each request opens a
connection), offering the TLS session of its last one, as the fleet simulator's devices do
(``smart_agent.transport``): each request pays a resumed TLS handshake, the same for the trivial
view as for the device messages, which is what makes the trivial view a fair yardstick for
them. Latency is request sent to body read, in milliseconds.
"""

import http.client
import math
import ssl
import threading
import time
from collections import Counter
from dataclasses import dataclass
from urllib.parse import urlsplit

from smart_agent.transport import ResumingHTTPSConnection, TLSSession


def percentile(sorted_values, fraction):
    """Nearest-rank percentile (the fleet simulator's definition) of a sorted list; None when empty."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(seconds):
    values = sorted(seconds)
    ms = lambda s: None if s is None else round(s * 1000, 2)  # noqa: E731
    return {
        "p50": ms(percentile(values, 0.50)),
        "p95": ms(percentile(values, 0.95)),
        "p99": ms(percentile(values, 0.99)),
        "max": ms(values[-1] if values else None),
        "mean": ms(sum(values) / len(values) if values else None),
    }


@dataclass
class Request:
    method: str
    path: str
    body: bytes = None
    headers: dict = None


class Client:
    """One connection (reopened on demand) to ``base_url``; trusts only ``ca_file``."""

    def __init__(self, base_url, ca_file=None, timeout=60):
        parts = urlsplit(base_url)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port or (443 if self.https else 80)
        self.timeout = timeout
        self.context = None
        if self.https:
            self.context = ssl.create_default_context(cafile=ca_file)
        self.connection = None
        self.tls_session = TLSSession()

    def _connect(self):
        if self.https:
            return ResumingHTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self.context, tls_session=self.tls_session
            )
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def send(self, request):
        """(status, headers, body); one retry when a kept-alive connection turns out closed."""
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = self._connect()
            try:
                self.connection.request(request.method, request.path, body=request.body, headers=request.headers or {})
                response = self.connection.getresponse()
                if self.https and self.connection.tls_socket is not None:
                    self.tls_session.keep(self.connection.tls_socket)
                    self.connection.tls_socket = None
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            return response.status, response.headers, body
        raise AssertionError("unreachable")

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def run_load(base_url, make_request, *, concurrency, duration=None, requests=None, ca_file=None, check=None):
    """Drive ``make_request(i) -> Request`` from ``concurrency`` threads for ``duration`` seconds
    or ``requests`` requests in all; return throughput, latency percentiles and errors.

    ``check(status, body)`` says whether an answer is a success (default: 2xx).
    """
    if (duration is None) == (requests is None):
        raise ValueError("give duration or requests")
    check = check or (lambda status, body: 200 <= status < 300)
    lock = threading.Lock()
    latencies, statuses, errors = [], Counter(), Counter()
    counter = iter(range(10**12))
    stop_at = None

    def worker():
        client = Client(base_url, ca_file=ca_file)
        try:
            while True:
                with lock:
                    index = next(counter)
                if requests is not None and index >= requests:
                    return
                if stop_at is not None and time.perf_counter() >= stop_at:
                    return
                request = make_request(index)
                started = time.perf_counter()
                try:
                    status, _, body = client.send(request)
                except Exception as exc:  # noqa: BLE001 - counted, never stops the run
                    with lock:
                        errors[type(exc).__name__] += 1
                    client.close()
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)
                    statuses[status] += 1
                    if not check(status, body):
                        errors[f"HTTP_{status}"] += 1
        finally:
            client.close()

    started = time.perf_counter()
    if duration is not None:
        stop_at = started + duration
    threads = [threading.Thread(target=worker, name=f"load-{i}", daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done = len(latencies)
    return {
        "requests": done + sum(v for k, v in errors.items() if not k.startswith("HTTP_")),
        "ok": done - sum(v for k, v in errors.items() if k.startswith("HTTP_")),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "elapsed_s": round(elapsed, 3),
        "throughput_rps": round(done / elapsed, 2) if elapsed else None,
        "latency_ms": latency_summary(latencies),
        "concurrency": concurrency,
    }

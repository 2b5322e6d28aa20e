"""Thread-safe counters and latencies for the fleet run, and the summary they make."""

import math
import threading
import time
from collections import Counter, defaultdict


def percentile(sorted_values, fraction):
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def _latency(values):
    values = sorted(values)
    if not values:
        return {"p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    ms = lambda seconds: round(seconds * 1000, 2)  # noqa: E731
    return {
        "p50": ms(percentile(values, 0.50)),
        "p95": ms(percentile(values, 0.95)),
        "p99": ms(percentile(values, 0.99)),
        "max": ms(values[-1]),
        "mean": ms(sum(values) / len(values)),
    }


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self.started = time.perf_counter()
        self.ok: Counter[str] = Counter()  # operation -> count
        self.failures = defaultdict(Counter)  # operation -> error code -> count
        self.latencies = defaultdict(list)  # operation -> seconds (successful and FAILED replies)
        self.http_statuses: Counter[int] = Counter()
        self.http_exchanges = 0

    def record(self, operation, seconds, error_code=None):
        with self._lock:
            if error_code is None:
                self.ok[operation] += 1
            else:
                self.failures[operation][error_code] += 1
            self.latencies[operation].append(seconds)

    def exchange(self, status, seconds):
        """Hook for Transport(on_exchange=...): every HTTP exchange, retries included."""
        with self._lock:
            self.http_statuses[status] += 1
            self.http_exchanges += 1

    def counts(self, operation):
        with self._lock:
            return self.ok[operation], sum(self.failures[operation].values())

    def summary(self, **extra):
        with self._lock:
            elapsed = time.perf_counter() - self.started
            operations = sorted(set(self.ok) | set(self.failures))
            failures: Counter[str] = Counter()  # error code -> count, all operations
            by_type = {}
            for op in operations:
                failures.update(self.failures[op])
                by_type[op] = {
                    "ok": self.ok[op],
                    "failed": sum(self.failures[op].values()),
                    "failures": dict(self.failures[op]),
                    "latency_ms": _latency(self.latencies[op]),
                }
            every = [s for op in operations for s in self.latencies[op]]
            total = sum(self.ok.values()) + sum(failures.values())
            return {
                **extra,
                "elapsed_s": round(elapsed, 3),
                "requests": total,
                "ok": sum(self.ok.values()),
                "failed": sum(failures.values()),
                "failures": dict(failures),
                "requests_per_second": round(total / elapsed, 2) if elapsed else None,
                "latency_ms": _latency(every),
                "by_type": by_type,
                "http_exchanges": self.http_exchanges,
                "http_statuses": {str(k): v for k, v in sorted(self.http_statuses.items())},
                "throttled": self.http_statuses[429] + self.http_statuses[503],
            }

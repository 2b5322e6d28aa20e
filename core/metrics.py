"""Prometheus metrics at ``/metrics``.

Counters are counted where things happen (HTTP requests from the middleware here; the apps count
their own, e.g. ``licensing.metrics.device_message``, and ``register`` them from their
``AppConfig.ready``); gauges that describe stored state (the Celery queue depth here, the apps'
collectors) are read when Prometheus scrapes, so they are never stale.

Under ``manage.py serve`` the gunicorn workers are separate processes: ``serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at an emptied ``DATA_DIR/run/metrics`` and each worker writes its
counters there, which the scrape adds up (prometheus_client's multiprocess mode).

Who may scrape: with ``ONPREM_METRICS_TOKEN`` set, a request bearing that token
(``Authorization: Bearer ...``, compared in constant time); without it, loopback only.
"""

import hmac
import logging
import os
from pathlib import Path

from django.http import HttpResponse, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY

logger = logging.getLogger(__name__)

HTTP_REQUESTS = Counter("onprem_http_requests_total", "HTTP requests answered", ["method", "status"])
# What /metrics serves besides the multiprocess counters: the apps add theirs from AppConfig.ready.
_COUNTERS = [HTTP_REQUESTS]
_COLLECTORS = []


def register(*, counters=(), collectors=()):
    """Serve an app's counters (counted in this process) and collectors (read at scrape time)."""
    _COUNTERS.extend(c for c in counters if c not in _COUNTERS)
    _COLLECTORS.extend(c for c in collectors if c not in _COLLECTORS)


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Status classes, not paths: bounded label values whatever URLs are requested.
        HTTP_REQUESTS.labels(
            method=request.method if request.method in _METHODS else "OTHER", status=f"{response.status_code // 100}xx"
        ).inc()
        return response


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def queue_depth():
    """Messages waiting in the Celery default queue (Redis list, or the filesystem broker's folder)."""
    from celery import current_app as app
    from django.conf import settings

    url = app.conf.broker_url or ""
    if url.startswith("redis"):
        with app.connection_for_read() as conn:
            return conn.default_channel.client.llen(app.conf.task_default_queue or "celery")
    folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("data_folder_in")
    return len(list(Path(folder).glob("*.msg"))) if folder else 0


class QueueDepthCollector:
    """The Celery queue's depth, read at scrape time."""

    def collect(self):
        try:
            yield GaugeMetricFamily(
                "onprem_celery_queue_depth", "Tasks waiting for a Celery worker", value=queue_depth()
            )
        except Exception as error:  # noqa: BLE001 - a broker that is down must not hide the other metrics
            logger.warning("celery queue depth unavailable: %s: %s", type(error).__name__, error)


def _allowed(request):
    token = os.environ.get("ONPREM_METRICS_TOKEN", "")
    if token:
        offered = request.META.get("HTTP_AUTHORIZATION", "")
        return hmac.compare_digest(offered.encode(), f"Bearer {token}".encode())
    return request.META.get("REMOTE_ADDR") in ("127.0.0.1", "::1")


@never_cache
@require_GET
def metrics_view(request):
    if not _allowed(request):
        return HttpResponseForbidden("Metrics are served to loopback, or with ONPREM_METRICS_TOKEN.")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        for counter in _COUNTERS:
            registry.register(counter)
    registry.register(QueueDepthCollector())
    for collector in _COLLECTORS:
        registry.register(collector)
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


__all__ = ["register", "metrics_view", "MetricsMiddleware", "GaugeMetricFamily", "REGISTRY"]

"""Prometheus metrics at ``/metrics``.

Counters are counted where things happen (``http_request`` from the middleware, and
``device_message`` / ``sync_result`` hooks for the device protocol and the CSSM sync); gauges
that describe stored state (Celery queue depth, open alerts, accounts, product instances, license
compliance) are read when Prometheus scrapes, so they are never stale.

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
DEVICE_MESSAGES = Counter("onprem_device_messages_total", "Device protocol messages handled", ["type", "result"])
SYNC_RESULTS = Counter("onprem_sync_total", "Synchronizations with CSSM", ["mode", "result"])


def device_message(message_type, result):
    DEVICE_MESSAGES.labels(type=str(message_type)[:32], result=str(result)[:32]).inc()


def sync_result(mode, result):
    SYNC_RESULTS.labels(mode=mode, result=result).inc()


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        # Status classes, not paths: bounded label values whatever URLs are requested.
        HTTP_REQUESTS.labels(method=request.method if request.method in _METHODS else "OTHER",
                             status=f"{response.status_code // 100}xx").inc()
        return response


_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def queue_depth():
    """Messages waiting in the Celery default queue (Redis list, or the filesystem broker's folder)."""
    from django.conf import settings

    from onprem.celery import app

    url = app.conf.broker_url or ""
    if url.startswith("redis"):
        with app.connection_for_read() as conn:
            return conn.default_channel.client.llen(app.conf.task_default_queue or "celery")
    folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get("data_folder_in")
    return len(list(Path(folder).glob("*.msg"))) if folder else 0


class StateCollector:
    """Gauges read from the database at scrape time."""

    def collect(self):
        from django.db.models import Count

        from licensing.models import Alert, LocalAccount, ProductInstance

        accounts = GaugeMetricFamily("onprem_local_accounts", "Local accounts by status", labels=["status"])
        for status, count in LocalAccount.objects.values_list("status").annotate(n=Count("pk")).order_by():
            accounts.add_metric([status], count)
        yield accounts
        yield GaugeMetricFamily("onprem_product_instances", "Registered product instances",
                                value=ProductInstance.objects.count())
        alerts = GaugeMetricFamily("onprem_open_alerts", "Open alerts by type and severity",
                                   labels=["type", "severity"])
        open_alerts = Alert.objects.exclude(status=Alert.Status.CLEARED).values_list("alert_type", "severity")
        for alert_type, severity, count in open_alerts.annotate(n=Count("pk")).order_by():
            alerts.add_metric([alert_type, severity], count)
        yield alerts
        yield from compliance_gauges()
        try:
            yield GaugeMetricFamily("onprem_celery_queue_depth", "Tasks waiting for a Celery worker",
                                    value=queue_depth())
        except Exception as error:  # noqa: BLE001 - a broker that is down must not hide the other metrics
            logger.warning("celery queue depth unavailable: %s: %s", type(error).__name__, error)


def compliance_gauges():
    """License compliance of every active local account, as the Licenses tab computes it.

    ``onprem_license_positions{status}`` counts (local virtual account, license) positions in and
    out of compliance, ``onprem_license_shortage`` the licenses missing over all of them, and
    ``onprem_local_accounts_compliance{status}`` the accounts with at least one position out of
    compliance. ``license_positions`` answers in a fixed number of aggregate queries per account,
    whatever the number of product instances, so a scrape costs a few queries per account.
    """
    from licensing.models import LocalAccount
    from licensing.services import compliance

    positions = {"in_compliance": 0, "out_of_compliance": 0}
    accounts = {"in_compliance": 0, "out_of_compliance": 0}
    shortage = 0
    for account in LocalAccount.objects.filter(status=LocalAccount.Status.ACTIVE).order_by():
        out = 0
        for position in compliance.license_positions(account):
            bad = position.status == compliance.OUT_OF_COMPLIANCE
            positions["out_of_compliance" if bad else "in_compliance"] += 1
            shortage += position.shortage
            out += bad
        accounts["out_of_compliance" if out else "in_compliance"] += 1
    gauge = GaugeMetricFamily("onprem_license_positions", "License positions (virtual account x license) "
                              "of active local accounts by compliance", labels=["status"])
    for status, count in positions.items():
        gauge.add_metric([status], count)
    yield gauge
    yield GaugeMetricFamily("onprem_license_shortage", "Licenses missing over all out-of-compliance positions",
                            value=shortage)
    gauge = GaugeMetricFamily("onprem_local_accounts_compliance", "Active local accounts by compliance",
                              labels=["status"])
    for status, count in accounts.items():
        gauge.add_metric([status], count)
    yield gauge


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
        for collector in (HTTP_REQUESTS, DEVICE_MESSAGES, SYNC_RESULTS):
            registry.register(collector)
    registry.register(StateCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


__all__ = ["device_message", "sync_result", "metrics_view", "MetricsMiddleware", "REGISTRY"]

"""/healthz, /readyz and request ids in responses and in the JSON log file."""

import json
import logging

from core import health_views
from core.observability import JsonFormatter, RequestIdFilter


def test_healthz_needs_nothing(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_checks_database_schema_cache_and_broker(client, db):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "cache": "ok", "broker": "ok"},
    }


def test_readyz_names_the_failed_check_without_its_text(client, db, monkeypatch):
    def broken():
        raise ConnectionRefusedError("redis://:hunter2@10.0.0.9:6379 refused")

    monkeypatch.setattr(health_views, "CHECKS", [*health_views.CHECKS[:3], ("broker", broken)])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"  # not ready is "retry later", as every 503
    body = response.json()
    assert body["status"] == "not ready" and body["checks"]["broker"] == "failed: ConnectionRefusedError"
    assert "hunter2" not in response.content.decode()


def test_readyz_fails_when_the_broker_is_unreachable(client, db):
    from onprem.celery import app

    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503 and response.json()["checks"]["broker"].startswith("failed")


def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="lb-1234.abc")["X-Request-ID"] == "lb-1234.abc"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert len(made) == 32 and made.isalnum()
    assert client.get("/healthz")["X-Request-ID"] != made


def test_log_lines_carry_the_request_id_as_json(client, db, caplog):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="trace-42")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 404
    line = json.loads(JsonFormatter().format(records[-1]))
    assert line["request_id"] == "trace-42" and line["level"] == "WARNING" and "no-such-page" in line["message"]

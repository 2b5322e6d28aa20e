"""/metrics: who may scrape, and that the numbers are the real ones."""
import re

from onprem import metrics


def _value(text, name, **labels):
    label_text = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = rf"^{name}{{{re.escape(label_text)}}} ([0-9.e+]+)$" if labels else rf"^{name} ([0-9.e+]+)$"
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else None


def test_loopback_scrape_counts_requests_and_reads_state(client, make_account):
    make_account("Acme")
    make_account("Pending Co", active=False)
    before = _value(client.get("/metrics").content.decode(), "onprem_http_requests_total", method="GET", status="2xx")
    client.get("/healthz")
    client.get("/no-such-page/")
    text = client.get("/metrics").content.decode()
    assert _value(text, "onprem_http_requests_total", method="GET", status="2xx") == (before or 0) + 2
    assert _value(text, "onprem_http_requests_total", method="GET", status="4xx") >= 1
    assert _value(text, "onprem_local_accounts", status="active") == 1
    assert _value(text, "onprem_product_instances") == 0
    assert _value(text, "onprem_celery_queue_depth") is not None


def test_device_and_sync_hooks(client, db):
    metrics.device_message("REGISTER", "SUCCESS")
    metrics.device_message("REGISTER", "TOKEN_EXPIRED")
    metrics.sync_result("online", "success")
    text = client.get("/metrics").content.decode()
    assert _value(text, "onprem_device_messages_total", result="SUCCESS", type="REGISTER") >= 1
    assert _value(text, "onprem_device_messages_total", result="TOKEN_EXPIRED", type="REGISTER") >= 1
    assert _value(text, "onprem_sync_total", mode="online", result="success") >= 1


def test_other_hosts_need_the_token(client, db, monkeypatch):
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403
    monkeypatch.setenv("ONPREM_METRICS_TOKEN", "scrape-me")
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer nope").status_code == 403
    assert client.get("/metrics").status_code == 403  # with a token set, loopback needs it too
    ok = client.get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert ok.status_code == 200 and ok["Content-Type"].startswith("text/plain")

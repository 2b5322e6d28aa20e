"""/metrics: who may scrape, and that the numbers are the real ones."""

import re

from licensing import metrics as licensing_metrics
from sync import metrics as sync_metrics


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
    licensing_metrics.device_message("REGISTER", "SUCCESS")
    licensing_metrics.device_message("REGISTER", "TOKEN_EXPIRED")
    sync_metrics.sync_result("online", "success")
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


# --- the counters and gauges moved by the real code paths, not by calling the hooks ----------------
def _scrape(client):
    return client.get("/metrics").content.decode()


def test_real_device_messages_are_counted_by_type_and_result(client, make_account):
    from licensing.services.tokens import create_token
    from tests.devices.devicesim import Device

    account = make_account("Acme")
    token = create_token(
        actor=None, virtual_account=account.virtual_accounts.get(is_default=True), description="metrics"
    )
    labels = [("REGISTER", "SUCCESS"), ("REGISTER", "TOKEN_UNKNOWN"), ("UNPARSEABLE", "MALFORMED")]
    before = {
        key: _value(_scrape(client), "onprem_device_messages_total", result=key[1], type=key[0]) or 0 for key in labels
    }
    assert Device(client).register(token)["status"] == "SUCCESS"
    assert Device(client).register(token)["status"] == "SUCCESS"
    assert Device(client).register("not-a-token")["error_code"] == "TOKEN_UNKNOWN"
    client.post("/SmartTransport", data=b"{not json", content_type="application/json")
    text = _scrape(client)
    after = {key: _value(text, "onprem_device_messages_total", result=key[1], type=key[0]) or 0 for key in labels}
    assert after[("REGISTER", "SUCCESS")] == before[("REGISTER", "SUCCESS")] + 2
    assert after[("REGISTER", "TOKEN_UNKNOWN")] == before[("REGISTER", "TOKEN_UNKNOWN")] + 1
    assert after[("UNPARSEABLE", "MALFORMED")] == before[("UNPARSEABLE", "MALFORMED")] + 1


def test_real_synchronizations_are_counted_by_mode_and_result(client, sysadmin, tmp_path):
    from core.errors import ServiceError
    from sync.documents.rejections import MANUAL
    from sync.services.synchronization import apply_response
    from tests.reliability.inprocess_cssm import registered_with_emulator, sync_response_for

    def counts():
        text = _scrape(client)
        return {
            result: _value(text, "onprem_sync_total", mode="manual", result=result) or 0
            for result in ("registered", "success", "failed")
        }

    before = counts()
    account, emulator = registered_with_emulator(tmp_path, sysadmin)
    good, name = sync_response_for(account, emulator, sysadmin)
    try:
        apply_response(account, b"not: [a sync file", actor=sysadmin, name=name, mode=MANUAL)
    except ServiceError:
        pass
    apply_response(account, good, actor=sysadmin, name=name, mode=MANUAL)
    after = counts()
    assert after == {
        "registered": before["registered"] + 1,
        "success": before["success"] + 1,
        "failed": before["failed"] + 1,
    }


def test_queue_depth_counts_the_messages_really_waiting(client, db, settings, tmp_path, monkeypatch):
    import uuid

    from kombu import Connection

    from onprem.celery import app

    if (app.conf.broker_url or "").startswith("redis"):
        # A queue of this test's own on the run's Redis, removed afterwards.
        queue = f"onprem-test-{uuid.uuid4().hex[:8]}"
        monkeypatch.setitem(app.conf, "task_default_queue", queue)  # a mapping: restored afterwards
        with app.connection_for_write() as conn:
            redis = conn.default_channel.client
            assert _value(_scrape(client), "onprem_celery_queue_depth") == 0
            try:
                for n in range(3):
                    redis.lpush(queue, f'{{"n": {n}}}')
                assert _value(_scrape(client), "onprem_celery_queue_depth") == 3
            finally:
                redis.delete(queue)
        return
    folder = tmp_path / "queue"
    folder.mkdir()
    # control_folder too: kombu's default is a relative "control" folder in the working directory.
    options = {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "control_folder": str(tmp_path / "control"),
    }
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    assert _value(_scrape(client), "onprem_celery_queue_depth") == 0
    with Connection("filesystem://", transport_options=options) as conn:  # the transport the embedded mode uses
        queue = conn.SimpleQueue("celery")
        for n in range(3):
            queue.put({"task": "onprem.heartbeat", "n": n})
        assert _value(_scrape(client), "onprem_celery_queue_depth") == 3
        queue.get(timeout=5).ack()  # a worker takes one
        assert _value(_scrape(client), "onprem_celery_queue_depth") == 2
        queue.close()


def test_license_compliance_counts(client, make_account):
    from django.utils import timezone

    from licensing.models import Entitlement, LicenseDefinition, LicenseUsage, ProductInstance

    def gauges():
        text = _scrape(client)
        return (
            _value(text, "onprem_license_positions", status="in_compliance"),
            _value(text, "onprem_license_positions", status="out_of_compliance"),
            _value(text, "onprem_license_shortage"),
            _value(text, "onprem_local_accounts_compliance", status="out_of_compliance"),
            _value(text, "onprem_local_accounts_compliance", status="in_compliance"),
        )

    assert gauges() == (0, 0, 0, 0, 0)
    acme, globex = make_account("Acme"), make_account("Globex")
    make_account("Pending Co", active=False)  # not counted: not active
    essentials = LicenseDefinition.objects.create(name="Essentials", entitlement_tag="regid.test.ess")
    advantage = LicenseDefinition.objects.create(name="Advantage", entitlement_tag="regid.test.adv")
    acme_va = acme.virtual_accounts.get(is_default=True)
    globex_va = globex.virtual_accounts.get(is_default=True)
    for va, lic, quantity in ((acme_va, essentials, 10), (acme_va, advantage, 2), (globex_va, essentials, 5)):
        Entitlement.objects.create(virtual_account=va, license=lic, quantity=quantity, license_type="perpetual")
    for va, lic, count in ((acme_va, essentials, 4), (acme_va, advantage, 5)):
        pi = ProductInstance.objects.create(
            virtual_account=va,
            udi_pid="C9300-24T",
            udi_serial_number=f"SN-{va.pk}-{lic.pk}",
            registered_at=timezone.now(),
        )
        LicenseUsage.objects.create(product_instance=pi, license=lic, count=count)
    # Acme: Essentials 10 bought / 4 used (in), Advantage 2 bought / 5 used (out, 3 short); Globex: in.
    assert gauges() == (2, 1, 3, 1, 1)

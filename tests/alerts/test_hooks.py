"""Alerts as events happen: every write path that can open or clear Insufficient Licenses (and
the Failed to Connect / Renew an instance clears by calling in) does so on its commit, so the very
next request shows it: the device channel (/SmartTransport), the workspace views, the REST API,
a license transfer, a virtual-account rename. Real commits (``transactional_db``), SQLite and
PostgreSQL (DATABASE_URL)."""

import datetime
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.models import Alert, ProductInstance
from licensing.services import alert_hooks
from tests.devices.devicesim import cslu_path, make_csr, rum

pytestmark = pytest.mark.django_db(transaction=True)
T = Alert.Type


def live_shortages(account):
    return {
        (a.virtual_account.name, a.license.name): a.message
        for a in Alert.objects.filter(account=account, alert_type=T.INSUFFICIENT_LICENSES).live()
    }


def api_shortages(api):
    status, body = api.post("/accounts/Acme/alerts", {"limit": -1})
    assert status == 200, body
    return sorted(
        (a["virtualAccount"], a["license"]) for a in body["alerts"] if a["messageType"] == "Insufficient Licenses"
    )


def tab_shortages(client, account):
    """The Insufficient Licenses rows of the workspace's Alerts tab (the page, not the rows behind it)."""
    response = client.get(f"/accounts/{account.pk}/alerts/")
    assert response.status_code == 200
    return response.content.decode().count("has a shortage of")


@pytest.fixture
def lic(license_def, add_line, default_va):
    licence = license_def("Network Advantage")
    add_line(default_va, licence, 2)
    return licence


def authorize(dev, lic, count):
    reply = dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": count}])
    assert reply["status"] == "SUCCESS", reply
    return reply


# --- The device channel -----------------------------------------------------------------------


def test_authorize_over_the_pool_shows_in_the_next_request_and_clears_in_the_one_after_the_fix(
    acme, lic, registered, admin_api, people, login
):
    dev = registered()
    authorize(dev, lic, 2)
    assert api_shortages(admin_api) == []
    assert authorize(dev, lic, 5)["compliance"] == "OUT_OF_COMPLIANCE"
    # The very next requests: the REST API and the Alerts tab.
    assert api_shortages(admin_api) == [("Default", "Network Advantage")]
    assert tab_shortages(login(people["account_admin"]), acme) == 1
    assert "3 licenses are required" in live_shortages(acme)[("Default", "Network Advantage")]
    # The shortage changes: the alert's text follows, no second alert.
    authorize(dev, lic, 4)
    assert "2 licenses are required" in live_shortages(acme)[("Default", "Network Advantage")]
    assert Alert.objects.filter(alert_type=T.INSUFFICIENT_LICENSES).count() == 1
    authorize(dev, lic, 1)
    assert api_shortages(admin_api) == []
    assert Alert.objects.get(alert_type=T.INSUFFICIENT_LICENSES).status == Alert.Status.CLEARED


def test_report_usage_opens_and_deregister_clears(acme, lic, registered, admin_api):
    dev = registered()
    payload = json.dumps({"report_id": "r1", "usage": [{"tag": lic.entitlement_tag, "count": 3}]})
    reply = dev.send(
        "REPORT_USAGE",
        reports=[
            {
                "header": {"type": "rum"},
                "payload": payload,
                "signature": {"signing_type": "ecdsa-p256-sha256", "key": "k", "value": "v"},
            }
        ],
    )
    assert reply["acks"][0]["status"] == "ACK"
    assert api_shortages(admin_api) == [("Default", "Network Advantage")]
    assert dev.send("DEREGISTER")["status"] == "SUCCESS"
    assert api_shortages(admin_api) == []


def test_a_cslu_push_opens_it(acme, lic, device, admin_api):
    dev = device()
    payload = dev.payload(
        reports=[rum(dev.key, "push-1", [{"tag": lic.entitlement_tag, "count": 3}])], csr=make_csr(dev.key)
    )
    response = dev.post(dev.envelope("REPORT_USAGE", payload), cslu_path(acme))
    assert response.status_code == 200, response.content[:300]
    assert json.loads(json.loads(response.content)["payload"])["status"] == "SUCCESS"
    assert api_shortages(admin_api) == [("Default", "Network Advantage")]


def test_a_device_calling_in_clears_its_failed_to_connect(acme, lic, registered, default_va):
    from licensing.services.alerts import recompute_alerts

    dev = registered()
    pi = ProductInstance.objects.get(udi_serial_number=dev.sudi["udi_serial_number"])
    ProductInstance.objects.filter(pk=pi.pk).update(last_contact_at=timezone.now() - datetime.timedelta(days=40))
    recompute_alerts(acme)
    assert Alert.objects.filter(alert_type=T.PI_FAILED_TO_CONNECT).live().count() == 1
    authorize(dev, lic, 1)
    assert Alert.objects.filter(alert_type=T.PI_FAILED_TO_CONNECT).live().count() == 0


def test_a_failed_to_renew_instance_calling_in_counts_again(acme, lic, registered, default_va, use):
    from licensing.services.alerts import recompute_alerts

    dev = registered()
    authorize(dev, lic, 3)  # short by 1
    pi = ProductInstance.objects.get(udi_serial_number=dev.sudi["udi_serial_number"])
    ProductInstance.objects.filter(pk=pi.pk).update(last_contact_at=timezone.now() - datetime.timedelta(days=100))
    recompute_alerts(acme)  # the task: Failed to Renew, its usage released, the shortage gone
    assert live_shortages(acme) == {}
    assert Alert.objects.filter(alert_type=T.PI_FAILED_TO_RENEW).live().count() == 1
    authorize(dev, lic, 3)  # the same count: the contact alone changes something
    assert Alert.objects.filter(alert_type=T.PI_FAILED_TO_RENEW).live().count() == 0
    assert list(live_shortages(acme)) == [("Default", "Network Advantage")]


# --- The workspace and the REST API ------------------------------------------------------------


@pytest.fixture
def two_vas(acme, vas, license_def, add_line, add_pi, use):
    """Physics has 1 "DNA" line, Zoology 4; a product instance in Zoology uses 3."""
    dna = license_def("DNA Advantage")
    add_line(vas["Physics"], dna, 1)
    add_line(vas["Zoology"], dna, 4)
    pi = add_pi(vas["Zoology"], "SNZ1")
    use(pi, dna, 3)
    return {"dna": dna, "pi": pi, **vas}


def test_workspace_product_instance_transfer_and_remove(acme, two_vas, people, login, admin_api):
    browser = login(people["account_admin"])
    url = f"/accounts/{acme.pk}/inventory/product-instances/{two_vas['pi'].pk}"
    response = browser.post(f"{url}/transfer/", {"to_virtual_account": two_vas["Physics"].pk})
    assert response.status_code in (200, 302)
    assert api_shortages(admin_api) == [("Physics", "DNA Advantage")]
    assert tab_shortages(browser, acme) == 1
    assert browser.post(f"{url}/remove/").status_code in (200, 302)
    assert api_shortages(admin_api) == []


def test_workspace_license_transfer(acme, two_vas, people, login, admin_api):
    browser = login(people["account_admin"])
    zoology, dna = two_vas["Zoology"], two_vas["dna"]
    response = browser.post(
        f"/accounts/{acme.pk}/inventory/virtual-accounts/{zoology.pk}/licenses/{dna.pk}/transfer/",
        {"to_virtual_account": two_vas["Physics"].pk, "quantity": "1", "precedence": "LONGEST_TERM_FIRST"},
    )
    assert response.status_code in (200, 302)
    assert api_shortages(admin_api) == []  # 3 left for 3 in use
    response = browser.post(
        f"/accounts/{acme.pk}/inventory/virtual-accounts/{zoology.pk}/licenses/{dna.pk}/transfer/",
        {"to_virtual_account": two_vas["Physics"].pk, "quantity": "1", "precedence": "LONGEST_TERM_FIRST"},
    )
    assert response.status_code in (200, 302)
    assert api_shortages(admin_api) == [("Zoology", "DNA Advantage")]  # 2 left for 3 in use
    assert tab_shortages(browser, acme) == 1


def _sudi(pi):
    return {"udiPid": pi.udi_pid, "udiSerialNumber": pi.udi_serial_number}


def test_api_device_transfer_and_remove(acme, two_vas, admin_api):
    pi = two_vas["pi"]
    status, body = admin_api.post(
        "/accounts/Acme/virtual-accounts/Zoology/devices/transfer",
        {"productInstances": [{"sudi": _sudi(pi), "targetVirtualAccount": "Physics"}]},
    )
    assert status == 200 and body["status"] == "SUCCESS", body
    assert api_shortages(admin_api) == [("Physics", "DNA Advantage")]
    status, body = admin_api.post(
        "/accounts/Acme/virtual-accounts/Physics/devices/remove",
        {"productInstanceRemoveRequests": [{"sudi": _sudi(pi)}]},
    )
    assert status == 200 and body["status"] == "SUCCESS", body
    assert api_shortages(admin_api) == []


def test_api_license_transfer(acme, two_vas, admin_api):
    status, body = admin_api.post(
        "/accounts/Acme/virtual-accounts/Zoology/licenses/transfer",
        {
            "licenses": [
                {
                    "license": "DNA Advantage",
                    "licenseType": "PERPETUAL",
                    "precedence": "LONGEST_TERM_FIRST",
                    "quantity": 2,
                    "targetVirtualAccount": "Physics",
                }
            ]
        },
    )
    assert status == 200, body
    if body["status"] != "SUCCESS":
        pytest.fail(f"the transfer was refused: {body}")
    assert api_shortages(admin_api) == [("Zoology", "DNA Advantage")]


def test_a_virtual_account_rename_rewrites_its_alert_texts(acme, two_vas, admin_api):
    from licensing.services.transfers import transfer_licenses
    from licensing.services.virtual_accounts import rename_virtual_account

    transfer_licenses(
        actor=None, from_va=two_vas["Zoology"], to_va=two_vas["Physics"], license=two_vas["dna"], quantity=2
    )
    assert "“Zoology”" in live_shortages(acme)[("Zoology", "DNA Advantage")]
    rename_virtual_account(actor=None, virtual_account=two_vas["Zoology"], name="Botany")
    assert "“Botany”" in live_shortages(acme)[("Botany", "DNA Advantage")]
    assert Alert.objects.filter(alert_type=T.INSUFFICIENT_LICENSES).count() == 1


# --- One recompute per transaction, and what it costs ------------------------------------------


def test_one_transaction_touching_several_licenses_recomputes_once(
    acme, default_va, license_def, add_line, add_pi, monkeypatch
):
    from django.db import transaction

    from licensing.services import alerts
    from licensing.services.device_usage import apply_usage

    runs = []
    real = alerts.recompute_alerts
    monkeypatch.setattr(alerts, "recompute_alerts", lambda *a, **k: runs.append(k.get("scope")) or real(*a, **k))
    licenses = [license_def(f"L{i}") for i in range(3)]
    for licence in licenses:
        add_line(default_va, licence, 1)
    pi, other = add_pi(default_va, "SN1"), add_pi(default_va, "SN2")
    now = timezone.now()
    with transaction.atomic():
        apply_usage(pi, {}, {licence.pk: 2 for licence in licenses}, now)
        apply_usage(other, {}, {licenses[0].pk: 1}, now)
        assert runs == []  # nothing before the commit
    # One recompute for the transaction; it opened alerts, so it checks them once more after its
    # own commit (see alerts._recompute_scope), which finds nothing left to do.
    assert [set(scope.usage) for scope in runs] == [{default_va.pk}, {default_va.pk}]
    assert len(live_shortages(acme)) == 3
    # A rolled-back write recomputes nothing.
    with pytest.raises(RuntimeError), transaction.atomic():
        apply_usage(add_pi(default_va, "SN3"), {}, {licenses[1].pk: 5}, now)
        raise RuntimeError
    assert len(runs) == 2


@pytest.mark.postgres
def test_two_devices_taking_the_last_licenses_at_once_open_the_alert(acme, lic, registered, monkeypatch):
    """Two AUTHORIZEs whose transactions overlap: each alone fits the pool (1 and 2 of 2), together
    they do not. Both write before either commits (each waits for the other inside its
    transaction), so read inside its transaction each would see only its own usage and find no
    shortage. The positions are read after the commit (``finish_authorize``): the later reader sees
    both, answers OUT_OF_COMPLIANCE and opens the alert."""
    import threading

    from django.db import connections
    from django.test import Client

    from core import events

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no overlap")
    first, second = registered(), registered()
    second.client = Client()  # one test client per thread
    both_written = threading.Barrier(2, timeout=30)
    record = events.record

    def record_after_both_wrote(code, **params):
        if code == "device.connected":  # inside AUTHORIZE's transaction, after its usage rows
            both_written.wait()
        return record(code, **params)

    monkeypatch.setattr(events, "record", record_after_both_wrote)
    replies, errors = {}, []

    def run(dev, count):
        try:
            replies[count] = authorize(dev, lic, count)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
            both_written.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(dev, n)) for dev, n in ((first, 1), (second, 2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert "OUT_OF_COMPLIANCE" in {replies[1]["compliance"], replies[2]["compliance"]}, replies
    assert [license for _va, license in live_shortages(acme)] == ["Network Advantage"]


def test_statements_per_authorize_with_the_on_commit_recompute(lic, registered, default_va):
    """The device hot path, pinned with the check's own statements (real commits): a steady
    AUTHORIZE (no count changes) checks no alert; one that changes a count adds only its UPDATE
    (the live alerts come with the positions)."""
    dev = registered()
    authorize(dev, lic, 1)

    def statements(count):  # the whole exchange: the message's transaction and what runs on its commit
        with CaptureQueriesContext(connection) as captured:
            authorize(dev, lic, count)
        return len(captured.captured_queries)

    steady = statements(1)
    changed = statements(2)
    # The changed count's UPDATE, and nothing else: the live alerts of its virtual account are read
    # by the statement that reads the positions for the answer (after the commit, no lock when
    # nothing is to be written).
    extra = 1
    assert changed == steady + extra, (steady, changed)
    assert steady <= 10


def test_flush_failure_is_logged_not_raised(acme, lic, registered, monkeypatch, caplog):
    from licensing.services import alerts

    dev = registered()

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(alerts, "_shortages", broken)
    assert authorize(dev, lic, 5)["status"] == "SUCCESS"  # the device gets its answer
    assert "could not be checked" in caplog.text
    assert alert_hooks.pending_scope(acme.pk) is None


def test_a_shortage_that_clears_records_licenses_corrected(acme, lic, registered):
    """The guide's "Licenses Corrected" event, with the last shortage, when the cause is gone;
    a Failed to Connect that clears records the generic cleared event with its last text."""
    from core.models import Event

    dev = registered()
    authorize(dev, lic, 3)
    assert authorize(dev, lic, 5)["compliance"] == "OUT_OF_COMPLIANCE"  # the shortage grows to 3
    authorize(dev, lic, 1)
    assert not live_shortages(acme)
    [event] = Event.objects.filter(event_type="license.corrected")
    assert event.message == (
        "The shortage of 3 “Network Advantage” licenses in the Virtual Account “Default” has been corrected."
    )
    assert event.severity == "INFO"

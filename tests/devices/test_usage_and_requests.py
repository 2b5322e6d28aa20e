"""REPORT_USAGE (SLP RUM reports), the CSLU push, export-control and DLC requests, POLL."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.errors import ServiceError
from core.models import Event
from licensing.models import DeviceRequest, LicenseUsage, ProductInstance, RumReport
from licensing.services.device_requests import decide_request
from tests.devices.devicesim import cslu_path as _cslu_path
from tests.devices.devicesim import make_csr, row_counts, rum

pytestmark = pytest.mark.django_db


def _usage(dev):
    return dict(
        LicenseUsage.objects.filter(product_instance__udi_serial_number=dev.sudi["udi_serial_number"]).values_list(
            "license__entitlement_tag", "count"
        )
    )


def test_report_usage_stores_reports_byte_for_byte_and_is_idempotent(registered, license_def):
    lic = license_def("Advantage")
    dev = registered()
    first = rum(dev.key, "r-1", [{"tag": lic.entitlement_tag, "count": 3}, {"tag": "regid.unknown", "count": 1}])
    reply = dev.send("REPORT_USAGE", reports=[first])
    assert reply["status"] == "SUCCESS"
    assert reply["acks"] == [{"report_id": "r-1", "status": "ACK"}]
    stored = RumReport.objects.get()
    assert stored.payload == first["payload"]  # the exact string, spacing included
    assert (stored.signature_value, stored.signature_key) == (first["signature"]["value"], "device-trust")
    assert _usage(dev) == {lic.entitlement_tag: 3}

    second = rum(dev.key, 7, [{"tag": lic.entitlement_tag, "count": 1}])
    reply = dev.send("REPORT_USAGE", reports=[first, second, second])
    assert reply["acks"] == [
        {"report_id": "r-1", "status": "DUPLICATE"},
        {"report_id": "7", "status": "ACK"},
        {"report_id": "7", "status": "DUPLICATE"},
    ]
    assert RumReport.objects.count() == 2
    assert _usage(dev) == {lic.entitlement_tag: 1}
    # the same report again changes nothing, even after a later AUTHORIZE changed usage
    dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 5}])
    dev.send("REPORT_USAGE", reports=[second])
    assert _usage(dev) == {lic.entitlement_tag: 5}
    assert Event.objects.filter(event_type="device.usage_reported").count() == 2


def test_malformed_rum_report_writes_nothing(registered):
    dev = registered()
    before = row_counts()
    bad = {
        "header": {"type": "rum"},
        "payload": json.dumps({"usage": []}),
        "signature": {"signing_type": "x", "key": "k", "value": "v"},
    }
    assert dev.send("REPORT_USAGE", reports=[bad])["error_code"] == "MALFORMED"
    assert dev.send("REPORT_USAGE", reports=[])["error_code"] == "MALFORMED"
    assert row_counts() == before


def test_cslu_push_adds_an_slp_device_and_pins_its_key(device, acme, license_def, default_va):
    lic = license_def("Essentials")
    dev = device("SLP-1")
    report = rum(dev.key, "1", [{"tag": lic.entitlement_tag, "count": 2}])
    reply = dev.send("REPORT_USAGE", path=_cslu_path(acme), csr=make_csr(dev.key), reports=[report])
    assert reply["status"] == "SUCCESS" and reply["acks"][0]["status"] == "ACK"
    pi = ProductInstance.objects.get(udi_serial_number="SLP-1")
    assert pi.virtual_account == default_va and pi.device.transport == "cslu"
    assert _usage(dev) == {lic.entitlement_tag: 2}
    # the next push with the same key works; another key for the same UDI is refused
    assert (
        dev.send("REPORT_USAGE", path=_cslu_path(acme), csr=make_csr(dev.key), reports=[rum(dev.key, "2", [])])[
            "status"
        ]
        == "SUCCESS"
    )
    impostor = device("SLP-1")
    before = row_counts()
    reply = impostor.send(
        "REPORT_USAGE",
        path=_cslu_path(acme),
        csr=make_csr(impostor.key),
        reports=[rum(impostor.key, "3", [{"tag": lic.entitlement_tag, "count": 99}])],
    )
    assert reply["error_code"] == "BAD_SIGNATURE"
    assert row_counts() == before


def test_cslu_push_with_a_certificate_of_another_account_is_refused(registered, make_account):
    other = make_account("Globex")
    dev = registered()
    reply = dev.send("REPORT_USAGE", path=_cslu_path(other), reports=[rum(dev.key, "1", [])])
    assert reply["error_code"] == "NOT_REGISTERED"
    acme_reply = dev.send(
        "REPORT_USAGE", path=_cslu_path(ProductInstance.objects.get().account), reports=[rum(dev.key, "1", [])]
    )
    assert acme_reply["status"] == "SUCCESS"


def test_cslu_url_must_name_the_account_exactly(device, acme):
    dev = device()
    envelope = dev.envelope("REPORT_USAGE", dev.payload(csr=make_csr(dev.key), reports=[rum(dev.key, "1", [])]))
    for path in (
        f"/cslu/v1/pi/acme-{acme.pk}",
        f"/cslu/v1/pi/Acme-{acme.pk + 100}",
        "/cslu/v1/pi/Acme",
        "/cslu/v1/pi/Acme-x",
    ):
        assert dev.post(envelope, path).status_code == 404
    assert not ProductInstance.objects.exists()


def test_cslu_push_only_takes_usage_reports(registered, acme):
    dev = registered()
    assert dev.send("AUTHORIZE", path=_cslu_path(acme), entitlements=[])["error_code"] == "MALFORMED"


def test_cslu_push_to_an_inactive_account(device, acme):
    from licensing.services.accounts import deactivate_account

    deactivate_account(actor=None, account=acme)
    dev = device()
    reply = dev.send("REPORT_USAGE", path=_cslu_path(acme), csr=make_csr(dev.key), reports=[rum(dev.key, "1", [])])
    assert reply["error_code"] == "ACCOUNT_INACTIVE"


def test_export_authorization_waits_for_synchronization_then_polls_complete(
    registered, license_def, add_line, default_va
):
    hsec = license_def("HSECK9", export_restricted=True)
    add_line(default_va, hsec, 1)
    dev = registered()
    reply = dev.send("EXPORT_AUTHORIZE", entitlements=[{"tag": hsec.entitlement_tag, "count": 1}])
    assert reply["status"] == "OK_POLL" and reply["poll_interval"] == 3600
    poll_id = reply["poll_id"]
    assert {"device.export_pending", "device.sync_required_export"} <= set(
        Event.objects.values_list("event_type", flat=True)
    )
    reply = dev.send("POLL", poll_id=poll_id)
    assert (reply["status"], reply["poll_id"], reply["poll_interval"]) == ("OK_POLL", poll_id, 3600)
    assert _usage(dev) == {}

    request = DeviceRequest.objects.get(poll_id=poll_id)
    decide_request(request, result="authorization-granted", message="Authorized by CSSM")
    reply = dev.send("POLL", poll_id=poll_id)
    assert (reply["status"], reply["result"], reply["request_type"]) == (
        "COMPLETE",
        "authorization-granted",
        "EXPORT_AUTHORIZE",
    )
    assert _usage(dev) == {hsec.entitlement_tag: 1}
    assert Event.objects.filter(event_type="device.export_keys_consumed").count() == 1
    # AUTHORIZE does not take the granted restricted license away, and is authorized up to the grant
    reply = dev.send("AUTHORIZE", entitlements=[{"tag": hsec.entitlement_tag, "count": 1}])
    assert reply["authorizations"][0]["status"] == "AUTHORIZED"
    dev.send("AUTHORIZE", entitlements=[])
    assert _usage(dev) == {hsec.entitlement_tag: 1}
    with pytest.raises(ServiceError):
        decide_request(request, result="authorization-denied")

    # return: more than granted is refused, the grant can be returned
    assert (
        dev.send("EXPORT_RETURN", entitlements=[{"tag": hsec.entitlement_tag, "count": 2}])["error_code"]
        == "EXPORT_NOT_ALLOWED"
    )
    reply = dev.send("EXPORT_RETURN", entitlements=[{"tag": hsec.entitlement_tag, "count": 1}])
    decide_request(DeviceRequest.objects.get(poll_id=reply["poll_id"]), result="return-granted")
    assert dev.send("POLL", poll_id=reply["poll_id"])["result"] == "return-granted"
    assert _usage(dev) == {}
    assert Event.objects.filter(event_type="device.export_keys_returned").count() == 1


def test_export_request_for_an_unavailable_license_raises_the_guides_event(registered, license_def):
    hsec = license_def("HSECK9", export_restricted=True)
    dev = registered()
    assert dev.send("EXPORT_AUTHORIZE", entitlements=[{"tag": hsec.entitlement_tag, "count": 1}])["status"] == "OK_POLL"
    assert Event.objects.filter(event_type="device.export_not_available").count() == 1


def test_export_request_for_a_normal_license_is_refused(registered, license_def):
    lic = license_def("Plain")
    dev = registered()
    before = row_counts()
    reply = dev.send("EXPORT_AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 1}])
    assert reply["error_code"] == "EXPORT_NOT_ALLOWED"
    after = row_counts()
    assert after.pop("DeviceNonce") == before.pop("DeviceNonce") + 1
    assert after == before  # the refusal rolled back the contact update too


def test_conversion_is_pending_until_synchronization(registered, acme):
    from licensing.models import Alert, Conversion
    from licensing.services.conversion import decide_conversion, set_conversion_settings

    dev = registered()
    # DLC not enabled on the virtual account: answered at once
    reply = dev.send("CONVERT", licenses=[{"name": "SEC-K9 RTU", "count": 1, "pak": "PAK123"}])
    assert (reply["status"], reply["result"]) == ("COMPLETE", "migrate-failed")
    assert "not enabled" in reply["message"]
    assert not Conversion.objects.exists()

    set_conversion_settings(actor=None, account=acme, mode="all")
    reply = dev.send("CONVERT", licenses=[{"name": "SEC-K9 RTU", "count": 1, "pak": "PAK123"}])
    assert reply["status"] == "OK_POLL" and reply["poll_interval"] == 3600
    conversion = Conversion.objects.get(poll_id=reply["poll_id"])
    assert conversion.licenses == [{"name": "SEC-K9 RTU", "count": 1, "tag": "", "pak": "PAK123"}]
    assert Alert.objects.filter(key="sync_required:dlc").live().exists()
    assert Event.objects.filter(event_type="device.sync_required_dlc").count() == 1
    # a retry while pending gets the same poll id
    assert dev.send("CONVERT", licenses=[{"name": "SEC-K9 RTU", "count": 1}])["poll_id"] == reply["poll_id"]
    assert dev.send("POLL", poll_id=reply["poll_id"])["status"] == "OK_POLL"

    decide_conversion(conversion, False, reason="No such PAK")
    done = dev.send("POLL", poll_id=reply["poll_id"])
    assert (done["status"], done["result"], done["message"]) == ("COMPLETE", "migrate-failed", "No such PAK")
    assert Event.objects.filter(event_type="device.dlc_failed").count() == 1


def test_export_requests_raise_and_clear_the_synchronization_required_alert(
    registered, license_def, add_line, default_va
):
    from licensing.models import Alert

    hsec = license_def("HSECK9", export_restricted=True)
    add_line(default_va, hsec, 2)
    dev = registered()
    first = dev.send("EXPORT_AUTHORIZE", entitlements=[{"tag": hsec.entitlement_tag, "count": 1}])["poll_id"]
    second = dev.send("EXPORT_AUTHORIZE", entitlements=[{"tag": hsec.entitlement_tag, "count": 1}])["poll_id"]
    live = Alert.objects.filter(key="sync_required:export").live()
    assert live.count() == 1
    decide_request(DeviceRequest.objects.get(poll_id=first), result="authorization-denied")
    assert live.count() == 1  # one request still pending
    assert dev.send("POLL", poll_id=first)["result"] == "authorization-denied"
    decide_request(DeviceRequest.objects.get(poll_id=second), result="authorization-granted")
    assert live.count() == 0
    assert _usage(dev) == {hsec.entitlement_tag: 1}


def test_poll_of_another_devices_request_is_refused(registered, license_def, add_line, default_va):
    hsec = license_def("HSECK9", export_restricted=True)
    add_line(default_va, hsec, 2)
    a, b = registered(), registered()
    poll_id = a.send("EXPORT_AUTHORIZE", entitlements=[{"tag": hsec.entitlement_tag, "count": 1}])["poll_id"]
    assert b.send("POLL", poll_id=poll_id)["error_code"] == "MALFORMED"
    assert b.send("POLL", poll_id="nope")["error_code"] == "MALFORMED"


def test_other_key_curve_is_refused(device, token):
    dev = device()
    dev.key = ec.generate_private_key(ec.SECP384R1())
    reply = dev.register(token())
    assert reply["error_code"] == "BAD_SIGNATURE"
    assert "P-256" in reply["message"]

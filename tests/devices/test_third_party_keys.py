"""GET_THIRD_PARTY_KEY (TPL): a product instance receives the third-party keys CSSM granted for the
licenses its own virtual account holds, in the signed reply; the guide's event; refusals."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core import crypto
from core.models import Event
from licensing.models import ProductInstance, ThirdPartyKey, ThirdPartyKeyDelivery
from tests.devices.devicesim import row_counts

pytestmark = pytest.mark.django_db

SECRET = "apns-key-0123456789abcdef"


@pytest.fixture
def keyed(acme, default_va, license_def, add_line):
    """Acme's Default VA holds Unity Connection licenses with a Speech View key, and CSSM also
    granted an APNs key for a CUCM license no local VA of this instance holds."""
    unity = license_def("Unity Connection")
    cucm = license_def("CUCM")
    add_line(default_va, unity, 10)

    def _key(key_id, lic, service, secret=SECRET, **fields):
        return ThirdPartyKey.objects.create(
            account=acme,
            key_id=key_id,
            tag=lic.entitlement_tag,
            service=service,
            secret=secret,
            received_at=timezone.now(),
            **fields,
        )

    return {
        "unity": unity,
        "cucm": cucm,
        "speech": _key("k-speech", unity, "Speech View"),
        "apns": _key("k-apns", cucm, "Apple Push Notification service"),
        "key": _key,
    }


def test_device_receives_its_virtual_accounts_keys_in_the_signed_reply(registered, keyed, default_va):
    dev = registered()
    reply = dev.third_party_keys()  # send() checked the reply's signature against the device's chain
    assert reply["status"] == "SUCCESS"
    assert reply["third_party_keys"] == [
        {
            "key_id": "k-speech",
            "tag": keyed["unity"].entitlement_tag,
            "service": "Speech View",
            "key": SECRET,
            "expires_on": None,
        }
    ]  # not the APNs key: its license is not in this instance's virtual account
    pi = ProductInstance.objects.get(udi_serial_number=dev.sudi["udi_serial_number"])
    event = Event.objects.get(event_type="device.third_party_keys")
    assert event.message == (
        f"The product instance “{pi.display_name}” in the Virtual Account “{default_va.name}” "
        "connected and received third party keys"
    )
    delivery = ThirdPartyKeyDelivery.objects.get()
    assert (delivery.product_instance, delivery.key) == (pi, keyed["speech"])
    first = delivery.delivered_at
    # asked again: one delivery row, its time moved on
    dev.third_party_keys()
    assert ThirdPartyKeyDelivery.objects.get().delivered_at >= first
    assert Event.objects.filter(event_type="device.third_party_keys").count() == 2


def test_keys_are_stored_encrypted(keyed):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM licensing_thirdpartykey WHERE key_id = %s", ["k-speech"])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored
    assert crypto.decrypt(stored) == SECRET


def test_tags_narrow_the_keys_and_a_license_held_elsewhere_gives_none(registered, keyed, add_line, new_va, token):
    dev = registered()
    assert [k["key_id"] for k in dev.third_party_keys(tags=[keyed["unity"].entitlement_tag])["third_party_keys"]] == [
        "k-speech"
    ]
    before = row_counts()
    reply = dev.third_party_keys(tags=[keyed["cucm"].entitlement_tag])
    assert reply["status"] == "FAILED" and reply["error_code"] == "NO_THIRD_PARTY_KEYS"
    assert "“Default”" in reply["message"] and "for the licenses asked for" in reply["message"]
    after = row_counts()
    assert after.pop("DeviceNonce") == before.pop("DeviceNonce") + 1  # the nonce stays spent
    assert after == before  # nothing else written: no delivery, no event, no contact

    # CUCM licenses in another virtual account: a device there gets the APNs key, not Speech View
    sales = new_va("Sales")
    add_line(sales, keyed["cucm"], 5)
    other = registered(va=sales)
    assert [k["service"] for k in other.third_party_keys()["third_party_keys"]] == ["Apple Push Notification service"]


def test_no_keys_expired_keys_and_expired_licenses_are_refused(registered, keyed, add_line, default_va):
    dev = registered()
    ThirdPartyKey.objects.filter(key_id="k-speech").update(
        expires_on=timezone.now().date() - datetime.timedelta(days=1)
    )
    reply = dev.third_party_keys()
    assert (reply["status"], reply["error_code"]) == ("FAILED", "NO_THIRD_PARTY_KEYS")
    assert "No third party keys are available" in reply["message"]
    assert not Event.objects.filter(event_type="device.third_party_keys").exists()
    ThirdPartyKey.objects.filter(key_id="k-speech").update(expires_on=None)
    default_va.entitlements.all().delete()  # the license is no longer in the virtual account
    assert dev.third_party_keys()["error_code"] == "NO_THIRD_PARTY_KEYS"
    today = timezone.now().date()
    add_line(default_va, keyed["unity"], 1, "term", start=today - datetime.timedelta(days=30), end=today)
    assert dev.third_party_keys()["status"] == "SUCCESS"  # a term line counts through its end date


@pytest.mark.parametrize(
    "tags",
    [[], "regid.x", [""], [1], ["x" * 256], ["t"] * 51],
)
def test_malformed_tags(registered, keyed, tags):
    dev = registered()
    reply = dev.third_party_keys(tags=tags)
    assert (reply["status"], reply["error_code"]) == ("FAILED", "MALFORMED")
    assert "tags" in reply["message"]


def test_unregistered_device_gets_nothing(device, keyed):
    dev = device()
    dev.cert_serial = "abc123"
    reply = dev.send("GET_THIRD_PARTY_KEY")
    assert reply["error_code"] == "NOT_REGISTERED"
    assert "third_party_keys" not in reply


def test_the_xml_wrapper_carries_it_too(registered, keyed, client):
    import json

    dev = registered()
    inner = json.dumps(dev.envelope("GET_THIRD_PARTY_KEY", dev.payload()))
    response = client.post(
        "/Transportgateway/services/DeviceRequestHandler",
        data=f"<smartLicense><message><![CDATA[{inner}]]></message></smartLicense>",
        content_type="application/xml",
    )
    assert response.status_code == 200 and b"GET_THIRD_PARTY_KEY_RESPONSE" in response.content
    assert b"k-speech" in response.content


def test_query_count(registered, keyed):
    dev = registered()
    dev.third_party_keys()
    with CaptureQueriesContext(connection) as queries:
        assert dev.third_party_keys()["status"] == "SUCCESS"
    # certificate with its instance and authority, savepoint, nonce, contact, the VA's licenses, the
    # keys, deliveries (read, update), event; whatever the number of keys
    assert len(queries) <= 11, [q["sql"] for q in queries]

"""REGISTER, RENEW_ID, DEREGISTER: the happy paths and every token refusal."""

import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from core.models import Event
from licensing.models import DeviceCertificate, DeviceIdentity, LicenseUsage, ProductInstance, RegistrationToken
from tests.devices.devicesim import make_csr, row_counts

pytestmark = pytest.mark.django_db


def test_register_issues_a_certificate_and_adds_the_product_instance(device, token, default_va):
    tok = token(max_uses=5)
    dev = device("SN-REG-1")
    reply = dev.register(
        tok,
        hostname="edge-1",
        ip_address="10.0.0.1",
        product_name="CSR 1000V",
        product_type="ROUTER",
        agent_version="5.1.0",
    )

    assert reply["status"] == "SUCCESS"
    assert reply["in_reply_to"]
    assert reply["id_certificate"].startswith("-----BEGIN CERTIFICATE-----")
    assert reply["virtual_account"] == default_va.name and reply["local_account"] == "Acme"
    assert reply["export_controlled"] is False
    assert reply["host_common_name"]
    pi = ProductInstance.objects.get(pk=reply["product_instance_id"])
    assert (pi.udi_serial_number, pi.hostname, pi.virtual_account) == ("SN-REG-1", "edge-1", default_va)
    assert pi.last_contact_at is not None
    identity = DeviceIdentity.objects.get(product_instance=pi)
    assert (identity.ip_address, identity.agent_version, identity.registration_token_id) == (
        "10.0.0.1",
        "5.1.0",
        tok.pk,
    )
    cert = DeviceCertificate.objects.get(product_instance=pi)
    assert cert.serial_hex == reply["id_certificate_serial"] == cert.serial_hex.lower()
    assert abs(cert.not_after - cert.issued_at - datetime.timedelta(days=365)) < datetime.timedelta(seconds=1)
    now_ms = timezone.now().timestamp() * 1000
    assert abs(reply["renew_id_after"] - (now_ms + 182 * 86400 * 1000)) < 60_000
    tok.refresh_from_db()
    assert tok.uses == 1
    assert Event.objects.filter(event_type="device.registered", virtual_account=default_va).count() == 1


def test_later_messages_are_signed_with_the_certificate(registered):
    dev = registered()
    reply = dev.send("AUTHORIZE", entitlements=[])
    assert reply["status"] == "SUCCESS"


@pytest.mark.parametrize(
    "case, code",
    [
        ("unknown", "TOKEN_UNKNOWN"),
        ("expired", "TOKEN_EXPIRED"),
        ("revoked", "TOKEN_REVOKED"),
        ("exhausted", "TOKEN_EXHAUSTED"),
        ("inactive", "ACCOUNT_INACTIVE"),
    ],
)
def test_token_refusals(device, token, acme, case, code):
    from licensing.services.accounts import deactivate_account
    from licensing.services.tokens import REFUSALS, revoke_token

    tok = token(max_uses=1)
    if case == "expired":
        RegistrationToken.objects.filter(pk=tok.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    elif case == "revoked":
        revoke_token(actor=None, token=tok)
    elif case == "exhausted":
        assert device().register(tok)["status"] == "SUCCESS"
    elif case == "inactive":
        deactivate_account(actor=None, account=acme)
    before = row_counts()
    dev = device()
    reply = dev.register("bm90LWEtdG9rZW4=" if case == "unknown" else tok)
    assert reply["status"] == "FAILED"
    assert reply["error_code"] == code
    assert reply["message"] == REFUSALS[code.lower()]
    after = row_counts()
    assert after.pop("DeviceNonce") == before.pop("DeviceNonce") + 1  # the nonce is spent, nothing else
    assert after == before


def test_reregistration_in_place_keeps_usage_and_revokes_old_certificates(
    registered, token, license_def, add_line, default_va
):
    lic = license_def("DNA Advantage")
    add_line(default_va, lic, 5)
    dev = registered("SN-RE-1")
    dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 2}])
    old_serial = dev.cert_serial
    dev.key = ec.generate_private_key(ec.SECP256R1())  # a device may re-register with a new key
    reply = dev.register(token())
    assert reply["status"] == "SUCCESS"
    assert ProductInstance.objects.filter(udi_serial_number="SN-RE-1").count() == 1
    assert LicenseUsage.objects.get(product_instance_id=reply["product_instance_id"]).count == 2
    assert DeviceCertificate.objects.get(serial_hex=old_serial).revoked_at is not None
    # the old certificate no longer works
    dev.cert_serial = old_serial
    assert dev.send("AUTHORIZE", entitlements=[])["error_code"] in ("NOT_REGISTERED", "BAD_SIGNATURE")


def test_force_moves_the_product_instance_to_the_tokens_virtual_account(registered, token, acme, default_va):
    from licensing.services.virtual_accounts import create_virtual_account

    sales = create_virtual_account(actor=None, account=acme, name="Sales")
    dev = registered("SN-MOVE")
    stay = dev.register(token(va=sales))
    assert stay["virtual_account"] == default_va.name  # without force: re-registered where it is
    moved = dev.register(token(va=sales), force=True)
    assert moved["status"] == "SUCCESS" and moved["virtual_account"] == "Sales"
    assert ProductInstance.objects.get(udi_serial_number="SN-MOVE").virtual_account == sales


def test_same_udi_in_another_account_is_a_separate_product_instance(registered, device, make_account):
    from licensing.services.tokens import create_token

    first = registered("SN-SHARED")
    other = make_account("Globex")
    other_token = create_token(actor=None, virtual_account=other.virtual_accounts.get())
    second = device("SN-SHARED")
    assert second.register(other_token)["status"] == "SUCCESS"
    assert ProductInstance.objects.filter(udi_serial_number="SN-SHARED").count() == 2
    # the first device's certificate still works, in its own account only
    assert first.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"


def test_renew_id_issues_a_new_certificate_and_the_old_one_has_a_grace_period(registered):
    dev = registered()
    old_serial = dev.cert_serial
    reply = dev.send("RENEW_ID", csr=make_csr(dev.key))
    assert reply["status"] == "SUCCESS"
    assert reply["id_certificate_serial"] != old_serial
    old = DeviceCertificate.objects.get(serial_hex=old_serial)
    assert old.superseded_at is not None and old.revoked_at is None
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"  # still inside the grace period
    DeviceCertificate.objects.filter(pk=old.pk).update(superseded_at=timezone.now() - datetime.timedelta(hours=25))
    assert dev.send("AUTHORIZE", entitlements=[])["error_code"] == "NOT_REGISTERED"
    dev.cert_serial = reply["id_certificate_serial"]
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
    assert Event.objects.filter(event_type="device.id_renewed").count() == 1


def test_deregister_releases_licenses_and_removes_the_instance(registered, license_def, add_line, default_va):
    lic = license_def("Security")
    add_line(default_va, lic, 3)
    dev = registered()
    dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 2}])
    reply = dev.send("DEREGISTER")
    assert reply == {**reply, "status": "SUCCESS", "released": [{"tag": lic.entitlement_tag, "count": 2}]}
    assert not ProductInstance.objects.filter(udi_serial_number=dev.sudi["udi_serial_number"]).exists()
    assert not LicenseUsage.objects.exists()
    assert Event.objects.filter(event_type="pi.removed").count() == 1
    assert dev.send("AUTHORIZE", entitlements=[])["error_code"] == "NOT_REGISTERED"


def test_messages_of_a_deactivated_account_are_refused(registered, acme):
    from licensing.services.accounts import deactivate_account

    dev = registered()
    deactivate_account(actor=None, account=acme)
    before = row_counts()
    reply = dev.send("AUTHORIZE", entitlements=[])
    assert reply["error_code"] == "ACCOUNT_INACTIVE"
    assert row_counts() == before


def test_device_messages_are_counted_by_type_and_result(device, token):
    from licensing.metrics import DEVICE_MESSAGES

    def count(kind, result):
        return DEVICE_MESSAGES.labels(type=kind, result=result)._value.get()

    ok_before, refused_before = count("REGISTER", "SUCCESS"), count("REGISTER", "TOKEN_UNKNOWN")
    assert device("SN-METRIC-1").register(token(max_uses=5))["status"] == "SUCCESS"
    assert device("SN-METRIC-2").register("bm90LWEtdG9rZW4=")["error_code"] == "TOKEN_UNKNOWN"
    assert count("REGISTER", "SUCCESS") == ok_before + 1
    assert count("REGISTER", "TOKEN_UNKNOWN") == refused_before + 1


@pytest.mark.parametrize("serial", ["ABC_1", "ABC@1", "ABCé1", "FOC 2412", "序列号-7", "A" * 255])
def test_register_accepts_any_printable_serial_and_keeps_it_exactly(device, token, serial):
    dev = device(serial)
    reply = dev.register(token())
    assert reply["status"] == "SUCCESS", reply
    assert ProductInstance.objects.get(pk=reply["product_instance_id"]).udi_serial_number == serial
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"


@pytest.mark.parametrize(
    "field, value",
    [
        ("udi_serial_number", "A\nB"),
        ("udi_serial_number", "A\tB"),
        ("udi_serial_number", "A\x7fB"),
        ("udi_serial_number", "A\x1b[31mB"),
        ("udi_serial_number", "ABC\u202e1"),
        ("udi_serial_number", "A\u200bB"),
        ("udi_serial_number", "A\u2028B"),
        ("udi_pid", "CSR\x01"),
    ],
)
def test_register_refuses_a_udi_with_control_or_format_characters(device, token, field, value):
    tok = token()
    dev = device()
    dev.sudi[field] = value
    before = row_counts()
    reply = dev.register(tok)
    assert (reply["status"], reply["error_code"]) == ("FAILED", "MALFORMED"), reply
    assert field in reply["message"] and "printable" in reply["message"]
    assert row_counts() == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("udi_serial_number", ""),
        ("udi_serial_number", "A" * 256),
        ("udi_pid", ""),
        ("udi_serial_number", 7),
    ],
)
def test_register_refuses_an_empty_or_too_long_udi(device, token, field, value):
    tok = token()
    dev = device()
    dev.sudi[field] = value
    before = row_counts()
    reply = dev.register(tok)
    assert (reply["status"], reply["error_code"]) == ("FAILED", "MALFORMED"), reply
    assert field in reply["message"]
    assert row_counts() == before

"""REGISTER of a UDI that already has a product instance, and DEREGISTER: who may take over, move
and remove a product instance through the device channel (docs/protocol.md, "Re-registration of
an existing UDI"; the RBAC table's "Devices").

The estate: Acme's virtual accounts Data Center, Campus and Lab; a VA User on Campus only, a VA
Administrator on Campus and Data Center, an Account Administrator. Product instances are
registered by their devices with tokens of their own virtual account.
"""

import datetime
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.utils import timezone

from accounts.rbac import Action, token_delegates
from accounts.roles import AccountRole
from core.models import Event
from licensing.models import (
    Alert,
    DeviceCertificate,
    DeviceIdentity,
    LicenseUsage,
    ProductInstance,
    RegistrationToken,
    UsageTotal,
)
from licensing.services.alerts import dismiss_alert, recompute_alerts
from licensing.services.device_errors import MESSAGES
from licensing.services.tokens import create_token
from tests.devices.devicesim import make_csr, row_counts, rum

pytestmark = pytest.mark.django_db

REFUSED = "REREGISTRATION_REFUSED"


@pytest.fixture
def estate(acme, default_va, make_user, license_def, add_line):
    from accounts.services.grants import set_account_role, set_virtual_account_role
    from licensing.services.virtual_accounts import create_virtual_account

    vas = {
        name: create_virtual_account(actor=None, account=acme, name=name) for name in ("Data Center", "Campus", "Lab")
    }
    users = {
        "va_user": make_user("campus-user"),
        "va_admin": make_user("dc-campus-admin"),
        "account_admin": make_user("acme-admin"),
    }
    set_virtual_account_role(actor=None, virtual_account=vas["Campus"], role=AccountRole.VA_USER, user=users["va_user"])
    for name in ("Campus", "Data Center"):
        set_virtual_account_role(
            actor=None, virtual_account=vas[name], role=AccountRole.VA_ADMIN, user=users["va_admin"]
        )
    set_account_role(actor=None, account=acme, role=AccountRole.ACCOUNT_ADMIN, user=users["account_admin"])
    lic = license_def("DNA Advantage")
    for va in vas.values():
        add_line(va, lic, 10)

    class Estate:
        pass

    estate = Estate()
    estate.account, estate.vas, estate.users, estate.license = acme, vas, users, lic
    return estate


@pytest.fixture
def placed(device, estate):
    """placed(va_name, serial) -> a device registered (by the system's token) into that VA, using 2 licenses."""

    def _placed(va_name, serial):
        dev = device(serial)
        tok = create_token(actor=None, virtual_account=estate.vas[va_name])
        reply = dev.register(tok, hostname=f"{serial.lower()}.example")
        assert reply["status"] == "SUCCESS", reply
        assert (
            dev.send("AUTHORIZE", entitlements=[{"tag": estate.license.entitlement_tag, "count": 2}])["status"]
            == "SUCCESS"
        )
        return dev

    return _placed


def _token(estate, who, va_name):
    return create_token(actor=estate.users[who], virtual_account=estate.vas[va_name])


def _snapshot(serial):
    """Every column of the product instance, its identity, certificates and usage, and every VA's usage totals."""
    pi = ProductInstance.objects.get(udi_serial_number=serial)
    return {
        "pi": ProductInstance.objects.filter(pk=pi.pk).values().get(),
        "identity": list(DeviceIdentity.objects.filter(product_instance=pi).values()),
        "certificates": list(DeviceCertificate.objects.filter(product_instance=pi).order_by("pk").values()),
        "usage": list(LicenseUsage.objects.filter(product_instance=pi).order_by("pk").values()),
        "totals": sorted(
            (t["virtual_account_id"], t["license_id"], t["shard"], t["count"]) for t in UsageTotal.objects.values()
        ),
        "token_uses": sum(RegistrationToken.objects.values_list("uses", flat=True)),
    }


def _intruder(device, serial):
    """Another device claiming ``serial``'s UDI: its own key, not the product instance's."""
    return device(serial)


def _refused(reply):
    assert reply["status"] == "FAILED", reply
    assert reply["error_code"] == REFUSED
    assert reply["message"] == MESSAGES[REFUSED]
    assert "id_certificate" not in reply


# -- refusals -------------------------------------------------------------------------------------


def test_a_va_user_token_cannot_move_another_vas_product_instance(device, estate, placed):
    real = placed("Data Center", "DC-1")
    tok = _token(estate, "va_user", "Campus")
    before = _snapshot("DC-1")
    counts = row_counts()
    reply = _intruder(device, "DC-1").register(tok, force=True, hostname="pwned")

    _refused(reply)
    assert _snapshot("DC-1") == before  # the VA, hostname, usage, totals, certificates, token uses
    after = row_counts()
    assert after.pop("DeviceNonce") == counts.pop("DeviceNonce") + 1
    assert after.pop("Event") == counts.pop("Event") + 1
    assert after == counts
    dc = estate.vas["Data Center"]
    event = Event.objects.get(event_type="device.move_refused")
    assert event.virtual_account == dc and event.severity == "ALERT"
    assert "“dc-1.example”" in event.message and "“Campus”" in event.message and "“campus-user”" in event.message
    alert = Alert.objects.get(alert_type=Alert.Type.REREGISTRATION_REFUSED)
    assert (alert.account, alert.virtual_account, alert.severity, alert.status) == (
        estate.account,
        dc,
        Alert.Severity.MAJOR,
        Alert.Status.OPEN,
    )
    assert alert.message == event.message
    # the real device carries on, with its certificate
    assert (
        real.send("AUTHORIZE", entitlements=[{"tag": estate.license.entitlement_tag, "count": 2}])["status"]
        == "SUCCESS"
    )


def test_without_force_a_foreign_token_cannot_take_over_a_product_instance_where_it_is(device, estate, placed):
    placed("Lab", "LAB-1")
    before = _snapshot("LAB-1")
    intruder = _intruder(device, "LAB-1")
    _refused(intruder.register(_token(estate, "va_user", "Campus"), hostname="pwned"))
    assert _snapshot("LAB-1") == before  # no certificate issued, none revoked
    assert Event.objects.get(event_type="device.reregistration_refused").virtual_account == estate.vas["Lab"]
    assert Alert.objects.get(alert_type=Alert.Type.REREGISTRATION_REFUSED).virtual_account == estate.vas["Lab"]


def test_the_refused_device_cannot_deregister_and_the_real_one_still_can(device, estate, placed):
    real = placed("Data Center", "DC-2")
    intruder = _intruder(device, "DC-2")
    _refused(intruder.register(_token(estate, "va_user", "Campus"), force=True))
    # no certificate: a DEREGISTER signed with its own key ("csr") is not registered
    assert intruder.send("DEREGISTER")["error_code"] == "NOT_REGISTERED"
    # signing with the real device's certificate serial does not verify with the intruder's key
    forged = intruder.envelope("DEREGISTER", intruder.payload(), key=real.cert_serial)
    assert json.loads(json.loads(intruder.post(forged).content)["payload"])["error_code"] == "BAD_SIGNATURE"
    assert ProductInstance.objects.filter(udi_serial_number="DC-2").exists()
    reply = real.send("DEREGISTER")
    assert reply["status"] == "SUCCESS"
    assert reply["released"] == [{"tag": estate.license.entitlement_tag, "count": 2}]
    assert not ProductInstance.objects.filter(udi_serial_number="DC-2").exists()


def test_a_token_without_a_creator_or_whose_creator_lost_the_right_delegates_nothing(device, estate, placed):
    placed("Data Center", "DC-3")
    before = _snapshot("DC-3")
    system_token = create_token(actor=None, virtual_account=estate.vas["Campus"])
    _refused(_intruder(device, "DC-3").register(system_token, force=True))
    admin_token = _token(estate, "va_admin", "Campus")
    from accounts.models import RoleGrant
    from accounts.services.grants import revoke_grant

    revoke_grant(
        actor=None,
        grant=RoleGrant.objects.get(user=estate.users["va_admin"], virtual_account=estate.vas["Data Center"]),
    )
    _refused(_intruder(device, "DC-3").register(admin_token, force=True))
    disabled = _token(estate, "account_admin", "Campus")
    estate.users["account_admin"].is_active = False
    estate.users["account_admin"].save(update_fields=["is_active"])
    _refused(_intruder(device, "DC-3").register(disabled, force=True))
    assert _snapshot("DC-3") == before


def test_a_superseded_or_revoked_key_proves_nothing(device, estate, placed):
    dev = placed("Data Center", "DC-4")
    new_key = ec.generate_private_key(ec.SECP256R1())
    renewed = dev.send("RENEW_ID", csr=make_csr(new_key))  # signed with the old key, for the new one
    assert renewed["status"] == "SUCCESS"
    tok = _token(estate, "va_user", "Campus")
    before = _snapshot("DC-4")
    # the key RENEW_ID replaced (its certificate is still in its grace period)
    _refused(dev.register(tok, force=True))
    # the key of a certificate revoked by a re-registration in place
    dev.key, dev.cert_serial = new_key, renewed["id_certificate_serial"]
    reset = device("DC-4")
    assert reset.register(create_token(actor=None, virtual_account=estate.vas["Data Center"]))["status"] == "SUCCESS"
    assert DeviceCertificate.objects.get(serial_hex=dev.cert_serial).revoked_at is not None
    before = _snapshot("DC-4")
    _refused(dev.register(tok, force=True))
    assert _snapshot("DC-4") == before


def test_refusals_are_told_once_per_hour_per_product_instance_and_token(device, estate, placed):
    placed("Data Center", "DC-5")
    tok = _token(estate, "va_user", "Campus")
    for _ in range(3):
        _refused(_intruder(device, "DC-5").register(tok, force=True))
    assert Event.objects.filter(event_type="device.move_refused").count() == 1
    alert = Alert.objects.get(alert_type=Alert.Type.REREGISTRATION_REFUSED)
    # not the cause of a recomputed alert: the recomputation leaves it open; people may dismiss it
    recompute_alerts(estate.account)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN
    dismiss_alert(actor=None, alert=alert)
    # an hour later, another attempt re-opens it and is recorded again
    Alert.objects.filter(pk=alert.pk).update(updated_at=timezone.now() - datetime.timedelta(hours=2))
    _refused(_intruder(device, "DC-5").register(tok, force=True))
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN
    assert Event.objects.filter(event_type="device.move_refused").count() == 2


# -- what is allowed ---------------------------------------------------------------------------


def test_a_token_of_the_product_instances_own_virtual_account_re_registers_it_in_place(device, estate, placed):
    real = placed("Campus", "CAMPUS-1")
    new = _intruder(device, "CAMPUS-1")  # a new key: e.g. the device was reset
    reply = new.register(_token(estate, "va_user", "Campus"), hostname="campus-1b")
    assert reply["status"] == "SUCCESS" and reply["virtual_account"] == "Campus"
    pi = ProductInstance.objects.get(udi_serial_number="CAMPUS-1")
    assert pi.hostname == "campus-1b"
    assert LicenseUsage.objects.get(product_instance=pi).count == 2
    # the old key's certificate is revoked: it can no longer remove the product instance
    assert real.send("DEREGISTER")["error_code"] == "NOT_REGISTERED"
    assert ProductInstance.objects.filter(udi_serial_number="CAMPUS-1").exists()
    assert not Alert.objects.filter(alert_type=Alert.Type.REREGISTRATION_REFUSED).exists()


def test_the_device_proving_its_current_id_key_may_re_register_and_move_itself(estate, placed):
    dev = placed("Data Center", "DC-6")
    tok = _token(estate, "va_user", "Campus")
    stay = dev.register(tok)  # its own key: the REGISTER is signed with the current ID key
    assert stay["status"] == "SUCCESS" and stay["virtual_account"] == "Data Center"
    moved = dev.register(tok, force=True)
    assert moved["status"] == "SUCCESS" and moved["virtual_account"] == "Campus"
    pi = ProductInstance.objects.get(udi_serial_number="DC-6")
    assert pi.virtual_account == estate.vas["Campus"]
    assert LicenseUsage.objects.get(product_instance=pi).count == 2
    assert dev.send("DEREGISTER")["status"] == "SUCCESS"  # the device removes itself, as the guide says


def test_a_token_whose_creator_may_transfer_moves_or_re_registers_the_product_instance(device, estate, placed):
    placed("Data Center", "DC-7")
    placed("Lab", "LAB-2")
    moved = _intruder(device, "DC-7").register(_token(estate, "va_admin", "Campus"), force=True)
    assert moved["status"] == "SUCCESS" and moved["virtual_account"] == "Campus"
    assert ProductInstance.objects.get(udi_serial_number="DC-7").virtual_account == estate.vas["Campus"]
    # the usage follows it: 2 in use now counted in Campus, none left in Data Center
    dc, campus = estate.vas["Data Center"], estate.vas["Campus"]
    totals = {
        va: sum(UsageTotal.objects.filter(virtual_account=va).values_list("count", flat=True)) for va in (dc, campus)
    }
    assert totals == {dc: 0, campus: 2}
    # an Account Administrator's token, without force: re-registered where it is
    stay = _intruder(device, "LAB-2").register(_token(estate, "account_admin", "Campus"))
    assert stay["status"] == "SUCCESS" and stay["virtual_account"] == "Lab"
    assert not Alert.objects.filter(alert_type=Alert.Type.REREGISTRATION_REFUSED).exists()


def test_an_slp_device_proves_its_pinned_key(device, estate, acme, default_va):
    from urllib.parse import quote

    dev = device("SLP-RE-1")
    path = f"/cslu/v1/pi/{quote(acme.name, safe='')}-{acme.pk}"
    assert (
        dev.send("REPORT_USAGE", path=path, csr=make_csr(dev.key), reports=[rum(dev.key, "1", [])])["status"]
        == "SUCCESS"
    )
    tok = _token(estate, "va_user", "Campus")
    _refused(_intruder(device, "SLP-RE-1").register(tok, force=True))
    moved = dev.register(tok, force=True)
    assert moved["status"] == "SUCCESS" and moved["virtual_account"] == "Campus"


def test_token_delegates_is_the_creators_transfer_right(estate):
    dc, campus, lab = (estate.vas[name] for name in ("Data Center", "Campus", "Lab"))

    def delegates(who, to_va, from_va):
        tok = create_token(actor=estate.users[who] if who else None, virtual_account=to_va)
        return token_delegates(tok, Action.TRANSFER, virtual_account=from_va, to_virtual_account=to_va)

    assert not delegates("va_user", campus, dc)
    assert delegates("va_admin", campus, dc) and not delegates("va_admin", campus, lab)
    assert delegates("account_admin", campus, lab)
    assert not delegates(None, campus, dc)


# -- DEREGISTER ------------------------------------------------------------------------------------


def test_deregister_needs_the_current_certificate_not_one_renew_id_replaced(estate, placed):
    dev = placed("Data Center", "DC-8")
    old_serial = dev.cert_serial
    renewed = dev.send("RENEW_ID", csr=make_csr(dev.key))
    assert renewed["status"] == "SUCCESS"
    # still inside the grace period: usable for other messages, but it cannot remove the instance
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
    before = _snapshot("DC-8")
    reply = dev.send("DEREGISTER")
    assert reply["error_code"] == "NOT_REGISTERED" and "current ID certificate" in reply["message"]
    assert {k: v for k, v in _snapshot("DC-8").items() if k != "pi"} == {k: v for k, v in before.items() if k != "pi"}
    dev.cert_serial = renewed["id_certificate_serial"]
    assert dev.send("DEREGISTER")["status"] == "SUCCESS"
    assert not ProductInstance.objects.filter(udi_serial_number="DC-8").exists()
    assert DeviceCertificate.objects.filter(serial_hex=old_serial).count() == 0


def test_deregister_with_another_devices_certificate_is_refused(estate, placed):
    first, second = placed("Campus", "CAMPUS-2"), placed("Data Center", "DC-9")
    first.sudi = dict(second.sudi)  # the first device's certificate, the second device's UDI
    assert first.send("DEREGISTER")["error_code"] == "NOT_REGISTERED"
    assert ProductInstance.objects.filter(udi_serial_number="DC-9").exists()


# -- cost ------------------------------------------------------------------------------------------


def test_re_registration_costs_no_extra_query_with_a_token_of_the_instances_own_virtual_account(
    estate, placed, django_assert_max_num_queries
):
    dev = placed("Campus", "CAMPUS-3")
    tok = _token(estate, "va_user", "Campus")
    envelope = dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key)), key="csr")
    # A token of the instance's own virtual account is decided without reading anything: the rule
    # adds no statement (the test's savepoints included). One read is the check that this is not
    # the same REGISTER again (device_registration.repeated_registration: a retry after a lost reply).
    with django_assert_max_num_queries(17):
        response = dev.post(envelope)
    assert json.loads(json.loads(response.content)["payload"])["status"] == "SUCCESS"
    # Another virtual account's token, the device proving its key: one read for the key, none for
    # the repeat check (another virtual account is never a repeat).
    lab = placed("Lab", "LAB-3")
    envelope = lab.envelope("REGISTER", lab.payload(id_token=tok.token, csr=make_csr(lab.key)), key="csr")
    with django_assert_max_num_queries(17):
        response = lab.post(envelope)
    assert json.loads(json.loads(response.content)["payload"])["virtual_account"] == "Lab"

"""AUTHORIZE: usage into LicenseUsage, compliance per license, tiers, redundancy, export control."""

import pytest

from core.models import Event
from licensing.models import LicenseUsage, ProductInstance
from licensing.services.compliance import virtual_account_positions

pytestmark = pytest.mark.django_db


def _usage(dev):
    return dict(
        LicenseUsage.objects.filter(product_instance__udi_serial_number=dev.sudi["udi_serial_number"]).values_list(
            "license__entitlement_tag", "count"
        )
    )


def test_authorize_records_usage_and_answers_per_license(registered, license_def, add_line, default_va):
    adv, ess = license_def("Advantage"), license_def("Essentials")
    add_line(default_va, adv, 5)
    dev = registered()
    reply = dev.send(
        "AUTHORIZE",
        entitlements=[
            {"tag": adv.entitlement_tag, "count": 3},
            {"tag": ess.entitlement_tag, "count": 1},
            {"tag": "regid.unknown", "count": 1},
        ],
    )
    assert reply["status"] == "SUCCESS"
    assert reply["authorizations"] == [
        {"tag": adv.entitlement_tag, "count": 3, "status": "AUTHORIZED"},
        {"tag": ess.entitlement_tag, "count": 1, "status": "OUT_OF_COMPLIANCE"},
        {"tag": "regid.unknown", "count": 1, "status": "NOT_AUTHORIZED", "reason": "UNKNOWN_TAG"},
    ]
    assert reply["compliance"] == "OUT_OF_COMPLIANCE"
    assert reply["auth_expires"] - reply["renew_auth_after"] == 60 * 86400 * 1000
    assert _usage(dev) == {adv.entitlement_tag: 3, ess.entitlement_tag: 1}
    assert Event.objects.filter(event_type="device.connected").count() == 1

    # the complete set each time: changed counts update, missing licenses are released
    reply = dev.send("AUTHORIZE", entitlements=[{"tag": adv.entitlement_tag, "count": 5}])
    assert reply["compliance"] == "IN_COMPLIANCE"
    assert _usage(dev) == {adv.entitlement_tag: 5}
    dev.send("AUTHORIZE", entitlements=[])
    assert _usage(dev) == {}


def test_tier_substitution_authorizes_a_lower_tier_from_a_higher_one(registered, license_def, add_line, default_va):
    ess = license_def("Essentials")
    adv = license_def("Advantage", substitutes_for=[ess])
    add_line(default_va, adv, 4)
    dev = registered()
    reply = dev.send("AUTHORIZE", entitlements=[{"tag": ess.entitlement_tag, "count": 2}])
    assert reply["authorizations"][0]["status"] == "AUTHORIZED"
    position = {p.license: p for p in virtual_account_positions(default_va)}["Essentials"]
    assert (position.in_use, position.borrowed) == (2, 2)


def test_active_standby_pair_is_counted_once_and_fail_over_moves_the_count(
    registered, license_def, add_line, default_va
):
    lic = license_def("Firewall")
    add_line(default_va, lic, 1)
    a, b = registered("HA-A"), registered("HA-B")
    ent = [{"tag": lic.entitlement_tag, "count": 1}]
    a_red = {
        "application_name": "FW",
        "app_role": "ACTIVE",
        "app_id": "1",
        "peers": [{"name": "FW-B", "role": "STANDBY", "id": "2", "product_instance_identifier": "HA-B"}],
    }
    b_red = {
        "application_name": "FW",
        "app_role": "STANDBY",
        "app_id": "2",
        "peers": [{"name": "FW-A", "role": "ACTIVE", "id": "1", "product_instance_identifier": "HA-A"}],
    }
    assert a.send("AUTHORIZE", entitlements=ent, app_redundancy=a_red)["compliance"] == "IN_COMPLIANCE"
    assert b.send("AUTHORIZE", entitlements=ent, app_redundancy=b_red)["compliance"] == "IN_COMPLIANCE"
    position = virtual_account_positions(default_va)[0]
    assert position.in_use == 1  # two usage rows, one license counted
    assert LicenseUsage.objects.count() == 2
    assert Event.objects.filter(event_type="device.added_redundant").count() == 1

    # fail-over: B declares itself ACTIVE without peers; A (dead) becomes STANDBY, still counted once
    b_active = {"application_name": "FW", "app_role": "ACTIVE", "app_id": "2", "peers": []}
    assert b.send("AUTHORIZE", entitlements=ent, app_redundancy=b_active)["compliance"] == "IN_COMPLIANCE"
    roles = dict(ProductInstance.objects.values_list("udi_serial_number", "redundancy_role"))
    assert roles == {"HA-A": "standby", "HA-B": "active"}
    assert virtual_account_positions(default_va)[0].in_use == 1


def test_active_active_peers_both_count(registered, license_def, add_line, default_va):
    lic = license_def("VPN")
    add_line(default_va, lic, 1)
    a, b = registered(), registered()
    ent = [{"tag": lic.entitlement_tag, "count": 1}]
    a.send(
        "AUTHORIZE",
        entitlements=ent,
        app_redundancy={"app_role": "ACTIVE", "app_id": "1", "peers": [{"id": "2", "role": "ACTIVE"}]},
    )
    reply = b.send(
        "AUTHORIZE",
        entitlements=ent,
        app_redundancy={"app_role": "ACTIVE", "app_id": "2", "peers": [{"id": "1", "role": "ACTIVE"}]},
    )
    assert reply["compliance"] == "OUT_OF_COMPLIANCE"
    assert virtual_account_positions(default_va)[0].in_use == 2


def test_export_restricted_license_needs_an_export_token(registered, license_def, add_line, default_va):
    hsec = license_def("HSECK9", export_restricted=True)
    add_line(default_va, hsec, 2)
    plain = registered()
    reply = plain.send("AUTHORIZE", entitlements=[{"tag": hsec.entitlement_tag, "count": 1}])
    assert reply["authorizations"][0] == {
        "tag": hsec.entitlement_tag,
        "count": 1,
        "status": "NOT_AUTHORIZED",
        "reason": "EXPORT_NOT_ALLOWED",
    }
    assert _usage(plain) == {}
    allowed = registered(export_controlled=True)
    reply = allowed.send("AUTHORIZE", entitlements=[{"tag": hsec.entitlement_tag, "count": 1}])
    assert reply["authorizations"][0]["status"] == "AUTHORIZED"
    assert _usage(allowed) == {hsec.entitlement_tag: 1}


def test_a_device_cannot_reach_another_accounts_licenses(registered, make_account, license_def, add_line):
    from licensing.services.compliance import license_positions

    lic = license_def("Shared")
    other = make_account("Globex")
    add_line(other.virtual_accounts.get(), lic, 10)
    dev = registered()
    reply = dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 1}])
    assert reply["authorizations"][0]["status"] == "OUT_OF_COMPLIANCE"  # Acme has none of Globex's
    assert license_positions(other)[0].in_use == 0


def test_authorize_query_count_does_not_grow_with_licenses(
    registered, license_def, add_line, default_va, django_assert_max_num_queries
):
    dev = registered()
    small = [license_def(f"L{i}") for i in range(2)]
    for lic in small:
        add_line(default_va, lic, 2)  # enough: no alert opens (that is pinned in tests/alerts)
    dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 1} for lic in small[:1]])
    with django_assert_max_num_queries(16) as small_run:
        dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 2} for lic in small])
    many = [license_def(f"M{i}") for i in range(40)]
    for lic in many:
        add_line(default_va, lic, 1)
    with django_assert_max_num_queries(len(small_run.captured_queries)):
        dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 1} for lic in many])
    assert len(_usage(dev)) == 40

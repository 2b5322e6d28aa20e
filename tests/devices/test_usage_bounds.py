"""Usage bounds: how much of one license a product instance may report, and how many licenses one
message may name (Security widget, Account tab). Over a bound the whole message is refused with
IMPLAUSIBLE_USAGE and nothing changes but its spent nonce; the account gets one event per hour.

The same bound applies wherever a device sets its usage: a CSLU push, REPORT_USAGE and AUTHORIZE
over /SmartTransport (one service function, licensing/services/usage_bounds.py).
"""

import pytest

from accounts.security_models import SecurityPolicy
from core.models import Event
from licensing.models import LicenseUsage, ProductInstance, RumReport
from licensing.services.compliance import virtual_account_positions
from tests.devices.devicesim import cslu_path, make_csr, row_counts, rum

pytestmark = pytest.mark.django_db
REFUSED_EVENT = "device.usage_refused"


def _bounds(max_count, max_licenses=100):
    SecurityPolicy.objects.update_or_create(
        pk=1, defaults={"device_max_license_count": max_count, "device_max_licenses_per_message": max_licenses}
    )


def _in_use(va, lic):
    return {p.license_id: p.in_use for p in virtual_account_positions(va)}.get(lic.pk, 0)


def _usage(dev):
    return dict(
        LicenseUsage.objects.filter(product_instance__udi_serial_number=dev.sudi["udi_serial_number"]).values_list(
            "license__entitlement_tag", "count"
        )
    )


def _without(counts, *names):
    return {key: value for key, value in counts.items() if key not in names}


def _push(dev, account, usage, report_id="1"):
    return dev.send(
        "REPORT_USAGE", path=cslu_path(account), csr=make_csr(dev.key), reports=[rum(dev.key, report_id, usage)]
    )


def test_pushes_of_a_million_licenses_add_nothing(device, acme, default_va, license_def, add_line):
    """Three fresh keys pushing 1,000,000 DNA Advantage each are refused: the VA stays at 4 in use."""
    dna = license_def("DNA Advantage")
    add_line(default_va, dna, 10)
    _push(device(), acme, [{"tag": dna.entitlement_tag, "count": 4}])
    assert _in_use(default_va, dna) == 4
    before = row_counts()
    for _ in range(3):
        reply = _push(device(), acme, [{"tag": dna.entitlement_tag, "count": 1_000_000}])
        assert (reply["status"], reply["error_code"]) == ("FAILED", "IMPLAUSIBLE_USAGE")
        assert "1000000" in reply["message"] and "100000" in reply["message"]
        assert dna.entitlement_tag in reply["message"]
    assert _in_use(default_va, dna) == 4
    after = row_counts()
    # Nothing but the three spent nonces and the account's one event of this hour.
    assert _without(after, "DeviceNonce", "Event") == _without(before, "DeviceNonce", "Event")
    assert after["DeviceNonce"] == before["DeviceNonce"] + 3
    assert after["Event"] == before["Event"] + 1
    event = Event.objects.get(event_type=REFUSED_EVENT)
    assert event.account == acme and event.severity == "WARN"
    assert "1000000" in event.message and "Nothing was changed" in event.message
    assert ProductInstance.objects.count() == 1


def test_a_registered_device_reporting_over_the_bound_is_refused(registered, license_def, add_line, default_va):
    lic = license_def("Advantage")
    dev = registered()
    assert (
        dev.send("REPORT_USAGE", reports=[rum(dev.key, "r-1", [{"tag": lic.entitlement_tag, "count": 7}])])["status"]
        == "SUCCESS"
    )
    before = row_counts()
    reply = dev.send("REPORT_USAGE", reports=[rum(dev.key, "r-2", [{"tag": lic.entitlement_tag, "count": 100_001}])])
    assert reply["error_code"] == "IMPLAUSIBLE_USAGE"
    assert _usage(dev) == {lic.entitlement_tag: 7}
    assert RumReport.objects.count() == 1
    after = row_counts()
    assert _without(after, "DeviceNonce", "Event") == _without(before, "DeviceNonce", "Event")
    event = Event.objects.get(event_type=REFUSED_EVENT)
    assert event.virtual_account == default_va
    # the bound itself is accepted: a big chassis may report that much
    assert (
        dev.send("REPORT_USAGE", reports=[rum(dev.key, "r-3", [{"tag": lic.entitlement_tag, "count": 100_000}])])[
            "status"
        ]
        == "SUCCESS"
    )
    assert _usage(dev) == {lic.entitlement_tag: 100_000}


def test_authorize_over_the_bound_is_refused_and_changes_nothing(registered, license_def):
    lic = license_def("Advantage")
    dev = registered()
    dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 2}])
    before = row_counts()
    reply = dev.send(
        "AUTHORIZE",
        entitlements=[{"tag": lic.entitlement_tag, "count": 60_000}, {"tag": lic.entitlement_tag, "count": 60_000}],
    )
    assert reply["error_code"] == "IMPLAUSIBLE_USAGE"  # the same tag twice is summed, as AUTHORIZE applies it
    assert "120000" in reply["message"]
    assert _usage(dev) == {lic.entitlement_tag: 2}
    assert _without(row_counts(), "DeviceNonce", "Event") == _without(before, "DeviceNonce", "Event")


def test_too_many_licenses_in_one_message(registered, device, acme, license_def):
    _bounds(100_000, max_licenses=3)
    tags = [license_def(f"L{i}").entitlement_tag for i in range(4)]
    dev = registered()
    # Four reports of one license each: the message names four licenses.
    reports = [rum(dev.key, f"r-{i}", [{"tag": tag, "count": 1}]) for i, tag in enumerate(tags)]
    reply = dev.send("REPORT_USAGE", reports=reports)
    assert reply["error_code"] == "IMPLAUSIBLE_USAGE" and "4 licenses" in reply["message"]
    assert not RumReport.objects.exists() and not LicenseUsage.objects.exists()
    reply = dev.send("AUTHORIZE", entitlements=[{"tag": tag, "count": 1} for tag in tags])
    assert reply["error_code"] == "IMPLAUSIBLE_USAGE"
    slp = device()
    assert _push(slp, acme, [{"tag": tag, "count": 1} for tag in tags])["error_code"] == "IMPLAUSIBLE_USAGE"
    assert ProductInstance.objects.count() == 1
    # at the bound: accepted, and the same license in several reports counts once
    assert (
        dev.send("REPORT_USAGE", reports=reports[:3] + [rum(dev.key, "r-x", [{"tag": tags[0], "count": 2}])])["status"]
        == "SUCCESS"
    )
    assert len(_usage(dev)) == 3


def test_the_bound_is_the_security_settings(registered, license_def):
    lic = license_def("Advantage")
    dev = registered()
    _bounds(50)
    assert (
        dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 51}])["error_code"]
        == "IMPLAUSIBLE_USAGE"
    )
    assert dev.send("AUTHORIZE", entitlements=[{"tag": lic.entitlement_tag, "count": 50}])["status"] == "SUCCESS"
    # unknown tags are bounded too: the count is implausible whatever the license
    assert (
        dev.send("REPORT_USAGE", reports=[rum(dev.key, "u", [{"tag": "regid.unknown", "count": 51}])])["error_code"]
        == "IMPLAUSIBLE_USAGE"
    )


def test_one_refusal_event_per_account_per_hour(registered, license_def, make_account, device, monkeypatch):
    import datetime

    from django.utils import timezone

    from licensing.services import usage_bounds

    lic = license_def("Advantage")
    dev = registered()
    big = [{"tag": lic.entitlement_tag, "count": 200_000}]
    for i in range(3):
        assert dev.send("REPORT_USAGE", reports=[rum(dev.key, f"r{i}", big)])["error_code"] == "IMPLAUSIBLE_USAGE"
    assert Event.objects.filter(event_type=REFUSED_EVENT).count() == 1
    # another local account has its own
    globex = make_account("Globex")
    assert _push(device(), globex, big)["error_code"] == "IMPLAUSIBLE_USAGE"
    assert Event.objects.filter(event_type=REFUSED_EVENT, account=globex).count() == 1
    # an hour later, the next refusal is recorded again
    later = timezone.now() + datetime.timedelta(hours=1, seconds=1)
    monkeypatch.setattr(usage_bounds, "now", lambda: later)
    dev.send("REPORT_USAGE", reports=[rum(dev.key, "r9", big)])
    assert Event.objects.filter(event_type=REFUSED_EVENT).exclude(account=globex).count() == 2

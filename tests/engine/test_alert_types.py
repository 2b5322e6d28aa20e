"""The rest of the guide's Alerts tab list: Licenses Expired, Duplicate Licenses,
Synchronization Required (DLC and export control, derived and through the hooks) and Synchronization
Overdue / Re-registration Required (the sync engine's hook), each with its lifecycle, on a
controlled clock."""

import datetime

import pytest

from core.errors import ServiceError
from core.models import Event
from licensing.models import Alert, Entitlement
from licensing.services import alerts as alert_service
from licensing.services.alerts import dismiss_alert, recompute_alerts, remind_later

D = datetime.date
UTC = datetime.timezone.utc
NOW = datetime.datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(days):
    return NOW + datetime.timedelta(days=days)


def live(account, alert_type):
    return list(Alert.objects.filter(account=account, alert_type=alert_type).live().order_by("pk"))


# --- Licenses Expired ----------------------------------------------------------------------------------


def test_licenses_expired_opens_the_day_after_the_end_and_can_be_dismissed(acme, default_va, license_def, add_line):
    csr = license_def("CSR 1KV")
    add_line(default_va, csr, 3, "term", D(2024, 1, 1), D(2025, 3, 10))
    recompute_alerts(acme, NOW)
    assert live(acme, "licenses_expired") == []
    opened, _ = recompute_alerts(acme, at(10))  # 2025-03-11: the line ended yesterday
    (alert,) = [a for a in opened if a.alert_type == "licenses_expired"]
    assert (alert.severity, alert.message) == (
        "minor",
        "3 “CSR 1KV” term licenses in the Virtual Account “Default” expired on 2025-03-10",
    )
    assert not Event.objects.filter(message=alert.message).exists()  # expire_entitlements() records it
    with pytest.raises(ServiceError):
        remind_later(actor=None, alert=alert, now=at(10))
    dismiss_alert(actor=None, alert=alert, now=at(11))
    assert recompute_alerts(acme, at(12)) == ([], [])  # dismissed stays dismissed, nothing reopens
    # After the window the alert clears (and would have cleared undismissed too).
    _, cleared = recompute_alerts(acme, at(10 + alert_service.EXPIRED_ALERT_DAYS + 1))
    assert [a.pk for a in cleared] == [alert.pk]


def test_licenses_expired_subscription_text_and_clearing_when_the_line_leaves(acme, default_va, license_def, add_line):
    csr = license_def("CSR")
    line = add_line(default_va, csr, 1, "subscription", D(2024, 1, 1), D(2025, 2, 27), subscription_id="Sub-9")
    (alert,) = [a for a in recompute_alerts(acme, NOW)[0] if a.alert_type == "licenses_expired"]
    assert alert.message == (
        "1 “CSR” subscription license associated with Subscription ID “Sub-9” in the Virtual "
        "Account “Default” expired on 2025-02-27"
    )
    line.delete()
    _, cleared = recompute_alerts(acme, at(1))
    assert [a.pk for a in cleared] == [alert.pk]


# --- Duplicate Licenses ------------------------------------------------------------------------------------


def test_duplicate_licenses_from_two_subscriptions(acme, default_va, new_va, license_def, add_line):
    dna = license_def("DNA Advantage")
    add_line(default_va, dna, 5, "subscription", D(2025, 1, 1), D(2026, 1, 1), subscription_id="Sub-A")
    recompute_alerts(acme, NOW)
    assert live(acme, "duplicate_licenses") == []
    second = add_line(default_va, dna, 5, "subscription", D(2025, 1, 1), D(2026, 1, 1), subscription_id="Sub-B")
    opened, _ = recompute_alerts(acme, NOW)
    (alert,) = [a for a in opened if a.alert_type == "duplicate_licenses"]
    assert alert.message == (
        "The Virtual Account “Default” holds duplicate “DNA Advantage” licenses from the "
        "Subscription IDs “Sub-A”, “Sub-B”."
    )
    assert Event.objects.filter(event_type="license.duplicate").count() == 1
    with pytest.raises(ServiceError, match="cannot be dismissed"):
        dismiss_alert(actor=None, alert=alert, now=NOW)
    assert recompute_alerts(acme, at(1)) == ([], [])  # idempotent
    # "Transfer the entitlement to another Virtual Account": the alert is removed.
    Entitlement.objects.filter(pk=second.pk).update(virtual_account=new_va("Lab"))
    _, cleared = recompute_alerts(acme, at(2))
    assert [a.pk for a in cleared] == [alert.pk]


def test_same_subscription_split_over_lines_is_no_duplicate(acme, default_va, license_def, add_line):
    dna = license_def("DNA")
    add_line(default_va, dna, 2, "subscription", D(2025, 1, 1), D(2026, 1, 1), subscription_id="Sub-A")
    add_line(default_va, dna, 3, "subscription", D(2025, 1, 1), D(2026, 6, 1), subscription_id="Sub-A")
    recompute_alerts(acme, NOW)
    assert live(acme, "duplicate_licenses") == []


# --- Synchronization Required -----------------------------------------------------------------------------


def test_export_control_alert_follows_pending_requests(acme, default_va, add_pi):
    from licensing.models import DeviceRequest

    request = DeviceRequest.objects.create(
        account=acme,
        product_instance=add_pi(default_va, "EXP1"),
        kind="export_authorize",
        poll_id="p-1",
        created_at=NOW,
    )
    alert = alert_service.raise_sync_required(acme, alert_service.SYNC_EXPORT, now=NOW)
    assert (alert.alert_type, alert.severity, alert.message) == (
        "synchronization_required",
        "major",
        "Synchronization Required: An Export Controlled license request from "
        "a product instance needs authorization from Cisco Smart Software Manager.",
    )
    assert Event.objects.filter(event_type="device.sync_required_export").count() == 1
    assert alert_service.raise_sync_required(acme, alert_service.SYNC_EXPORT, now=at(1)).pk == alert.pk
    assert Event.objects.filter(event_type="device.sync_required_export").count() == 1
    assert recompute_alerts(acme, at(1)) == ([], [])  # the request is pending: the alert stays
    with pytest.raises(ServiceError):
        dismiss_alert(actor=None, alert=alert, now=at(1))
    cleared = alert_service.clear_sync_required(acme, alert_service.SYNC_EXPORT, now=at(2))
    assert (cleared.pk, cleared.status) == (alert.pk, "cleared")
    assert alert_service.clear_sync_required(acme, alert_service.SYNC_EXPORT, now=at(3)) is None
    # The periodic recompute re-derives it while a request is pending (e.g. the hook was missed) ...
    (again,), _ = recompute_alerts(acme, at(4))
    assert again.key == "sync_required:export"
    # ... and clears it once the synchronization decided the request.
    DeviceRequest.objects.filter(pk=request.pk).update(status="complete", decided_at=at(5))
    _, cleared = recompute_alerts(acme, at(5))
    assert [a.pk for a in cleared] == [again.pk]
    with pytest.raises(ValueError):
        alert_service.raise_sync_required(acme, "coffee")


# --- Synchronization Overdue ------------------------------------------------------------------------------


def test_sync_overdue_ladder_and_clearing(acme):
    last = NOW
    assert alert_service.sync_overdue(acme, last, now=at(29)) is None
    minor = alert_service.sync_overdue(acme, last, now=at(30))
    assert (minor.alert_type, minor.severity, minor.message) == (
        "synchronization_overdue",
        "minor",
        "Synchronization Overdue: local Account has not synchronized in 30 days.",
    )
    same = alert_service.sync_overdue(acme, last, now=at(45))
    assert same.pk == minor.pk and same.message.endswith("in 45 days.")
    major = alert_service.sync_overdue(acme, last, now=at(90))
    assert major.pk != minor.pk
    assert (major.severity, major.message) == (
        "major",
        "Synchronization Overdue: On-Prem has not synchronized in 90 days.",
    )
    minor.refresh_from_db()
    assert minor.status == "cleared"
    reregister = alert_service.sync_overdue(acme, last, now=at(365))
    assert (reregister.alert_type, reregister.message) == (
        "reregistration_required",
        "Re-registration Required: On-Prem was not synchronized for 365 days and must be "
        "re-registered with Cisco Smart Software Manager",
    )
    assert recompute_alerts(acme, at(365)) == ([], [])  # left to its hook
    # A synchronization clears it.
    assert alert_service.sync_overdue(acme, at(365), now=at(365)) is None
    assert not Alert.objects.filter(account=acme).live().exists()
    codes = Event.objects.filter(event_type__startswith="alert.").order_by("pk").values_list("event_type", flat=True)
    assert list(codes) == ["alert.sync_overdue_minor", "alert.sync_overdue", "alert.reregistration_required"]

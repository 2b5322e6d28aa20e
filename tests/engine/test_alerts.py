"""Alerts: opened from the data, auto-cleared, idempotent; Dismiss and Remind Later as the guide says."""

import datetime

import pytest

from accounts.roles import AccountRole
from accounts.services.grants import set_virtual_account_role
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Alert
from licensing.services.alerts import dismiss_alert, expiry_stage, recompute_alerts, remind_later
from licensing.services.product_instances import remove_product_instance

D = datetime.date
UTC = datetime.timezone.utc
NOW = datetime.datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(days):
    return NOW + datetime.timedelta(days=days)


def _open(account):
    return list(
        Alert.objects.filter(account=account, status=Alert.Status.OPEN)
        .order_by("pk")
        .values_list("alert_type", "severity", "message")
    )


def test_shortage_opens_a_major_alert_and_clears_when_back_in_compliance(
    acme, default_va, license_def, add_line, use_many
):
    dna = license_def("DNA Advantage")
    line = add_line(default_va, dna, 2)
    use_many(default_va, dna, 5)
    opened, cleared = recompute_alerts(acme, NOW)
    assert len(opened) == 1 and cleared == []
    assert _open(acme) == [
        (
            "insufficient_licenses",
            "major",
            "The Virtual Account “Default” has a shortage of “DNA Advantage” licenses. 3 licenses are "
            "required to return to compliance.",
        )
    ]
    assert Event.objects.filter(event_type="license.insufficient").count() == 1
    # Idempotent: a second run opens nothing and records nothing.
    assert recompute_alerts(acme, NOW) == ([], [])
    assert Event.objects.filter(event_type="license.insufficient").count() == 1
    # The shortage shrinks to 1: same alert, text refreshed.
    line.quantity = 4
    line.save()
    assert recompute_alerts(acme, NOW) == ([], [])
    assert _open(acme)[0][2].endswith("1 license is required to return to compliance.")
    # "The alert cannot be dismissed."
    alert = Alert.objects.get()
    with pytest.raises(ServiceError, match="cannot be dismissed"):
        dismiss_alert(actor=None, alert=alert)
    with pytest.raises(ServiceError, match="no Remind Later"):
        remind_later(actor=None, alert=alert)
    # "It is automatically dismissed when the licenses are brought back into compliance."
    line.quantity = 5
    line.save()
    opened, cleared = recompute_alerts(acme, NOW)
    assert opened == [] and [a.pk for a in cleared] == [alert.pk]
    alert.refresh_from_db()
    assert alert.status == Alert.Status.CLEARED and alert.cleared_at == NOW


@pytest.mark.parametrize(
    "days_left, stage",
    [
        (91, None),
        (90, 90),
        (61, 90),
        (60, 60),
        (43, 60),
        (30, 30),
        (15, 30),
        (14, 14),
        (8, 14),
        (7, 7),
        (3, 3),
        (2, 2),
        (1, 1),
        (0, 0),
    ],
)
def test_expiry_warning_periods(days_left, stage):
    assert expiry_stage(days_left) == stage


def test_expiring_licenses_ladder(acme, default_va, license_def, add_line):
    csr = license_def("CSR 1KV STANDARD 50M")
    end = D(2025, 4, 13)  # 43 days after NOW: the guide's "set to expire in 43 days"
    add_line(default_va, csr, 6, "demo", D(2025, 2, 12), end)
    add_line(default_va, csr, 4, "demo", D(2025, 2, 12), end)
    add_line(default_va, csr, 1, "term", D(2025, 1, 1), D(2025, 12, 31))  # beyond 90 days: nothing
    (alert,), _ = recompute_alerts(acme, NOW)
    assert (alert.alert_type, alert.severity, alert.stage) == ("licenses_expiring", "minor", 60)
    assert alert.message == (
        "10 “CSR 1KV STANDARD 50M” demo licenses in the Virtual Account “Default” are set to "
        "expire in 43 days on 2025-04-13"
    )
    assert alert.action_due == datetime.datetime(2025, 4, 13, tzinfo=UTC)
    # Remind Later hides it until the next warning period (30 days before the end).
    remind_later(actor=None, alert=alert, now=NOW)
    alert.refresh_from_db()
    assert alert.remind_until == datetime.datetime(2025, 3, 14, tzinfo=UTC)
    assert not Alert.objects.visible(NOW).exists()
    assert recompute_alerts(acme, at(5)) == ([], [])  # still the 60-day period: same alert, still hidden
    assert not Alert.objects.visible(at(5)).exists()
    # The 30-day period: a new alert opens and the previous warning is dismissed automatically.
    opened, cleared = recompute_alerts(acme, at(13))
    assert [a.stage for a in opened] == [30] and [a.pk for a in cleared] == [alert.pk]
    assert [a.message for a in Alert.objects.visible(at(13))] == [
        "10 “CSR 1KV STANDARD 50M” demo licenses in the Virtual Account “Default” are set to expire in 30 days on "
        "2025-04-13"
    ]
    # The last day and the end date itself.
    recompute_alerts(acme, at(42))
    assert _open(acme)[-1][2].endswith("are set to expire in 1 day on 2025-04-13")
    recompute_alerts(acme, at(43))
    assert _open(acme)[-1][2].endswith("are set to expire today on 2025-04-13")
    # Gone the next day: no Licenses Expiring left open; Licenses Expired takes over.
    recompute_alerts(acme, at(44))
    assert [a[0] for a in _open(acme)] == ["licenses_expired"]


def test_expiring_subscription_text_is_the_guides(acme, default_va, license_def, add_line):
    csr = license_def("CSR")
    add_line(default_va, csr, 1, "subscription", D(2025, 1, 1), D(2025, 3, 4), subscription_id="Sub-9")
    (alert,), _ = recompute_alerts(acme, NOW)
    assert alert.message == (
        "1 CSR subscription license associated with Subscription ID Sub-9 in the Virtual "
        "Account “Default” is set to expire in 3 days on 2025-03-04"
    )


def test_failed_to_connect_and_renew(acme, default_va, add_pi):
    pi = add_pi(default_va, "SN1", last_contact_at=NOW)
    assert recompute_alerts(acme, at(29)) == ([], [])
    (first,), _ = recompute_alerts(acme, at(30))
    assert (first.alert_type, first.severity, first.stage) == ("pi_failed_to_connect", "minor", 30)
    assert first.message == (
        "The product instance “sn1” in the Virtual Account “Default” has not connected for its renewal period. The "
        "product instance may run in a degraded state if it does not connect within the next 60 days. If the "
        "product instance is not going to connect, you can remove it to immediately release the non-restricted "
        "licenses it is consuming. Please have the product instance connect to Smart Software Manager or open a "
        "support case to have it removed."
    )
    assert first.action_due == at(90)
    with pytest.raises(ServiceError):
        dismiss_alert(actor=None, alert=first)
    remind_later(actor=None, alert=first, now=at(31))
    first.refresh_from_db()
    assert first.remind_until == at(60)
    assert recompute_alerts(acme, at(45)) == ([], [])
    opened, cleared = recompute_alerts(acme, at(60))
    assert [a.stage for a in opened] == [60] and cleared == [first]
    opened, cleared = recompute_alerts(acme, at(88))
    assert opened == [] and "within the next 2 days" in _open(acme)[0][2]
    (renew,), _ = recompute_alerts(acme, at(90))
    assert (renew.alert_type, renew.severity, renew.action_due) == ("pi_failed_to_renew", "major", None)
    assert "failed to connect during its renewal period" in renew.message
    assert Event.objects.filter(event_type="pi.failed_to_renew").count() == 1
    # Failed to Renew can be dismissed; it stays dismissed while the cause lasts.
    dismiss_alert(actor=None, alert=renew, now=at(91))
    assert recompute_alerts(acme, at(92)) == ([], [])
    renew.refresh_from_db()
    assert renew.status == Alert.Status.DISMISSED
    with pytest.raises(ServiceError, match="no longer open"):
        dismiss_alert(actor=None, alert=renew)
    # The device connects again: the cause is gone, the alert is cleared.
    pi.last_contact_at = at(93)
    pi.save()
    _, cleared = recompute_alerts(acme, at(93))
    assert cleared == [renew]


def test_removing_the_instance_clears_its_alerts(acme, default_va, add_pi):
    pi = add_pi(default_va, "SN1", last_contact_at=NOW)
    (alert,), _ = recompute_alerts(acme, at(95))
    remove_product_instance(actor=None, pi=pi, now=at(96))
    alert.refresh_from_db()
    assert alert.status == Alert.Status.CLEARED and alert.product_instance is None


def test_alert_actions_need_to_see_the_virtual_account(acme, default_va, new_va, add_pi, make_user):
    lab = new_va("Lab")
    add_pi(default_va, "SN1", last_contact_at=NOW)
    (alert,), _ = recompute_alerts(acme, at(31))
    vic = make_user("vic")
    set_virtual_account_role(actor=None, virtual_account=lab, role=AccountRole.VA_USER, user=vic)
    with pytest.raises(NotAllowed):
        remind_later(actor=vic, alert=alert, now=at(31))
    alert.refresh_from_db()
    assert alert.remind_until is None
    set_virtual_account_role(actor=None, virtual_account=default_va, role=AccountRole.VA_USER, user=vic)
    remind_later(actor=vic, alert=alert, now=at(31))


def test_the_task_recomputes_active_accounts_only(make_account, license_def, add_line, use_many):
    from licensing.tasks import recompute_alerts as task

    live = make_account("Live")
    asleep = make_account("Asleep", active=False)
    lic = license_def("L")
    for account in (live, asleep):
        use_many(account.virtual_accounts.get(), lic, 1)
    result = task.delay().get()
    assert {k: list(v) for k, v in result.items()} == {str(live.pk): [1, 0]}
    assert Alert.objects.filter(account=live).count() == 1
    assert not Alert.objects.filter(account=asleep).exists()


def test_the_periodic_task_is_registered(db):
    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    from licensing.signals import ensure_periodic_tasks

    # post_migrate already ran for the test database; running it again changes nothing.
    ensure_periodic_tasks(sender=apps.get_app_config("licensing"))
    assert PeriodicTask.objects.filter(name="Recompute license alerts").count() == 1
    task = PeriodicTask.objects.get(name="Recompute license alerts")
    assert task.task == "licensing.recompute_alerts" and task.enabled


@pytest.mark.parametrize("hour", [0, 9, 23])
def test_one_day_count_in_the_message_and_the_action_due(acme, default_va, add_pi, license_def, add_line, hour):
    """The message's day count and the Action Due (tab, CSV, API: ``action_due_text``) are one count:
    UTC calendar days to the due date, whatever the hour of the last contact and of the recompute."""
    from licensing.services.alerts import action_due_text, days_until

    # Last contact late in the day, recompute earlier in the day: the elapsed time's whole days
    # (74) gave "within the next 16 days" next to an Action Due of 15 days.
    add_pi(default_va, "SN1", last_contact_at=datetime.datetime(2025, 1, 1, 18, 30, tzinfo=UTC))
    add_line(default_va, license_def("Router"), 5, "term", start=D(2024, 1, 1), end=D(2025, 4, 1))
    now = datetime.datetime(2025, 3, 17, hour, 15, tzinfo=UTC)
    recompute_alerts(acme, now)
    connect = Alert.objects.get(alert_type=Alert.Type.PI_FAILED_TO_CONNECT)
    expiring = Alert.objects.get(alert_type=Alert.Type.LICENSES_EXPIRING)
    assert days_until(connect.action_due, now) == days_until(expiring.action_due, now) == 15
    assert "within the next 15 days" in connect.message, connect.message
    assert "in 15 days on 2025-04-01" in expiring.message, expiring.message
    assert action_due_text(connect.action_due, now) == action_due_text(expiring.action_due, now) == "15 days"

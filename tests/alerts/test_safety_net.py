"""The scheduled task as the safety net: a missed hook is a WARNING naming the account and the
alert's key; the clock's own changes are not; after downtime it opens what is due now, once; and
concurrent device messages on one account never open two alerts for one key (PostgreSQL)."""

import datetime
import logging
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from core.models import Event
from licensing.models import Alert, LicenseUsage
from licensing.services import alert_hooks, alerts
from licensing.services.alerts import recompute_all, run_safety_net

T = Alert.Type
LOGGER = "licensing.services.alerts"


@pytest.fixture
def short(default_va, license_def, add_line, add_pi, use):
    """Default has 1 "DNA" line; the data (written without the services) says 3 are used."""
    lic = license_def("DNA")
    add_line(default_va, lic, 1)
    pi = add_pi(default_va, "SN1")
    return lic, pi, use


@pytest.mark.django_db
def test_a_missed_hook_is_a_warning_naming_the_account_and_the_key(acme, default_va, short, caplog):
    lic, pi, use = short
    now = timezone.now()
    recompute_all(now)  # in line: nothing short yet
    use(pi, lic, 3)  # a write that called no hook
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert recompute_all(now + datetime.timedelta(hours=1), since=now) == {acme.pk: (1, 0)}
    key = f"insufficient:{default_va.pk}:{lic.pk}"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Missed alert hook" in warnings[0].message and key in warnings[0].message
    assert f"local account {acme.pk} (Acme)" in warnings[0].message
    # Clearing it behind the hooks' back is one too.
    caplog.clear()
    LicenseUsage.objects.filter(product_instance=pi).delete()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert recompute_all(now + datetime.timedelta(hours=2), since=now + datetime.timedelta(hours=1)) == {
            acme.pk: (0, 1)
        }
    assert [r.levelno for r in caplog.records if key in r.getMessage()] == [logging.WARNING]


@pytest.mark.django_db
def test_what_the_clock_did_is_no_warning(acme, default_va, license_def, add_line, add_pi, use, caplog):
    lic = license_def("DNA")
    today = timezone.now().date()
    add_line(default_va, lic, 2)
    add_line(default_va, lic, 2, "term", start=today - datetime.timedelta(days=30), end=today)
    use(add_pi(default_va, "SN1"), lic, 3)
    now = timezone.now()
    assert recompute_all(now)[acme.pk][0] >= 1  # the expiring alert
    assert not Alert.objects.filter(alert_type=T.INSUFFICIENT_LICENSES).exists()
    # Tomorrow the term line has ended: short by 1, and the clock did it.
    tomorrow = now + datetime.timedelta(days=1)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        recompute_all(tomorrow, since=now)
    assert Alert.objects.filter(alert_type=T.INSUFFICIENT_LICENSES).live().count() == 1
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("the clock changed" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_run_safety_net_remembers_its_last_run(acme, short, caplog):
    lic, pi, use = short
    now = timezone.now()
    with caplog.at_level(logging.INFO, logger=LOGGER):
        run_safety_net(now)  # first run: nothing to compare with
        use(pi, lic, 3)
        run_safety_net(now + datetime.timedelta(hours=1))
    assert [r.levelno for r in caplog.records if "insufficient:" in r.getMessage()] == [logging.WARNING]


@pytest.mark.django_db
def test_after_downtime_it_opens_what_is_due_now_once(acme, default_va, license_def, add_line):
    lic = license_def("DNA")
    start = timezone.now()
    end = start.date() + datetime.timedelta(days=35)
    add_line(default_va, lic, 5, "term", start=start.date() - datetime.timedelta(days=300), end=end)
    run_safety_net(start)  # 35 days left: the 60-day period
    (first,) = Alert.objects.filter(alert_type=T.LICENSES_EXPIRING).live()
    assert first.stage == 60
    # The server is off for 31 days: 4 days left. Periods 30, 14 and 7 passed unseen.
    back = start + datetime.timedelta(days=31)
    opened_before = Event.objects.filter(event_type__startswith="license.expiring").count()
    run_safety_net(back)
    run_safety_net(back + datetime.timedelta(minutes=5))  # a second run (beat catching up) opens nothing
    live = list(Alert.objects.filter(alert_type=T.LICENSES_EXPIRING).live())
    assert [a.stage for a in live] == [7]  # what is due now, once
    assert "in 4 days" in live[0].message
    assert Alert.objects.filter(alert_type=T.LICENSES_EXPIRING).count() == 2  # the 60-day one, cleared
    assert Event.objects.filter(event_type__startswith="license.expiring").count() == opened_before + 1


# --- Concurrency (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_device_messages_open_one_alert_per_key(acme, default_va, license_def, add_line, add_pi, caplog):
    """12 threads, each its own connection, each a product instance taking 1 of 4 licenses at the
    same moment through the service the device channel uses; then each releases it. Exactly one
    Insufficient Licenses alert opens (with the final shortage in its text) and it clears."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    from django.db import transaction

    from licensing.models import LicenseUsage
    from licensing.services.device_usage import apply_usage

    lic = license_def("DNA")
    add_line(default_va, lic, 4)
    pis = [add_pi(default_va, f"SN{i:03d}") for i in range(12)]
    barrier = threading.Barrier(len(pis))
    errors = []

    def take(pi, count):
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                current = {row.license_id: row for row in LicenseUsage.objects.filter(product_instance=pi)}
                apply_usage(pi, current, {lic.pk: count}, timezone.now())
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    for count in (1, 0):
        threads = [threading.Thread(target=take, args=(pi, count)) for pi in pis]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors, errors
        # No recompute failed (two opening one key at once would fail on the unique constraint).
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
        shortages = Alert.objects.filter(alert_type=T.INSUFFICIENT_LICENSES)
        if count:
            (alert,) = shortages.live()
            assert "8 licenses are required" in alert.message
        else:
            assert not shortages.live().exists()
    assert Alert.objects.filter(alert_type=T.INSUFFICIENT_LICENSES).count() == 1
    assert alert_hooks.pending_scope(acme.pk) is None
    # The safety net agrees: nothing to open or clear.
    assert alerts.recompute_alerts(acme) == ([], [])

"""The schedule (default 30-day cycle, daily / weekly / monthly), the tasks' idempotence, a crash
in the middle of applying a response, the overdue alerts."""

import datetime
import uuid

import pytest
from django.utils import timezone

from licensing.models import Alert, Entitlement
from sync import tasks
from sync.models import AccountSync, SyncRecord, SyncSettings
from sync.services import schedule, synchronization

pytestmark = pytest.mark.django_db
UTC = datetime.timezone.utc


def _at(*args):
    return datetime.datetime(*args, tzinfo=UTC)


def _state(**fields):
    fields.setdefault("registered_at", _at(2026, 1, 1))
    return AccountSync(uid=uuid.uuid4().hex, id_certificate_pem="x", **fields)


def test_default_cycle_is_30_days_after_the_last_sync():
    config = SyncSettings()
    now = _at(2026, 6, 1, 12)
    assert schedule.is_due(_state(last_sync_at=now - datetime.timedelta(days=31)), config, now)
    assert not schedule.is_due(_state(last_sync_at=now - datetime.timedelta(days=29)), config, now)
    assert schedule.due_at(_state(last_sync_at=_at(2026, 5, 20)), config, now) == _at(2026, 6, 19)
    # a failed attempt is retried a day later, not at every check
    tried = _state(last_sync_at=now - datetime.timedelta(days=40), last_attempt_at=now - datetime.timedelta(hours=2))
    assert not schedule.is_due(tried, config, now)
    assert not schedule.is_due(_state(last_sync_at=now - datetime.timedelta(days=40), sync_disabled=True), config, now)


@pytest.mark.parametrize(
    "frequency,extra,now,slot",
    [
        ("daily", {}, _at(2026, 6, 3, 4, 0), _at(2026, 6, 3, 3, 30)),
        ("daily", {}, _at(2026, 6, 3, 3, 0), _at(2026, 6, 2, 3, 30)),
        ("weekly", {"day_of_week": 0}, _at(2026, 6, 3, 4, 0), _at(2026, 6, 1, 3, 30)),  # 2026-06-01 is a Monday
        ("monthly", {"day_of_month": 31}, _at(2026, 6, 3, 4, 0), _at(2026, 5, 31, 3, 30)),
        ("monthly", {"day_of_month": 31}, _at(2026, 7, 1, 4, 0), _at(2026, 6, 30, 3, 30)),
    ],
)
def test_slots(frequency, extra, now, slot):
    config = SyncSettings(scheduled_enabled=True, frequency=frequency, hour=3, minute=30, **extra)
    assert schedule.latest_slot(config, now) == slot
    assert schedule.is_due(_state(last_sync_at=slot - datetime.timedelta(minutes=1)), config, now)
    assert not schedule.is_due(_state(last_sync_at=slot + datetime.timedelta(minutes=1)), config, now)
    assert not schedule.is_due(
        _state(last_sync_at=slot - datetime.timedelta(minutes=1), last_attempt_at=slot), config, now
    )
    assert schedule.next_slot(config, now) > now


def test_scheduled_off_means_the_default_cycle():
    config = SyncSettings(scheduled_enabled=False, frequency="daily", hour=3, minute=30)
    now = _at(2026, 6, 3, 4, 0)
    assert schedule.latest_slot(config, now) is None
    assert not schedule.is_due(_state(last_sync_at=now - datetime.timedelta(days=2)), config, now)


def test_a_second_run_while_one_is_in_progress_does_nothing(registered_account):
    account = registered_account()
    AccountSync.objects.filter(account=account).update(status="running", status_changed_at=timezone.now())
    assert tasks.synchronize_account(account.pk) == "busy"
    assert not SyncRecord.objects.filter(account=account, kind="sync").exists()
    # a claim older than STALE_AFTER belongs to a dead worker: taken over
    AccountSync.objects.filter(account=account).update(status_changed_at=timezone.now() - datetime.timedelta(hours=1))
    assert tasks.synchronize_account(account.pk) == "success"


def test_a_crash_mid_apply_leaves_nothing_and_the_retry_resends_the_same_request(
    registered_account, sysadmin, monkeypatch
):
    account = registered_account()
    real = synchronization._advance_watermark

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(synchronization, "_advance_watermark", crash)
    with pytest.raises(RuntimeError):
        synchronization.synchronize(account, actor=sysadmin)
    # the entitlements applied before the crash were rolled back with everything else
    assert not Entitlement.objects.filter(virtual_account__account=account).exists()
    pending = SyncRecord.objects.get(account=account, kind="sync")
    assert pending.result == "pending"
    monkeypatch.setattr(synchronization, "_advance_watermark", real)
    record = synchronization.synchronize(account, actor=sysadmin)
    assert record.pk == pending.pk and record.result == "success"  # same request id, CSSM's same answer
    assert Entitlement.objects.filter(virtual_account__account=account).count() == 10


def test_run_scheduled_queues_due_accounts_once(registered_account):
    account = registered_account()
    AccountSync.objects.filter(account=account).update(registered_at=timezone.now() - datetime.timedelta(days=31))
    assert tasks.run_scheduled() == [account.pk]  # eager in tests: it ran
    state = AccountSync.objects.get(account=account)
    assert state.last_sync_result == "success" and state.last_attempt_at
    assert tasks.run_scheduled() == []


def test_overdue_alerts(registered_account):
    account = registered_account()
    AccountSync.objects.filter(account=account).update(registered_at=timezone.now() - datetime.timedelta(days=95))
    assert tasks.check_overdue() >= 1
    alert = Alert.objects.filter(account=account, key="sync_overdue").live().get()
    assert alert.severity == "major" and "95 days" in alert.message


def test_purge_expired_nonces():
    from licensing.models import DeviceNonce

    DeviceNonce.objects.create(device_key="k", nonce="old", expires_at=timezone.now() - datetime.timedelta(hours=1))
    DeviceNonce.objects.create(device_key="k", nonce="new", expires_at=timezone.now() + datetime.timedelta(hours=1))
    assert tasks.purge_expired_nonces() == 1
    assert list(DeviceNonce.objects.values_list("nonce", flat=True)) == ["new"]

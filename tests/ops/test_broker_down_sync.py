"""Synchronization Now while the task broker is down: nothing is lost. The request waits in the
database (the account stays queued, its status says why) and the next scheduled run after the
broker is back hands it to a worker, once. The live proof with a real Redis stopped and started
is tests/faults/test_redis_down.py::test_redis_down_and_back."""

import pytest
from django.urls import reverse
from kombu.exceptions import OperationalError

from sync import tasks
from sync.models import AccountSync
from tests.reliability.inprocess_cssm import registered_with_emulator

pytestmark = pytest.mark.django_db


class Broker:
    """``synchronize_account.delay`` as the broker answers it: refused while down, recorded while up."""

    def __init__(self):
        self.up = False
        self.sent = []

    def delay(self, account_id, full=False, actor_id=None):
        if not self.up:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.sent.append((account_id, full))


@pytest.fixture
def broker(monkeypatch):
    broker = Broker()
    monkeypatch.setattr(tasks.synchronize_account, "delay", broker.delay)
    return broker


@pytest.fixture
def account(tmp_path, sysadmin):
    return registered_with_emulator(tmp_path, sysadmin)[0]


def _state(account):
    return AccountSync.objects.get(account=account)


def test_sync_now_with_the_broker_down_waits_in_the_database(account, broker, sysadmin, login, caplog):
    client = login(sysadmin)
    response = client.post(reverse("admin_sync_now", args=[account.pk]), {"sync_type": "full"}, follow=True)
    assert response.status_code == 200  # not a 500: the click is kept, not refused
    state = _state(account)
    assert state.status == AccountSync.Status.QUEUED
    assert state.status_message == tasks.WAITING_FOR_QUEUE[True]
    assert "The task broker is unavailable (OperationalError)" in caplog.text
    assert broker.sent == []

    with pytest.raises(OperationalError):  # still down (beat could not even publish it): if it runs, it fails
        tasks.run_scheduled()
    assert _state(account).status_message == tasks.WAITING_FOR_QUEUE[True]

    broker.up = True
    tasks.run_scheduled()
    assert broker.sent == [(account.pk, True)]  # the full synchronization asked for, once
    assert _state(account).status_message == "Waiting for a worker…"
    tasks.run_scheduled()
    assert broker.sent == [(account.pk, True)]  # not twice


def test_a_standard_sync_keeps_its_type_and_a_dispatch_that_fails_again_keeps_waiting(account, broker, monkeypatch):
    assert tasks.queue_sync(account, full=False) is False
    assert _state(account).status_message == tasks.WAITING_FOR_QUEUE[False]

    def flaky(account_id, full=False, actor_id=None):
        raise OperationalError("the broker went away again")

    monkeypatch.setattr(tasks.synchronize_account, "delay", flaky)
    with pytest.raises(OperationalError):
        tasks.dispatch_waiting()
    assert _state(account).status_message == tasks.WAITING_FOR_QUEUE[False]  # still waiting, not lost

    monkeypatch.setattr(tasks.synchronize_account, "delay", broker.delay)
    broker.up = True
    assert tasks.dispatch_waiting() == [account.pk]
    assert broker.sent == [(account.pk, False)]


def test_with_the_broker_up_nothing_waits(account, broker):
    broker.up = True
    assert tasks.queue_sync(account, full=True) is True
    assert broker.sent == [(account.pk, True)]
    assert _state(account).status_message == "Waiting for a worker…"
    assert tasks.dispatch_waiting() == []

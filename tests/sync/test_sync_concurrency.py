"""Races on PostgreSQL: the same response applied by two processes at once is applied once."""

import threading

import pytest
from django.db import connection, connections

from licensing.models import Entitlement
from sync.documents.parse import parse
from sync.documents.rejections import MANUAL
from sync.models import SyncRecord
from sync.services import synchronization
from sync.services.common import SyncFailed

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_response_uploaded_twice_at_once_is_applied_once(registered_account, sysadmin, use_cssm, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    account = registered_account()
    name, text = synchronization.request_file(account, actor=sysadmin, full=True)
    (tmp_path / name).write_text(text)
    response = use_cssm.process_file(tmp_path / name, tmp_path / "response.yml")
    start = threading.Barrier(4)
    outcomes, lock = [], threading.Lock()

    def upload():
        try:
            start.wait(timeout=30)
            try:
                record = synchronization.apply_response(
                    account, response, name="response.yml", actor=sysadmin, mode=MANUAL
                )
                outcome = record.result
            except SyncFailed as exc:
                outcome = exc.code
            with lock:
                outcomes.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upload) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["already_processed"] * 3 + ["success"], outcomes
    # Exactly the response's lines, once (the emulator's smart account is shared by the module's
    # tests, so the count comes from the response, not from a constant).
    expected = len(parse(response).body["entitlements"])
    assert expected and Entitlement.objects.filter(virtual_account__account=account).count() == expected
    assert SyncRecord.objects.filter(account=account, kind="sync", result="success").count() == 1

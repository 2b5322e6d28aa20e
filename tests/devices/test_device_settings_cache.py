"""The settings the device path reads are kept per process (core/process_settings.py) and
dropped when they change: a device's reply follows a change at once, with no query or cache
round trip per message while nothing changed."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.security_models import SecurityPolicy
from accounts.services import password_policy
from core import process_settings, system_settings
from tests.devices.devicesim import cslu_path, make_csr, rum

pytestmark = pytest.mark.django_db


def _push(dev, account, report_id):
    payload = dev.payload(reports=[rum(dev.key, report_id, [])], csr=make_csr(dev.key))
    return dev.post(dev.envelope("REPORT_USAGE", payload), cslu_path(account))


def _policy_queries(context):
    # The policy row read whole (password_policy.current); the registration limits' statement
    # reads its two columns itself.
    return [q["sql"] for q in context.captured_queries if q["sql"].startswith('SELECT "accounts_securitypolicy"."id"')]


def test_a_cslu_reply_follows_a_security_change_and_costs_no_policy_query_meanwhile(device, acme, sysadmin):
    dev = device()
    dev.environ = {"REMOTE_ADDR": "198.51.100.7"}  # not in the default networks
    assert _push(dev, acme, "1").status_code == 403
    with CaptureQueriesContext(connection) as seen:
        assert _push(dev, acme, "2").status_code == 403
    assert _policy_queries(seen) == []  # the copy kept by the first push answered
    # The administrator adds the network (Security widget, Account tab): the next push is taken.
    password_policy.update("account", actor=sysadmin, cslu_access="networks", cslu_networks="198.51.100.0/24")
    with CaptureQueriesContext(connection) as seen:
        reply = _push(dev, acme, "3")
    assert reply.status_code == 200, reply.content[:300]
    assert json.loads(json.loads(reply.content)["payload"])["status"] == "SUCCESS"
    assert len(_policy_queries(seen)) == 1  # read again once after the change ...
    with CaptureQueriesContext(connection) as seen:
        assert _push(dev, acme, "4").status_code == 200
    assert _policy_queries(seen) == []  # ... and kept again
    # A save outside the service (the model's post_save) drops the copies too.
    SecurityPolicy(pk=1, cslu_access="networks").save()  # the default networks again
    assert _push(dev, acme, "5").status_code == 403


def test_a_copy_read_before_the_change_is_not_served_after_it(settings, tmp_path):
    reads = []

    def load():
        reads.append(1)
        return len(reads)

    assert process_settings.read("x", load) == 1
    assert process_settings.read("x", load) == 1
    process_settings.bump()
    assert process_settings.read("x", load) == 2
    # An unreadable stamp: no copy kept, every read goes to the source (slower, never stale).
    (tmp_path / "a-file").write_text("")
    settings.ONPREM_SETTINGS_STAMP = str(tmp_path / "a-file" / "stamp")
    assert process_settings.read("x", load) == 3
    assert process_settings.read("x", load) == 4


def test_the_syslog_fan_out_of_a_device_event_reads_no_settings_from_the_cache_server(registered, monkeypatch):
    from core import syslog
    from core.models import Event

    dev = registered()
    system_settings.cached()  # this process's copy, as after its first event
    calls = []
    real = system_settings._cache_call
    monkeypatch.setattr(system_settings, "_cache_call", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
    # The event's syslog fan-out runs on commit (the test transaction never commits): run it here.
    assert syslog.send_event(Event.objects.filter(event_type="device.connected").latest("pk")) is False
    assert calls == []
    system_settings.forget_cached()  # a change: the next read goes to the cache server (then the row)
    calls.clear()
    syslog.send_event(Event.objects.filter(event_type="device.connected").latest("pk"))
    assert calls[:1] == ["get"]


def test_another_process_sees_a_change_at_its_next_read(settings, tmp_path):
    """Two processes, as two gunicorn workers sharing the data directory: the second keeps a copy
    of a row (here a file stands for the database row), the first changes the row and bumps the
    stamp, the second's next read is the new row; without the bump it would still serve its copy."""
    stamp, row = tmp_path / "stamp", tmp_path / "row"
    settings.ONPREM_SETTINGS_STAMP = str(stamp)
    row.write_text("old")
    script = textwrap.dedent(
        """
        import sys, django
        django.setup()
        from django.conf import settings
        settings.ONPREM_SETTINGS_STAMP = sys.argv[1]
        from pathlib import Path
        from core import process_settings
        read = lambda: process_settings.read("row", Path(sys.argv[2]).read_text)
        for line in sys.stdin:
            print(read(), flush=True)
        """
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "onprem.settings"}
    worker = subprocess.Popen(
        [sys.executable, "-c", script, str(stamp), str(row)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )

    def ask():
        worker.stdin.write("\n")
        worker.stdin.flush()
        return worker.stdout.readline().strip()

    try:
        assert ask() == "old"
        row.write_text("new")  # changed without a bump: the copy is served
        assert ask() == "old"
        process_settings.bump()
        assert ask() == "new"
    finally:
        worker.kill()
        worker.wait()


def test_a_change_saved_on_another_node_is_read_within_the_shared_interval(monkeypatch):
    """Another web node has its own data directory: its change reaches this one through the token
    in the shared cache, read at most every SHARED_CHECK_SECONDS."""
    from django.core.cache import cache

    reads = []

    def load():
        reads.append(1)
        return len(reads)

    monkeypatch.setattr(process_settings, "SHARED_CHECK_SECONDS", 3600)
    assert process_settings.read("y", load) == 1
    cache.set(process_settings._shared_key(), "another node's change", timeout=None)  # its bump
    assert process_settings.read("y", load) == 1  # not looked at again yet
    monkeypatch.setattr(process_settings, "SHARED_CHECK_SECONDS", 0)
    assert process_settings.read("y", load) == 2
    assert process_settings.read("y", load) == 2

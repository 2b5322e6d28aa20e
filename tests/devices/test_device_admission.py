"""Load shedding on the device endpoints (licensing/transport/admission.py), in process: the refusal's
form, that a shed message changes nothing, the in-flight limit, the listen-queue reading of a real
listening socket, and Retry-After scaling. The live test (test_device_shedding_live.py) sheds for
real under gunicorn."""

import json
import os
import socket
import threading
from contextlib import contextmanager

import pytest

from licensing.transport import admission
from tests.devices.devicesim import row_counts

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_listeners():
    """Forget the process's listening sockets, so the next reading looks again (and again after)."""
    admission._listeners["pid"] = None
    yield
    admission._listeners["pid"] = None


def test_a_message_over_the_in_flight_limit_gets_503_with_retry_after_and_changes_nothing(registered, settings):
    dev = registered()
    before = row_counts()
    settings.ONPREM_DEVICE_MAX_IN_FLIGHT = 1
    settings.ONPREM_DEVICE_SHED_RETRY_AFTER = 4
    with admission.in_flight():  # another message of this process in progress
        response = dev.post(dev.envelope("AUTHORIZE", dev.payload(entitlements=[])))
    assert response.status_code == 503
    assert response["Retry-After"] == "8"  # 2 in flight against a limit of 1: twice the base
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert body == {
        "status": "FAILED",
        "error_code": "SERVER_BUSY",
        "retry_after": 8,
        "message": "The server is busy. Retry after 8 seconds.",
    }
    assert row_counts() == before  # not even the nonce: the message was not looked at
    assert admission.in_flight_count() == 0
    # Within the limit the same kind of message is handled as usual.
    reply = dev.send("AUTHORIZE", entitlements=[])
    assert dev.last_response.status_code == 200 and reply["status"] == "SUCCESS"


def test_concurrent_messages_beyond_the_limit_are_shed(settings):
    settings.ONPREM_DEVICE_MAX_IN_FLIGHT = 3
    inside, release = threading.Barrier(4), threading.Event()
    decisions = []

    def message():
        with admission.in_flight():
            decisions.append(admission.over_capacity())
            inside.wait(timeout=10)
            release.wait(timeout=10)

    threads = [threading.Thread(target=message) for _ in range(3)]
    for thread in threads:
        thread.start()
    inside.wait(timeout=10)  # three in progress now
    with admission.in_flight():
        fourth = admission.over_capacity()
    release.set()
    for thread in threads:
        thread.join()
    assert decisions == [None, None, None]
    assert fourth == ("in_flight", 4, 3)


def test_the_listen_queue_of_a_real_listening_socket_is_read(settings, fresh_listeners):
    settings.ONPREM_DEVICE_SHED_QUEUE = 3
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    clients = []
    try:
        assert admission.over_capacity(chance=lambda: 0.0) is None  # nobody waiting
        for _ in range(5):  # connected by the kernel, never accepted
            clients.append(socket.create_connection(listener.getsockname()))
        depth = admission.listen_queue_depth()
        assert depth is not None and depth >= 5
        # Only the excess share is shed (1 - 3/depth of the messages, at random).
        share = 1 - 3 / depth
        assert admission.over_capacity(chance=lambda: share - 0.01) == ("listen_queue", depth, 3)
        assert admission.over_capacity(chance=lambda: share + 0.01) is None
        shed = sum(admission.over_capacity() is not None for _ in range(2000))
        assert abs(shed / 2000 - share) < 0.06
        settings.ONPREM_DEVICE_SHED_QUEUE = 0  # off
        assert admission.over_capacity(chance=lambda: 0.0) is None
        settings.ONPREM_DEVICE_SHED_QUEUE = 3
        for _ in range(5):
            listener.accept()[0].close()
        assert admission.listen_queue_depth() < 3 and admission.over_capacity(chance=lambda: 0.0) is None
    finally:
        for client in clients:
            client.close()
        listener.close()


def test_a_listener_held_under_several_descriptors_is_counted_once(fresh_listeners):
    """gunicorn under `manage.py serve` holds its listening socket under two descriptors: its queue
    once, not twice (counted twice, twice as many messages would be shed as the limit means)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    clients = [socket.create_connection(listener.getsockname()) for _ in range(6)]
    extra = []
    try:
        once = admission.listen_queue_depth()
        extra = [os.dup(listener.fileno()) for _ in range(2)]
        admission._listeners["pid"] = None
        assert admission.listen_queue_depth() == once and once >= 6
    finally:
        for fd in extra:
            os.close(fd)
        for client in clients:
            client.close()
        listener.close()


def test_retry_after_grows_with_the_overload_within_bounds(settings):
    settings.ONPREM_DEVICE_SHED_RETRY_AFTER = 5
    settings.ONPREM_DEVICE_SHED_MAX_RETRY_AFTER = 30
    assert admission.retry_after_seconds(65, 64) == 6
    assert admission.retry_after_seconds(128, 64) == 10
    assert admission.retry_after_seconds(10_000, 64) == 30
    assert admission.retry_after_seconds(1, 64) == 5


def test_settings_come_from_the_environment_when_not_set(monkeypatch, settings):
    for name in admission.DEFAULTS:
        if hasattr(settings, name):
            delattr(settings, name)
    assert admission.setting("ONPREM_DEVICE_SHED_QUEUE") == 64
    monkeypatch.setenv("ONPREM_DEVICE_SHED_QUEUE", "12")
    assert admission.setting("ONPREM_DEVICE_SHED_QUEUE") == 12


@contextmanager
def overloaded(settings):
    """Every device message of this process is over capacity: one more is always in progress."""
    settings.ONPREM_DEVICE_MAX_IN_FLIGHT = 1
    admission._shed_report.update(pid=None, since=None, count=0)
    try:
        with admission.in_flight():
            yield
    finally:
        admission._shed_report.update(pid=None, since=None, count=0)


@pytest.fixture
def busy(settings):
    with overloaded(settings):
        yield


def test_a_refusal_comes_before_the_rest_of_the_stack(registered, settings, monkeypatch):
    """No database query, no cache round trip (the system settings), no session: the admission
    middleware answers before them, which is what makes a refusal cheap in a storm."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    dev = registered()

    def not_now():
        raise AssertionError("the system settings were read for a shed message")

    monkeypatch.setattr("core.middleware.current", not_now)
    with overloaded(settings), CaptureQueriesContext(connection) as queries:
        response = dev.post(dev.envelope("AUTHORIZE", dev.payload(entitlements=[])))
    assert response.status_code == 503 and response["Retry-After"]
    assert len(queries) == 0
    assert "sessionid" not in response.cookies and "Set-Cookie" not in response


def test_only_device_messages_are_shed(client, busy):
    assert client.get("/SmartTransport", secure=True).status_code == 405  # not a device message
    assert client.get("/healthz", secure=True).status_code == 200
    for path in ("/SmartTransport", "/Transportgateway/services/DeviceRequestHandler", "/cslu/v1/pi/Any-1"):
        assert client.post(path, data=b"{}", content_type="application/json", secure=True).status_code == 503


def test_shedding_is_summarised_in_the_log_not_logged_per_message(client, busy, caplog, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(admission.time, "monotonic", lambda: clock[0])

    def shed():
        response = client.post("/SmartTransport", data=b"{}", content_type="application/json", secure=True)
        assert response.status_code == 503

    with caplog.at_level("INFO"):
        for _ in range(3):
            shed()
        clock[0] += admission.REPORT_EVERY_SECONDS + 1
        shed()
    # Not django.request's "Service Unavailable" ERROR per refusal: a refusal is not a server error.
    assert [r for r in caplog.records if r.name == "django.request"] == []
    reports = [r.getMessage() for r in caplog.records if r.name == "licensing.transport.admission"]
    assert len(reports) == 2 and all(r.startswith("Over capacity (in flight 2 > 1): ") for r in reports)
    assert "1 device message(s)" in reports[0] and "3 device message(s)" in reports[1]

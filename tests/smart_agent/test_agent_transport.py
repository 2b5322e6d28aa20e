"""HTTP behaviour: Retry-After honoured with jittered, bounded backoff; TLS options; error bodies."""

import email.utils
import random
import time

import pytest

from smart_agent import RetryPolicy, ServerBusy, Transport, TransportError
from smart_agent.transport import parse_retry_after
from tests.smart_agent.agent_fake_server import FakeServer


def test_retry_after_is_honoured_on_a_real_socket(fake_server):
    fake_server.script = [(429, {"Retry-After": "1"}, b""), (503, {"Retry-After": "1"}, b"")]
    fake_server.handle = lambda path, data: b'{"ok": true}'
    attempts = []
    transport = Transport(fake_server.url, retry=RetryPolicy(max_retries=3))
    started = time.monotonic()
    assert transport.post(lambda: attempts.append(1) or "{}") == b'{"ok": true}'
    elapsed = time.monotonic() - started
    assert len(attempts) == 3  # a fresh body (nonce, timestamp) for every attempt
    assert elapsed >= 2.0, "retried before the Retry-After the server asked for"
    assert elapsed < 2 * (1 + 0.25) + 1.5


def test_delays_are_jittered_exponential_and_never_early():
    policy = RetryPolicy(base_delay=0.5, max_delay=60, jitter=0.25)
    rng = random.Random(1)
    for attempt in range(8):
        cap = min(60, 0.5 * 2**attempt)
        delays = [policy.delay(attempt, None, rng) for _ in range(200)]
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(set(delays)) > 150  # jittered, not one value
    honoured = [policy.delay(0, 10.0, rng) for _ in range(200)]
    assert all(10.0 <= d <= 12.5 for d in honoured) and len(set(honoured)) > 150


def test_sleeps_follow_the_policy(fake_server):
    fake_server.script = [(429, {"Retry-After": "7"}, b""), (429, {}, b""), (503, {}, b"")]
    fake_server.handle = lambda path, data: b"{}"
    sleeps = []
    transport = Transport(fake_server.url, retry=RetryPolicy(max_retries=5, base_delay=0.5), sleep=sleeps.append)
    transport.post(lambda: "{}")
    assert len(sleeps) == 3
    assert 7 <= sleeps[0] <= 7 * 1.25
    assert 0.5 <= sleeps[1] <= 1.0 and 1.0 <= sleeps[2] <= 2.0


def test_retries_are_bounded(fake_server):
    fake_server.script = [(503, {"Retry-After": "0"}, b"")] * 4
    sleeps = []
    transport = Transport(fake_server.url, retry=RetryPolicy(max_retries=2), sleep=sleeps.append)
    with pytest.raises(ServerBusy, match="after 3 attempts") as caught:
        transport.post(lambda: "{}")
    assert caught.value.status == 503 and len(sleeps) == 2
    assert len(fake_server.script) == 1  # exactly three requests were made


def test_too_long_retry_after_gives_up_at_once(fake_server):
    fake_server.script = [(429, {"Retry-After": "3600"}, b"")]
    sleeps = []
    transport = Transport(fake_server.url, retry=RetryPolicy(max_delay=60), sleep=sleeps.append)
    with pytest.raises(ServerBusy, match="3600"):
        transport.post(lambda: "{}")
    assert sleeps == []


def test_retry_after_formats():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= parse_retry_after(when) <= 31
    assert parse_retry_after(email.utils.formatdate(time.time() - 30, usegmt=True)) == 0.0


def test_http_errors_carry_the_servers_code(fake_server):
    fake_server.script = [
        (
            413,
            {"Content-Type": "application/json"},
            b'{"status": "FAILED", "error_code": "MALFORMED", "message": "too big"}',
        ),
        (500, {}, b"Internal Server Error"),
    ]
    transport = Transport(fake_server.url)
    with pytest.raises(TransportError, match="HTTP 413 from the server: MALFORMED: too big") as caught:
        transport.post(lambda: "{}")
    assert caught.value.error_code == "MALFORMED" and caught.value.status == 413
    with pytest.raises(TransportError, match="HTTP 500"):
        transport.post(lambda: "{}")


def test_connection_refused_is_a_transport_error():
    transport = Transport("http://127.0.0.1:9", timeout=2)
    with pytest.raises(TransportError, match="Cannot reach"):
        transport.post(lambda: "{}")


def test_keep_alive_connection_is_reused(fake_server):
    fake_server.handle = lambda path, data: b"{}"
    transport = Transport(fake_server.url)
    transport.post(lambda: "{}")
    first = transport._local.conn.sock
    transport.post(lambda: "{}")
    assert transport._local.conn.sock is first


def test_a_keep_alive_connection_closed_by_the_server_is_reopened(fake_server):
    fake_server.handle = lambda path, data: b"{}"
    fake_server.drop_idle = True
    transport = Transport(fake_server.url)
    for _ in range(3):
        assert transport.post(lambda: "{}") == b"{}"
        time.sleep(0.1)  # let the server close its side


def test_bad_urls():
    for url in ("ftp://x", "localhost:8443", "https://"):
        with pytest.raises(ValueError):
            Transport(url)


@pytest.fixture
def tls_server(tmp_path):
    server = FakeServer(tmp_path, tls=True)
    server.handle = lambda path, data: b"{}"
    yield server
    server.close()


def test_tls_needs_the_ca_file_or_insecure(tls_server):
    with pytest.raises(TransportError, match="TLS|certificate"):
        Transport(tls_server.url).post(lambda: "{}")
    assert Transport(tls_server.url, ca_file=str(tls_server.ca_file)).post(lambda: "{}") == b"{}"
    assert Transport(tls_server.url, insecure=True).post(lambda: "{}") == b"{}"


def test_paths(fake_server):
    assert Transport(fake_server.url).path == "/SmartTransport"
    assert Transport(fake_server.url, legacy=True).path == "/Transportgateway/services/DeviceRequestHandler"
    assert Transport(fake_server.url + "/prefix/").path == "/prefix/SmartTransport"


def test_agent_verify_tls_option(tls_server, tmp_path):
    from smart_agent import Agent, Identity

    identity = Identity("C9300-24T", "FOC2412X0AB")
    for verify, works in ((str(tls_server.ca_file), True), (False, True), (True, False)):
        agent = Agent(tls_server.url, None, identity, verify_tls=verify)
        if works:
            assert agent.transport.post(lambda: "{}") == b"{}"
        else:
            with pytest.raises(TransportError):
                agent.transport.post(lambda: "{}")


def test_a_reconnect_resumes_the_tls_session(tls_server):
    """gunicorn's sync workers close every connection: the next one offers the last session."""
    tls_server.close_each = True
    transport = Transport(tls_server.url, ca_file=str(tls_server.ca_file))
    for _ in range(3):
        assert transport.post(lambda: "{}") == b"{}"
    assert tls_server.tls_resumed == [False, True, True]
    assert transport.handshakes == {"full": 1, "resumed": 2}
    # A server whose ticket keys changed (a restart without shared keys): a full handshake, no error.
    tls_server.restart_tls()
    assert transport.post(lambda: "{}") == b"{}"
    assert transport.post(lambda: "{}") == b"{}"
    assert tls_server.tls_resumed[3:] == [False, True]
    assert transport.handshakes == {"full": 2, "resumed": 3}


def test_each_device_keeps_its_own_session_and_resumption_can_be_off(tls_server):
    from smart_agent.transport import TLSSession

    tls_server.close_each = True
    transport = Transport(tls_server.url, ca_file=str(tls_server.ca_file))
    first, second = TLSSession(), TLSSession()
    transport.post(lambda: "{}", tls_session=first)
    transport.post(lambda: "{}", tls_session=second)  # another device: no session of its own yet
    transport.post(lambda: "{}", tls_session=first)
    transport.post(lambda: "{}", tls_session=second)
    assert tls_server.tls_resumed == [False, False, True, True]
    assert first.session is not None and second.session is not None and first.session.id != second.session.id

    off = Transport(tls_server.url, ca_file=str(tls_server.ca_file), reuse_sessions=False)
    for _ in range(2):
        off.post(lambda: "{}")
    assert tls_server.tls_resumed[4:] == [False, False]
    assert off.handshakes == {"full": 2, "resumed": 0}

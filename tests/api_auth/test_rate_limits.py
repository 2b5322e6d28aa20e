"""Failed token requests and failed sign-ins are rate limited per client id / username and per IP."""

import pytest
from oauth2_provider.models import AccessToken

from core.models import Event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _small_limits(settings):
    settings.ONPREM_RATE_LIMIT_FAILURES = 3
    settings.ONPREM_RATE_LIMIT_FAILURES_PER_IP = 5
    settings.ONPREM_RATE_LIMIT_WINDOW_SECONDS = 600


def _token(client, grant, secret, ip="10.0.0.1", **extra):
    body = {"grant_type": grant.grant_type, "client_id": grant.client_id, "client_secret": secret, **extra}
    return client.post("/oauth/token", body, content_type="application/json", REMOTE_ADDR=ip)


def test_token_endpoint_429_after_failures_per_client_id(client, cc_grant):
    grant, secret, _ = cc_grant
    for _ in range(3):
        assert _token(client, grant, "wrong").status_code == 401
    refused = _token(client, grant, secret)  # even the right secret waits now
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 600
    assert refused.json()["error"] == "rate_limited"
    assert not AccessToken.objects.exists()
    assert Event.objects.filter(event_type="api.token_rate_limited").count() == 1
    assert Event.objects.filter(event_type="api.token_failed").count() == 3


def test_token_endpoint_limit_per_ip_across_clients(client, cc_grant):
    grant, secret, _ = cc_grant
    for n in range(5):
        response = client.post(
            "/oauth/token",
            {"grant_type": "client_credentials", "client_id": f"guess{n}", "client_secret": "x"},
            REMOTE_ADDR="10.0.0.9",
        )
        assert response.status_code == 401
    assert _token(client, grant, secret, ip="10.0.0.9").status_code == 429
    assert _token(client, grant, secret, ip="10.0.0.10").status_code == 200  # another address is not held up


def test_successful_token_requests_do_not_count(client, cc_grant):
    grant, secret, _ = cc_grant
    for _ in range(8):
        assert _token(client, grant, secret).status_code == 200


def test_password_grant_limited_per_username(client, password_grant, make_user):
    grant, secret = password_grant
    make_user("alice")
    for ip in ("10.0.0.1", "10.0.0.2", "10.0.0.3"):
        assert _token(client, grant, secret, ip=ip, username="alice", password="nope").status_code == 400
    assert _token(client, grant, secret, ip="10.0.0.4", username="ALICE", password=PASSWORD).status_code == 429


def test_login_form_rate_limited_per_username(client, make_user):
    make_user("alice")
    for _ in range(3):
        response = client.post("/login/", {"username": "alice", "password": "wrong"})
        assert response.status_code == 200
    refused = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert b"Too many sign-in attempts" in refused.content
    assert "_auth_user_id" not in client.session
    assert Event.objects.filter(event_type="auth.login_rate_limited", message__contains="alice").exists()
    assert Event.objects.filter(event_type="auth.login_failed").count() == 3  # the refused try checked nothing
    # another user from another address is unaffected
    make_user("bob")
    assert client.post("/login/", {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="10.1.1.1").status_code == 302


def test_login_rate_limited_per_ip(client, make_user):
    make_user("carol")
    for n in range(5):
        client.post("/login/", {"username": f"guess{n}", "password": "x"}, REMOTE_ADDR="10.2.2.2")
    refused = client.post("/login/", {"username": "carol", "password": PASSWORD}, REMOTE_ADDR="10.2.2.2")
    assert refused.status_code == 429


def test_successful_logins_do_not_count(client, make_user):
    make_user("dave")
    for _ in range(6):
        assert client.post("/login/", {"username": "dave", "password": PASSWORD}).status_code == 302
        client.post("/logout/")


def test_behind_proxy_the_forwarded_address_counts(settings, rf):
    from core.networks import client_ip

    request = rf.get("/", REMOTE_ADDR="172.16.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8")
    assert client_ip(request) == "172.16.0.1"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client_ip(request) == "5.6.7.8"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_failures_are_all_counted(rf, settings):
    import threading

    from django.db import connection, connections

    from accounts.models import FailureCounter
    from accounts.services import ratelimit

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    settings.ONPREM_RATE_LIMIT_WINDOW_SECONDS = 3600  # one window for the whole test
    start = threading.Barrier(20)
    errors = []

    def fail():
        try:
            start.wait(timeout=30)
            ratelimit.record_failure("login", rf.post("/login/", REMOTE_ADDR="10.9.9.9"), "mallory")
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=fail) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sorted(FailureCounter.objects.values_list("count", flat=True)) == [20, 20]  # the IP and the username

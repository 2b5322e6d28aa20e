"""The auto lock applies to POST /oauth/token's password grant as to the login form: the same
failures count (in either place), a locked user gets no token even with the right password (which
is not checked), and the lock expires the same way."""

import pytest
from django.test import Client

from accounts.api_clients import ApiGrant
from accounts.security_models import UserLock
from accounts.services import api_grants
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    api_grants.set_api_console(actor=None, enabled=True)
    return api_grants.create_grant(actor=None, grant_type=ApiGrant.GrantType.PASSWORD, name="people")


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def auto_lock(policy):
    return policy(
        auto_lock_enabled=True,
        auto_lock_attempts=3,
        auto_lock_window_minutes=10,
        lock_expiration_enabled=True,
        lock_expiration_minutes=30,
    )


def _token(people, password, username="alice"):
    grant, secret = people
    return Client().post(
        "/oauth/token",
        {
            "grant_type": "password",
            "client_id": grant.client_id,
            "client_secret": secret,
            "username": username,
            "password": password,
        },
        content_type="application/json",
    )


def test_token_failures_lock_the_user_and_the_right_password_then_gets_no_token(
    people, alice, auto_lock, clock, monkeypatch
):
    from accounts.services import lockout

    assert _token(people, PASSWORD).status_code == 200  # the grant works
    for _ in range(2):
        assert _token(people, "wrong").status_code in (400, 401)
        clock.advance(minutes=3)
    assert not UserLock.objects.exists()
    assert _token(people, "wrong").status_code in (400, 401)  # the third within 10 minutes
    assert UserLock.objects.filter(user=alice).exists()

    checked = []
    real = lockout.login_failed
    monkeypatch.setattr(lockout, "login_failed", lambda *a, **k: checked.append(a) or real(*a, **k))
    refused = _token(people, PASSWORD)
    assert refused.status_code in (400, 401) and "access_token" not in refused.content.decode()
    assert checked == []  # refused before the password was tried: no new failure counted
    # The login form refuses the same lock.
    page = Client().post("/login/", {"username": "alice", "password": PASSWORD})
    assert page.status_code == 200 and "Your account is locked" in page.content.decode()

    clock.advance(minutes=31)  # lock expiration
    assert _token(people, PASSWORD).status_code == 200


def test_failures_on_the_form_and_the_token_endpoint_count_together(people, alice, auto_lock, clock):
    Client().post("/login/", {"username": "alice", "password": "wrong"})
    _token(people, "wrong")
    assert not UserLock.objects.exists()
    Client().post("/login/", {"username": "alice", "password": "wrong"})
    assert UserLock.objects.filter(user=alice).exists()
    assert _token(people, PASSWORD).status_code in (400, 401)

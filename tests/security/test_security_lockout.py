"""Auto lock, lock expiration, unlock and the login error hints, through the real login form."""

import pytest
from django.test import Client

from accounts.security_models import LoginFailure, UserLock
from accounts.services import lockout
from core.errors import NotAllowed, ServiceError
from core.models import Event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _try(password, username="alice"):
    # A fresh client each time: the lock is the user's, not the browser's.
    return Client().post("/login/", {"username": username, "password": password})


def _errors(response):
    return " ".join(str(e) for e in response.context["form"].non_field_errors())


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


def test_n_failures_within_m_minutes_lock_the_user(clock, alice, auto_lock):
    for _ in range(2):
        assert _try("wrong").status_code == 200
        clock.advance(minutes=4)
    assert not UserLock.objects.exists()
    response = _try("wrong")  # the third within 10 minutes (at 0, 4, 8)
    assert "Your account is locked" in _errors(response)
    assert UserLock.objects.filter(user=alice).exists()
    # Even the right password is refused now, without being checked (no authenticate() call).
    failed_checks = Event.objects.filter(event_type="auth.login_failed").count()
    response = _try(PASSWORD)
    assert Event.objects.filter(event_type="auth.login_failed").count() == failed_checks
    assert response.status_code == 200
    assert "Your account is locked" in _errors(response)
    assert "_auth_user_id" not in response.wsgi_request.session
    codes = list(Event.objects.values_list("event_type", flat=True))
    assert "security.user_locked" in codes and "security.login_refused_locked" in codes


def test_failures_outside_the_window_do_not_count(clock, alice, auto_lock):
    for _ in range(5):
        _try("wrong")
        clock.advance(minutes=6)  # never three within 10 minutes
    assert not UserLock.objects.exists()
    assert _try(PASSWORD).status_code == 302
    # A good password resets the count.
    assert not LoginFailure.objects.filter(user=alice).exists()


def test_the_lock_expires_after_the_lock_expiration(clock, alice, auto_lock):
    for _ in range(3):
        _try("wrong")
    assert "Try again after" in _errors(_try(PASSWORD))
    clock.advance(minutes=29)
    assert "Your account is locked" in _errors(_try(PASSWORD))
    clock.advance(minutes=1)
    assert _try(PASSWORD).status_code == 302
    assert not UserLock.objects.exists()
    assert Event.objects.filter(event_type="security.lock_expired").count() == 1


def test_without_lock_expiration_only_an_administrator_unlocks(clock, alice, policy, sysadmin):
    policy(auto_lock_enabled=True, auto_lock_attempts=2, auto_lock_window_minutes=5, lock_expiration_enabled=False)
    _try("wrong")
    _try("wrong")
    clock.advance(days=30)
    assert "Contact your administrator" in _errors(_try(PASSWORD))
    lockout.unlock_user(actor=sysadmin, user=alice)
    assert _try(PASSWORD).status_code == 302
    with pytest.raises(ServiceError, match="is not locked"):
        lockout.unlock_user(actor=sysadmin, user=alice)


def test_a_system_user_cannot_unlock(alice, make_user, clock, auto_lock):
    for _ in range(3):
        _try("wrong")
    with pytest.raises(NotAllowed):
        lockout.unlock_user(actor=make_user("plain"), user=alice)
    assert UserLock.objects.filter(user=alice).exists()


def test_auto_lock_off_counts_nothing(alice, clock):
    for _ in range(10):
        _try("wrong")
    assert not LoginFailure.objects.exists() and not UserLock.objects.exists()
    assert _try(PASSWORD).status_code == 302


def test_unknown_names_leave_no_rows(clock, auto_lock, alice):
    for _ in range(5):
        _try("wrong", username="nobody")
    assert not LoginFailure.objects.exists()


def test_error_hints_on_say_why(clock, alice, auto_lock, make_user):
    assert "There is no user named “nobody”" in _errors(_try("x", username="nobody"))
    message = _errors(_try("wrong"))
    assert "Please enter a correct username and password" in message and "2 more failed attempts" in message
    bob = make_user("bob")
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    assert "is disabled" in _errors(_try(PASSWORD, username="bob"))


def test_error_hints_off_say_only_invalid_username_or_password(clock, alice, auto_lock, policy, make_user):
    policy(login_error_hints=False)
    for username, password in (("nobody", "x"), ("alice", "wrong")):
        assert _errors(_try(password, username=username)) == "Invalid username or password."
    _try("wrong")
    _try("wrong")
    assert UserLock.objects.filter(user=alice).exists()
    # Locked, the right password gets the same generic answer.
    assert _errors(_try(PASSWORD)) == "Invalid username or password."

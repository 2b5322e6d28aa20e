"""The session limit: logging in once more than allowed ends the user's oldest session."""

import pytest
from django.test import Client

from accounts.security_models import UserSession
from core.models import Event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _login(username="alice"):
    client = Client()
    assert client.post("/login/", {"username": username, "password": PASSWORD}).status_code == 302
    return client


def _signed_in(client):
    return client.get("/").status_code == 200


def test_n_plus_one_logins_end_the_oldest(make_user, policy, clock):
    make_user("alice")
    policy(session_limit_enabled=True, session_limit=3)
    clients = []
    for _ in range(3):
        clients.append(_login())
        clock.advance(seconds=1)
    assert all(_signed_in(c) for c in clients)
    newest = _login()
    assert _signed_in(newest)
    assert not _signed_in(clients[0])  # the oldest was ended
    assert all(_signed_in(c) for c in clients[1:])
    assert UserSession.objects.count() == 3
    assert Event.objects.filter(event_type="security.session_ended").count() == 1


def test_the_limit_is_per_user(make_user, policy, clock):
    make_user("alice")
    make_user("bob")
    policy(session_limit_enabled=True, session_limit=1)
    alice, bob = _login("alice"), _login("bob")
    assert _signed_in(alice) and _signed_in(bob)
    clock.advance(seconds=1)
    alice_again = _login("alice")
    assert _signed_in(alice_again) and _signed_in(bob) and not _signed_in(alice)


def test_without_the_limit_sessions_are_not_ended(make_user, clock):
    make_user("alice")
    clients = [_login() for _ in range(5)]
    assert all(_signed_in(c) for c in clients)


def test_logout_and_dead_sessions_free_their_place(make_user, policy, clock):
    make_user("alice")
    policy(session_limit_enabled=True, session_limit=2)
    first, second = _login(), _login()
    first.post("/logout/")
    assert UserSession.objects.count() == 1
    clock.advance(seconds=1)
    third = _login()
    assert _signed_in(second) and _signed_in(third)
    assert not Event.objects.filter(event_type="security.session_ended").exists()

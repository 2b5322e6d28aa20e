"""Licensing workspace fixtures: people with account / VA roles, each with their own browser."""

import time

import pytest
from django.test import Client

from accounts.roles import AccountRole, SystemRole
from tests.licensing.catalogue import catalogue


@pytest.fixture
def browser():
    """browser(user) -> a fresh test client signed in as ``user`` (several people in one test)."""

    def _browser(user):
        client = Client()
        client.force_login(user)
        return client

    return _browser


@pytest.fixture
def acme_admin(make_user, grant_role, acme):
    user = make_user("alice", SystemRole.USER, email="alice@acme.example")
    grant_role(user, acme, AccountRole.ACCOUNT_ADMIN)
    return user


@pytest.fixture
def acme_user(make_user, grant_role, acme):
    user = make_user("bob", SystemRole.USER, email="bob@acme.example")
    grant_role(user, acme, AccountRole.ACCOUNT_USER)
    return user


@pytest.fixture(autouse=True)
def steady_session(monkeypatch):
    """The idle-timeout middleware rewrites the session at most every 15 s: a slow test must not
    count that write as a query of the page it measures. Its clock stands still in every test of
    this folder (a query-count test whose setup took over 15 s on a loaded machine counted it)."""
    start = time.time()
    monkeypatch.setattr("accounts.middleware.now", lambda: start, raising=False)


@pytest.fixture
def data(acme, new_va):
    """The shared catalogue of licenses and devices (tests/licensing/catalogue.py)."""
    return catalogue(acme, new_va)

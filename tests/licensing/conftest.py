"""Licensing workspace fixtures: people with account / VA roles, each with their own browser."""
import pytest
from django.test import Client

from accounts.roles import AccountRole, SystemRole


@pytest.fixture
def browser():
    """browser(user) -> a fresh test client signed in as ``user`` (several people in one test)."""

    def _browser(user):
        client = Client()
        client.force_login(user)
        return client

    return _browser


@pytest.fixture
def grant():
    """grant(user, account_or_va, role): a role set up by the real service, as the system."""
    from accounts.services.grants import set_account_role, set_virtual_account_role
    from licensing.models import VirtualAccount

    def _grant(user, scope, role):
        if isinstance(scope, VirtualAccount):
            return set_virtual_account_role(actor=None, virtual_account=scope, role=role, user=user)
        return set_account_role(actor=None, account=scope, role=role, user=user)

    return _grant


@pytest.fixture
def acme(make_account):
    return make_account("Acme")


@pytest.fixture
def acme_admin(make_user, grant, acme):
    user = make_user("alice", SystemRole.USER, email="alice@acme.example")
    grant(user, acme, AccountRole.ACCOUNT_ADMIN)
    return user


@pytest.fixture
def acme_user(make_user, grant, acme):
    user = make_user("bob", SystemRole.USER, email="bob@acme.example")
    grant(user, acme, AccountRole.ACCOUNT_USER)
    return user


@pytest.fixture
def new_va(acme):
    """new_va("Sales") -> a local virtual account of Acme, created by the service."""
    from licensing.services.virtual_accounts import create_virtual_account

    def _new(name, account=None):
        return create_virtual_account(actor=None, account=account or acme, name=name)

    return _new

"""Shared fixtures: users of every system role, active local accounts built by the real services."""
import pytest
from django.db import connection

from accounts.roles import SystemRole

PASSWORD = "Correct-Horse-42"


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    # The test client speaks plain HTTP; production redirects it to HTTPS.
    settings.SECURE_SSL_REDIRECT = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Celery reads Django's settings once, when its config is first touched: set the app itself
    # too, so no test that touched it first (with other values) changes how the next ones run.
    from onprem.celery import app

    app.conf.task_always_eager = True
    # Each test gets its own empty cache: the configured one (a file or Redis) lives outside the
    # test transaction and is shared with other runs, so it would carry rows between tests.
    import uuid

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"test-{uuid.uuid4().hex}"}}
    # ...starting from the default system settings, as the test's fresh database holds them.
    from onprem.models import SystemSettings
    from onprem.system_settings import prime_cache

    prime_cache(SystemSettings(pk=1))


@pytest.fixture
def make_user(db):
    """make_user("alice", SystemRole.USER) -> a user who has finished the first-login wizard."""
    from django.contrib.auth import get_user_model

    def _make(username="user", system_role=SystemRole.USER, *, wizard_done=True, **fields):
        user = get_user_model()(username=username, system_role=system_role,
                                needs_first_login_wizard=not wizard_done, **fields)
        user.set_password(PASSWORD)
        user.save()
        return user

    return _make


@pytest.fixture
def sysadmin(make_user):
    return make_user("sysadmin", SystemRole.ADMIN)


@pytest.fixture
def sysop(make_user):
    return make_user("sysop", SystemRole.OPERATOR)


@pytest.fixture
def make_account(db):
    """make_account("Acme") -> an Active local account (with its Default VA), made by the services."""
    from licensing.services.accounts import activate_account, create_account

    def _make(name="Acme", *, active=True):
        account = create_account(actor=None, name=name, cisco_smart_account=f"{name} SA",
                                 cisco_virtual_account=f"{name} VA")
        return activate_account(actor=None, account=account) if active else account

    return _make


@pytest.fixture
def login(client):
    """login(user) -> the Django test client signed in as ``user`` through the login form."""

    def _login(user, password=PASSWORD):
        response = client.post("/login/", {"username": user.username, "password": password})
        assert response.status_code == 302, response.content[:500]
        return client

    return _login


def on_postgres():
    return connection.vendor == "postgresql"


# Tests that start real processes (servers, workers, private PostgreSQL and Redis, Chromium) or
# take machine-wide resources (the bench's database and Redis db, port ranges) form one group:
# under pytest-xdist (`make test` runs two workers with --dist loadgroup) they run one after the
# other on one worker, while the other worker takes the in-process tests. Two such tests at once
# would fight over the 2 cores their timeouts were set for.
PROCESS_MARKERS = ("live", "faults", "e2e")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # pytest-xdist's group scheduling keeps one test per node id: a second one with the same id
    # would silently never run (schemathesis' parametrize did that to 16 of 17 fuzzed operations).
    seen, twice = set(), set()
    for item in items:
        (twice if item.nodeid in seen else seen).add(item.nodeid)
    if twice:
        raise pytest.UsageError(f"tests with the same node id (only one of each would run): {sorted(twice)[:5]}")
    for item in items:
        if any(item.get_closest_marker(name) for name in PROCESS_MARKERS) or item.nodeid.startswith("tests/bench/"):
            item.add_marker(pytest.mark.xdist_group("processes"))

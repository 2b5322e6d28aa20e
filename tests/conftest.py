"""The suite's settings for every test and its collection rules; the factories (people, accounts,
tokens, licenses, product instances, servers) are in tests/factories.py, loaded here as a plugin."""

import os
import signal

import pytest
from django.db import connection

from core.child_processes import follow_parent

pytest_plugins = ["tests.factories"]


def pytest_configure(config):
    # A pytest-xdist worker outlives a killed controller (a CI timeout) for as long as its test
    # runs; it goes with it instead, and the servers its tests started go with the worker.
    if os.environ.get("PYTEST_XDIST_WORKER"):
        follow_parent(signal.SIGKILL)


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    # The test client speaks plain HTTP; production redirects it to HTTPS.
    settings.SECURE_SSL_REDIRECT = False
    # The listeners of a server run by an ordinary user (core/listeners.py), whoever runs the tests:
    # the test client's port 80 is then the management listener's; SERVER_PORT="8080" or "9443"
    # makes a request a product listener's.
    from core import listeners

    settings.ONPREM_LISTENERS = listeners.configured(
        {
            "ONPREM_BIND": "0.0.0.0:8443",
            "ONPREM_PRODUCT_HTTPS_BIND": "0.0.0.0:9443",
            "ONPREM_PRODUCT_HTTP_BIND": "0.0.0.0:8080",
        }
    )
    settings.ONPREM_PRODUCT_PORTS = listeners.product_ports(settings.ONPREM_LISTENERS)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    # Celery reads Django's settings once, when its config is first touched: set the app itself
    # too, so no test that touched it first (with other values) changes how the next ones run.
    from onprem.celery import app

    app.conf.task_always_eager = True
    # Each test gets its own empty cache: the configured one (a file or Redis) lives outside the
    # test transaction and is shared with other runs, so it would carry rows between tests.
    import uuid

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"test-{uuid.uuid4().hex}"}
    }
    # The per-process settings copies (core/process_settings.py) are keyed by the stamp's path: a
    # test's own path, so no copy read in another test's rolled-back transaction is ever served.
    settings.ONPREM_SETTINGS_STAMP = str(tmp_path / "settings.generation")
    # ...starting from the default system settings, as the test's fresh database holds them.
    from core.models import SystemSettings
    from core.system_settings import prime_cache

    prime_cache(SystemSettings(pk=1))


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

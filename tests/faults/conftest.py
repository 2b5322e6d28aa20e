"""Fixtures of the fault tests (tests/faults/harness.py) and their marker."""

from tests.faults.harness import fault_server, private_postgres, private_redis  # noqa: F401  (fixtures)


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: kills, restarts or stops real processes (fault injection)")

"""The high-availability tests' marker (their cluster: tests/ha/cluster.py; the fault fixtures of
tests/faults/harness.py: the web nodes)."""

from tests.faults.harness import fault_server  # noqa: F401  (fixture)


def pytest_configure(config):
    config.addinivalue_line("markers", "faults: kills, restarts or stops real processes (fault injection)")

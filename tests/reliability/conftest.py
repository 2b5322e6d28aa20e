"""Reliability fixtures: no rate limits, and snapshots of TLS files and tables."""

import pytest


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    # These tests sign in many times and send bad requests on purpose; the rate limits have theirs.
    settings.ONPREM_RATE_LIMIT_FAILURES = 10**6
    settings.ONPREM_RATE_LIMIT_FAILURES_PER_IP = 10**6
    settings.ONPREM_TOKEN_RATE_LIMIT = 10**6


def tls_snapshot(tls_files):
    """The bytes of the TLS files and the list of files beside them (the import marker)."""
    cert, key = tls_files
    return cert.read_bytes(), key.read_bytes(), sorted(p.name for p in cert.parent.iterdir())


def table_snapshot(*models):
    """Every row of each model, as tuples of all concrete field values: equal snapshots = nothing written."""
    snapshot = {}
    for model in models:
        names = [field.attname for field in model._meta.concrete_fields]
        snapshot[model._meta.label] = sorted(
            (tuple(str(value) for value in row) for row in model.objects.values_list(*names)),
        )
    return snapshot

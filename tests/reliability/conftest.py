"""Reliability fixtures: a signed-in System Admin, TLS files in a temporary directory, table snapshots."""
import pytest

from tests.conftest import PASSWORD  # noqa: F401  (re-exported for the tests)


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    # These tests sign in many times and send bad requests on purpose; the rate limits have theirs.
    settings.ONPREM_RATE_LIMIT_FAILURES = 10**6
    settings.ONPREM_RATE_LIMIT_FAILURES_PER_IP = 10**6
    settings.ONPREM_TOKEN_RATE_LIMIT = 10**6


@pytest.fixture
def admin_client(sysadmin, login):
    """The test client signed in as a System Admin through the login form."""
    return login(sysadmin)


@pytest.fixture
def tls_files(settings, tmp_path, monkeypatch):
    """TLS_CERT_FILE / TLS_KEY_FILE in a temporary directory, holding a default self-signed pair."""
    from onprem.tls import generate_self_signed

    monkeypatch.delenv("ONPREM_TLS_CERT", raising=False)
    monkeypatch.delenv("ONPREM_TLS_KEY", raising=False)
    directory = tmp_path / "tls"
    cert, key = directory / "server.crt", directory / "server.key"
    settings.TLS_CERT_FILE, settings.TLS_KEY_FILE = str(cert), str(key)
    settings.ONPREM_HOST = "localhost"
    generate_self_signed("localhost", cert, key)
    return cert, key


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

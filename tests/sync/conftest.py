"""Fixtures for the On-Prem side of registration and synchronization.

The CSSM emulator runs as a SEPARATE process (``manage.py cssm_emulator``, started by
bench/harness.py) on a port of tests/ports.py's CSSM range with its own state directory; the
server under test is pointed at it with ``ONPREM_CSSM_URL`` / ``ONPREM_CSSM_CA_FILE`` (its
self-signed TLS certificate). One emulator
serves the whole session; every test registers accounts under names of its own, so tests do
not see each other's On-Prems on the CSSM side.
"""

import uuid

import pytest

from bench.harness import cssm_emulator, server_env
from tests import ports
from tests.sync.sync_helpers import CCO_PASSWORD, CCO_USER, CISCO_VA, SEED, SMART_ACCOUNT, Cssm


@pytest.fixture(scope="session")
def cssm(tmp_path_factory):
    base = tmp_path_factory.mktemp("cssm")
    state_dir = base / "state"
    env = server_env(base / "data")
    port = ports.claim_port(ports.CSSM)
    emulator = cssm_emulator(state_dir, port=port, env=env, log=base / "emulator.log", seed=SEED)
    try:
        yield Cssm(f"https://127.0.0.1:{port}", str(state_dir / "tls" / "server.crt"), state_dir, env)
    finally:
        emulator.stop()


@pytest.fixture
def use_cssm(cssm, settings):
    settings.ONPREM_CSSM_URL = cssm.url
    settings.ONPREM_CSSM_CA_FILE = cssm.cert
    settings.ONPREM_CSSM_ROOT_FILE = ""
    return cssm


@pytest.fixture
def pending_account(db):
    """pending_account() -> a new local account waiting for registration, under a unique name."""
    from licensing.services.accounts import create_account

    def _make(name=None):
        return create_account(
            actor=None,
            name=name or f"Acme {uuid.uuid4().hex[:8]}",
            cisco_smart_account=SMART_ACCOUNT,
            cisco_virtual_account=CISCO_VA,
        )

    return _make


@pytest.fixture
def registered_account(use_cssm, pending_account, sysadmin):
    """registered_account() -> an account registered online with the emulator (Active)."""
    from sync.services.registration import register_online

    def _make(name=None):
        account = pending_account(name)
        register_online(account, actor=sysadmin, username=CCO_USER, password=CCO_PASSWORD)
        account.refresh_from_db()
        return account

    return _make

"""Fixtures for the On-Prem side of registration and synchronization.

The CSSM emulator runs as a SEPARATE process (``manage.py cssm_emulator``) on a free port of
18800-18899 with its own state directory; the server under test is pointed at it with
``ONPREM_CSSM_URL`` / ``ONPREM_CSSM_CA_FILE`` (its self-signed TLS certificate). One emulator
serves the whole session; every test registers accounts under names of its own, so tests do
not see each other's On-Prems on the CSSM side.
"""
import socket
import subprocess
import sys
import time
import uuid

import pytest

from sync_helpers import BASE_DIR, CCO_PASSWORD, CCO_USER, CISCO_VA, SEED, SMART_ACCOUNT, Cssm, child_env, free_port


@pytest.fixture(scope="session")
def cssm(tmp_path_factory):
    base = tmp_path_factory.mktemp("cssm")
    state_dir = base / "state"
    env = child_env(base / "data")
    port = free_port()
    log = open(base / "emulator.log", "w+")
    process = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "cssm_emulator", "--port", str(port), "--state-dir",
         str(state_dir), "--seed", str(SEED)], cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail("the CSSM emulator exited: " + log.read())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the CSSM emulator did not start")
                time.sleep(0.2)
        yield Cssm(f"https://127.0.0.1:{port}", str(state_dir / "tls" / "server.crt"), state_dir, env)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


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
        return create_account(actor=None, name=name or f"Acme {uuid.uuid4().hex[:8]}",
                              cisco_smart_account=SMART_ACCOUNT, cisco_virtual_account=CISCO_VA)

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

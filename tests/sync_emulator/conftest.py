"""Fixtures for the synchronization documents and the CSSM emulator (helpers: cssm_helpers.py)."""
import socket
import subprocess
import sys
import time

import pytest
from cssm_helpers import ACME_USER, BASE_DIR, SEED, OnPremSide, child_env, free_port

from sync.documents.serialize import serialize
from sync.emulator.ca import CertificateAuthority
from sync.emulator.service import Emulator


@pytest.fixture
def emulator(tmp_path):
    emu = Emulator(tmp_path / "cssm")
    emu.store.apply_seed(SEED)
    return emu


@pytest.fixture
def ca(tmp_path):
    return CertificateAuthority(tmp_path / "ca").ensure()


@pytest.fixture
def registered(emulator):
    """An On-Prem registered with the in-process emulator: (side, emulator)."""
    side = OnPremSide()
    request = side.registration_request()
    text, _ = emulator.process(serialize(request).encode(), credentials=ACME_USER)
    side.accept(text, request, emulator.ca.root_pem)
    return side


@pytest.fixture
def live_emulator(tmp_path):
    """`manage.py cssm_emulator` as a separate process on loopback: yields (base_url, state_dir, cert)."""
    state_dir = tmp_path / "cssm-state"
    port = free_port()
    log = open(tmp_path / "emulator.log", "w+")
    process = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "cssm_emulator", "--port", str(port),
         "--state-dir", str(state_dir), "--seed", str(SEED)],
        cwd=BASE_DIR, env=child_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail("the emulator exited: " + log.read())
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the emulator did not start")
        yield f"https://127.0.0.1:{port}", state_dir, str(state_dir / "tls" / "server.crt")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()

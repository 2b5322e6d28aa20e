"""Fixtures for the synchronization documents and the CSSM emulator (helpers: cssm_helpers.py)."""

import pytest

from bench.harness import cssm_emulator, server_env
from sync.documents.serialize import serialize
from sync.emulator.ca import CertificateAuthority
from sync.emulator.service import Emulator
from tests import ports
from tests.sync_emulator.cssm_helpers import ACME_USER, SEED, OnPremSide


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
    port = ports.claim_port(ports.CSSM)
    emulator = cssm_emulator(
        state_dir, port=port, env=server_env(tmp_path / "onprem-data"), log=tmp_path / "emulator.log", seed=SEED
    )
    try:
        yield f"https://127.0.0.1:{port}", state_dir, str(state_dir / "tls" / "server.crt")
    finally:
        emulator.stop()

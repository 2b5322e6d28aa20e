"""A local account really registered with CSSM, in one process: the real On-Prem services on one
side and the CSSM emulator's service object (its own store and CA in a temporary directory) on the
other, exchanging the same files an operator carries by hand ("manual" mode). No network, so the
property tests can run hundreds of examples against a registered account's real parser path."""

from pathlib import Path

from sync.documents.rejections import MANUAL
from sync.emulator.service import Emulator

BASE_DIR = Path(__file__).resolve().parents[2]
SEED = BASE_DIR / "sync" / "emulator" / "seed-example.yml"
SMART_ACCOUNT, CISCO_VA = "acme.example", "Lab"  # an account of the emulator's example seed


def registered_with_emulator(tmp_path, actor, name="Acme Lab"):
    """``(account, emulator)``: a new local account registered through the manual file exchange."""
    emulator = seeded_emulator(tmp_path)
    return register_with(emulator, actor, name), emulator


def seeded_emulator(tmp_path):
    emulator = Emulator(tmp_path / "cssm")
    emulator.store.apply_seed(SEED)
    return emulator


def register_with(emulator, actor, name):
    """A new local account ``name`` registered with ``emulator`` through the manual file exchange."""
    from licensing.services.accounts import create_account
    from sync.services.registration import apply_authorization, create_registration_request

    account = create_account(actor=None, name=name, cisco_smart_account=SMART_ACCOUNT, cisco_virtual_account=CISCO_VA)
    _document, text, _record = create_registration_request(account, actor=actor)
    authorization, file_name = emulator.process(
        text.encode(), name="request.yml", mode=MANUAL, require_credentials=False
    )
    apply_authorization(account, authorization.encode(), actor=actor, name=file_name, mode=MANUAL)
    account.refresh_from_db()
    return account


def sync_response_for(account, emulator, actor, *, full=False):
    """A fresh manual SyncRequest of ``account`` answered by the emulator: ``(response bytes, file name)``."""
    from sync.services.synchronization import create_sync_request

    _document, text, _record = create_sync_request(account, actor=actor, full=full)
    response, file_name = emulator.process(
        text.encode(), name="sync-request.yml", mode=MANUAL, require_credentials=False
    )
    return response.encode(), file_name

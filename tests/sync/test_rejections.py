"""Every "Synchronization Failed (Manual Synchronization)" message, provoked by a crafted file.

The files are real emulator responses, then altered; where a change must still carry a valid
signature (to reach the later checks) it is re-signed with the emulator's own signer key, read
from its state directory, as a compromised or confused CSSM would.
"""

import datetime

import pytest
import yaml

from core import pki
from licensing.models import Entitlement
from sync.documents.parse import parse
from sync.documents.rejections import (
    MANUAL,
    MSG_ALREADY_PROCESSED,
    MSG_CERTIFICATES_MISSING,
    MSG_CORRUPTED,
    MSG_INVALID_CERTIFICATE,
    MSG_INVALID_ID_CERTIFICATE,
    MSG_INVALID_SIGNING_CERTIFICATE,
    MSG_MODIFIED,
    MSG_NET_INVALID_FILE,
    MSG_NOT_YAML,
    MSG_TIMESTAMP,
    MSG_WRONG_ACCOUNT,
    NETWORK,
)
from sync.documents.serialize import serialize
from sync.documents.signing import sign
from sync.models import AccountSync, SyncRecord
from sync.services import synchronization
from sync.services.common import SyncFailed

pytestmark = pytest.mark.django_db


@pytest.fixture
def exchange(registered_account, sysadmin, use_cssm, tmp_path):
    """(account, response bytes) for a pending manual full synchronization of a fresh account."""
    account = registered_account()
    name, text = synchronization.request_file(account, actor=sysadmin, full=True)
    (tmp_path / name).write_text(text)
    return account, use_cssm.process_file(tmp_path / name, tmp_path / "response.yml")


def _resign(cssm, data, change):
    document = parse(data)
    change(document)
    ca = cssm.state_dir / "ca"
    key = pki.load_private_key((ca / "signer.key").read_text())
    return serialize(sign(document, key, [(ca / "signer.crt").read_text(), (ca / "issuing.crt").read_text()]))


def _upload(account, actor, data, name="response.yml"):
    with pytest.raises(SyncFailed) as excinfo:
        synchronization.apply_response(account, data, name=name, actor=actor, mode=MANUAL)
    return excinfo.value


def _nothing_changed(account):
    state = AccountSync.objects.get(account=account)
    assert state.last_sync_at is None and state.full_sync_required
    assert not Entitlement.objects.filter(virtual_account__account=account).exists()
    assert SyncRecord.objects.filter(account=account, kind="sync", result="pending").count() == 1


def _then_the_right_file_works(account, actor, data):
    record = synchronization.apply_response(account, data, name="response.yml", actor=actor, mode=MANUAL)
    assert record.result == "success"


def test_not_yaml(exchange, sysadmin):
    account, response = exchange
    assert _upload(account, sysadmin, b"\xff\xfe not: [yaml").message == MSG_NOT_YAML
    assert _upload(account, sysadmin, response, name="response.txt").message == MSG_NOT_YAML
    _nothing_changed(account)
    failed = SyncRecord.objects.filter(account=account, result="failed")
    assert failed.count() == 2 and failed.first().message == MSG_NOT_YAML
    _then_the_right_file_works(account, sysadmin, response)


def test_corrupted(exchange, sysadmin):
    account, response = exchange
    data = yaml.safe_load(response)
    del data["body"]["entitlements"]
    assert _upload(account, sysadmin, yaml.safe_dump(data).encode()).message == MSG_CORRUPTED
    _nothing_changed(account)


def test_modified(exchange, sysadmin):
    account, response = exchange
    data = yaml.safe_load(response)
    data["body"]["entitlements"][0]["quantity"] += 1000
    assert _upload(account, sysadmin, yaml.safe_dump(data).encode()).message == MSG_MODIFIED
    _nothing_changed(account)
    _then_the_right_file_works(account, sysadmin, response)


def test_replayed(exchange, sysadmin):
    account, response = exchange
    _then_the_right_file_works(account, sysadmin, response)
    assert _upload(account, sysadmin, response).message == MSG_ALREADY_PROCESSED


def test_missing_certificates(exchange, sysadmin, use_cssm):
    account, response = exchange
    data = yaml.safe_load(response)
    data["signature"]["certificates"] = []
    assert _upload(account, sysadmin, yaml.safe_dump(data).encode()).message == MSG_CERTIFICATES_MISSING
    resigned = _resign(use_cssm, response, lambda doc: doc.body.update(certificate_chain=[]))
    assert _upload(account, sysadmin, resigned.encode()).message == MSG_CERTIFICATES_MISSING
    _nothing_changed(account)


def test_wrong_account(registered_account, sysadmin, use_cssm, tmp_path):
    mine, other = registered_account(), registered_account()
    name, text = synchronization.request_file(other, actor=sysadmin, full=True)
    (tmp_path / name).write_text(text)
    others_response = use_cssm.process_file(tmp_path / name, tmp_path / "other.yml")
    synchronization.request_file(mine, actor=sysadmin, full=True)
    assert _upload(mine, sysadmin, others_response).message == MSG_WRONG_ACCOUNT
    _nothing_changed(mine)


def test_timestamp_skew(exchange, sysadmin, use_cssm):
    account, response = exchange

    def backdate(doc):
        doc.created_at = doc.created_at - datetime.timedelta(days=3)

    assert _upload(account, sysadmin, _resign(use_cssm, response, backdate).encode()).message == MSG_TIMESTAMP
    _nothing_changed(account)


def test_invalid_signing_certificate(exchange, sysadmin):
    account, response = exchange
    document = parse(response)
    key, cert = pki.new_signing_authority(
        common_name="impostor", organizational_unit="x", now=datetime.datetime.now(datetime.timezone.utc)
    )
    forged = serialize(sign(document, key, [pki.certificate_pem(cert)]))
    assert _upload(account, sysadmin, forged.encode()).message == MSG_INVALID_SIGNING_CERTIFICATE
    _nothing_changed(account)


def test_invalid_id_certificate(exchange, registered_account, sysadmin, use_cssm):
    account, response = exchange
    other = AccountSync.objects.get(account=registered_account())
    resigned = _resign(use_cssm, response, lambda doc: doc.body.update(id_certificate=other.id_certificate_pem))
    assert _upload(account, sysadmin, resigned.encode()).message == MSG_INVALID_ID_CERTIFICATE
    _nothing_changed(account)


def test_invalid_certificate(exchange, sysadmin, use_cssm):
    account, response = exchange
    _key, cert = pki.new_signing_authority(
        common_name="stray", organizational_unit="x", now=datetime.datetime.now(datetime.timezone.utc)
    )
    resigned = _resign(use_cssm, response, lambda doc: doc.body.update(id_certificate=pki.certificate_pem(cert)))
    assert _upload(account, sysadmin, resigned.encode()).message == MSG_INVALID_CERTIFICATE
    _nothing_changed(account)


def test_network_mode_uses_the_network_texts(exchange, sysadmin):
    account, response = exchange
    data = yaml.safe_load(response)
    data["body"]["entitlements"][0]["quantity"] += 1
    with pytest.raises(SyncFailed) as excinfo:
        synchronization.apply_response(account, yaml.safe_dump(data).encode(), actor=sysadmin, mode=NETWORK)
    assert excinfo.value.message == MSG_NET_INVALID_FILE

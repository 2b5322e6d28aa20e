"""Registration of local accounts with the CSSM emulator (a separate process): online, manual,
re-registration online and manual, delete preconditions."""

import pytest

from core import pki
from core.errors import ServiceError
from core.models import Event
from licensing.models import LocalAccount, SigningAuthority
from sync.documents.rejections import MSG_WRONG_ACCOUNT
from sync.documents.signing import new_csr
from sync.documents.verify import certificate_uid
from sync.models import AccountSync, SyncRecord
from sync.services import registration, synchronization
from sync.services.common import sync_settings
from tests.sync.sync_helpers import CCO_PASSWORD, CCO_USER

pytestmark = pytest.mark.django_db


def _events(account):
    return list(Event.objects.filter(account=account).values_list("event_type", flat=True))


def test_online_registration_installs_the_cssm_chain_and_activates(use_cssm, pending_account, sysadmin):
    account = pending_account()
    record = registration.register_online(account, actor=sysadmin, username=CCO_USER, password=CCO_PASSWORD)
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.ACTIVE
    assert record.result == SyncRecord.Result.SUCCESS and record.mode == "online" and record.response_id
    state = AccountSync.objects.get(account=account)
    assert state.is_registered and state.onprem_name == account.name and state.full_sync_required
    assert state.last_response_id == record.response_id and not state.pending_request_id
    authority = SigningAuthority.objects.get(account=account, is_current=True)
    assert authority.source == SigningAuthority.Source.CSSM
    assert certificate_uid(pki.load_certificate(authority.certificate_pem)) == state.uid
    assert "BEGIN CERTIFICATE" in authority.chain_pem
    # the CSSM root is pinned on first use; the TLS certificate was verified with the CA file
    assert sync_settings().cssm_root_pem == state.root_pem
    assert {"sync.registered", "account.activated"} <= set(_events(account))


def test_wrong_cco_credentials_leave_the_account_pending(use_cssm, pending_account, sysadmin):
    account = pending_account()
    with pytest.raises(ServiceError, match="Invalid username or password"):
        registration.register_online(account, actor=sysadmin, username=CCO_USER, password="wrong")
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.PENDING_REGISTRATION
    assert SyncRecord.objects.get(account=account).result == SyncRecord.Result.FAILED
    assert "sync.registration_failed" in _events(account)
    assert not SigningAuthority.objects.filter(account=account, source="cssm").exists()


def test_tls_is_verified_never_silently_skipped(use_cssm, pending_account, sysadmin, settings):
    settings.ONPREM_CSSM_CA_FILE = ""  # the system trust store does not know the emulator's certificate
    account = pending_account()
    with pytest.raises(ServiceError, match="could not be verified"):
        registration.register_online(account, actor=sysadmin, username=CCO_USER, password=CCO_PASSWORD)


def test_approve_request_and_register(use_cssm, make_user, sysadmin):
    from licensing.services.accounts import request_account

    requester = make_user("requester", email="req@example.com")
    account = request_account(
        actor=requester,
        name="Requested One",
        cisco_smart_account="acme.example",
        cisco_virtual_account="Lab",
        message="please",
    )
    registration.approve_and_register(account, actor=sysadmin, username=CCO_USER, password=CCO_PASSWORD)
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.ACTIVE
    assert {"account.request_approved", "account.activated", "sync.registered"} <= set(_events(account))


def test_manual_registration_with_files(use_cssm, pending_account, sysadmin, tmp_path):
    account = pending_account()
    name, text = registration.registration_file(account, actor=sysadmin)
    assert name.endswith(".yml") and "RegistrationRequest" in name
    request_path = tmp_path / name
    request_path.write_text(text)
    authorization = use_cssm.process_file(request_path, tmp_path / "authorization.yml")
    registration.apply_authorization(account, authorization, name="authorization.yml", actor=sysadmin)
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.ACTIVE
    assert "sync.registration_file" in _events(account)
    # the same authorization again: already processed
    with pytest.raises(ServiceError):
        registration.apply_authorization(account, authorization, name="authorization.yml", actor=sysadmin)


def test_an_older_registration_file_no_longer_fits(use_cssm, pending_account, sysadmin, tmp_path):
    account = pending_account()
    _name, first = registration.registration_file(account, actor=sysadmin)
    (tmp_path / "first.yml").write_text(first)
    authorization = use_cssm.process_file(tmp_path / "first.yml", tmp_path / "auth.yml")
    registration.registration_file(account, actor=sysadmin)  # regenerated: new keys, new request id
    with pytest.raises(ServiceError) as excinfo:
        registration.apply_authorization(account, authorization, name="auth.yml", actor=sysadmin)
    assert excinfo.value.message == MSG_WRONG_ACCOUNT
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.PENDING_REGISTRATION


def test_reregistration_online_schedules_a_full_sync(registered_account, sysadmin, django_capture_on_commit_callbacks):
    from licensing.services.accounts import deactivate_account

    account = registered_account()
    uid = AccountSync.objects.get(account=account).uid
    with pytest.raises(ServiceError, match="Deactivate"):
        registration.register_online(
            account, actor=sysadmin, username=CCO_USER, password=CCO_PASSWORD, reregistration=True
        )
    deactivate_account(actor=sysadmin, account=account, reason="moving")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        registration.register_online(
            account, actor=sysadmin, username=CCO_USER, password=CCO_PASSWORD, reregistration=True
        )
    assert callbacks
    account.refresh_from_db()
    state = AccountSync.objects.get(account=account)
    assert account.status == LocalAccount.Status.ACTIVE and state.uid == uid
    assert "sync.reregistered" in _events(account)
    # Celery runs eagerly in tests: the scheduled full synchronization already ran
    assert state.last_sync_type == "full" and state.last_sync_result == "success"
    assert SyncRecord.objects.filter(account=account, kind="reregistration", result="success").exists()


def test_manual_reregistration(registered_account, sysadmin, use_cssm, tmp_path):
    from licensing.services.accounts import deactivate_account

    account = registered_account()
    deactivate_account(actor=sysadmin, account=account, reason="moving")
    _name, text = registration.registration_file(account, actor=sysadmin, reregistration=True)
    (tmp_path / "re.yml").write_text(text)
    authorization = use_cssm.process_file(tmp_path / "re.yml", tmp_path / "re-auth.yml")
    registration.apply_authorization(account, authorization, name="re-auth.yml", actor=sysadmin)
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.ACTIVE
    assert "sync.reregistration_file" in _events(account)
    # "A full synchronization must be manually performed as a final step"
    assert AccountSync.objects.get(account=account).full_sync_required
    record = synchronization.synchronize(account, actor=sysadmin)
    assert record.sync_type == "full"


def test_delete_needs_deactivation_and_no_product_instances_on_cssm(registered_account, sysadmin):
    from licensing.services.accounts import deactivate_account

    account = registered_account()
    with pytest.raises(ServiceError, match="deactivated"):
        registration.delete_account(account, actor=sysadmin)
    deactivate_account(actor=sysadmin, account=account, reason="done")
    registration.delete_account(account, actor=sysadmin)
    assert not LocalAccount.objects.filter(pk=account.pk).exists()
    assert Event.objects.filter(event_type="account.deleted").exists()


def test_an_account_whose_name_is_long_outside_ascii_registers(use_cssm, pending_account, sysadmin):
    """Its name is the CN of both CSRs and of the certificates CSSM issues: 64 characters outside
    ASCII are well over the 64 bytes a common name holds (unclipped: cryptography's ValueError)."""
    import uuid

    from cryptography.x509.oid import NameOID

    account = pending_account("ライセンス管理アカウント" * 3 + uuid.uuid4().hex[:8])  # 44 characters, 116 bytes
    registration.register_online(account, actor=sysadmin, username=CCO_USER, password=CCO_PASSWORD)
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.ACTIVE
    certificate = pki.load_certificate(SigningAuthority.objects.get(account=account, is_current=True).certificate_pem)
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == pki.clip_name(account.name) and account.name.startswith(common_name)


def test_csrs_name_any_account_and_uid():
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    csr = x509.load_pem_x509_csr(new_csr(pki.new_private_key(), common_name="é" * 64, uid="on_prem@1").encode())
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "é" * 32
    assert csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == "on_prem@1"

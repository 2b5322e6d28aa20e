"""The alerts whose cause is CSSM or the synchronization calendar, end to end: the CSSM emulator
(in process, its own store and CA in a temporary directory, driven by its ``manage.py
cssm_emulator`` commands) and the On-Prem's real services exchanging the real documents. No
alert row is written by a test: each opens from what CSSM says or from the calendar, and
clears when that cause is gone (docs/licensing-engine.md, "The alerts")."""

import datetime

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from accounts.roles import AccountRole
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Alert, Entitlement, LicenseAgreement
from licensing.services import alerts as alert_service
from licensing.services import cssm_alerts
from licensing.services.accounts import deactivate_account
from sync import tasks
from sync.documents import bodies
from sync.documents.rejections import MANUAL
from sync.documents.schema import SchemaError
from sync.models import AccountSync, SyncRecord
from sync.services.common import SyncFailed
from sync.services.registration import apply_authorization, create_registration_request
from sync.services.synchronization import apply_response, create_sync_request
from tests.reliability.inprocess_cssm import register_with, seeded_emulator

pytestmark = pytest.mark.django_db
T = Alert.Type


@pytest.fixture
def cssm(tmp_path):
    return seeded_emulator(tmp_path)


@pytest.fixture
def account(cssm, sysadmin):
    account = register_with(cssm, sysadmin, "Acme Lab")
    sync(account, cssm, sysadmin)  # the full synchronization CSSM asks for after registering
    return account


def emulator_command(cssm, *args):
    call_command("cssm_emulator", "--state-dir", str(cssm.store.state_dir), *args)


def uid_of(account):
    return AccountSync.objects.get(account=account).uid


def sync(account, cssm, actor, *, now=None):
    """One manual synchronization: the request file to the emulator, its response file back."""
    _document, text, _record = create_sync_request(account, actor=actor, now=now)
    response, name = cssm.process(text.encode(), name="request.yml", mode=MANUAL, require_credentials=False, now=now)
    apply_response(account, response.encode(), actor=actor, name=name, mode=MANUAL, now=now)
    return yaml.safe_load(text)["body"], yaml.safe_load(response)["body"]


def live(account, alert_type):
    return list(Alert.objects.filter(account=account, alert_type=alert_type).live())


def events_of(account, code):
    return Event.objects.filter(account=account, event_type=code).count()


def test_updated_agreement_opens_is_not_dismissible_and_its_acceptance_travels_to_cssm(
    account, cssm, sysadmin, client, make_user, grant_role
):
    assert not live(account, T.AGREEMENT_UPDATED)  # nothing published yet
    emulator_command(cssm, "--publish-agreement", "2", "--agreement-text", "Terms, version two.")
    _request, response = sync(account, cssm, sysadmin)
    assert response["agreement"]["version"] == 2 and response["agreement"]["accepted"] is False
    [alert] = live(account, T.AGREEMENT_UPDATED)
    assert alert.severity == Alert.Severity.MAJOR and alert.action_due is None
    assert alert.message.startswith("The Cisco Smart Licensing Agreement has been updated")
    sync(account, cssm, sysadmin)  # seen again: still one alert, one event
    assert len(live(account, T.AGREEMENT_UPDATED)) == 1 and events_of(account, "alert.agreement_updated") == 1
    with pytest.raises(ServiceError, match="cannot be dismissed"):
        alert_service.dismiss_alert(actor=sysadmin, alert=alert)

    # An Account User may view the agreement but not accept it.
    user = make_user("au")
    grant_role(user, account, AccountRole.ACCOUNT_USER)
    client.force_login(user)
    url = reverse("licensing_agreement", args=[account.pk])
    page = client.get(url)
    assert page.status_code == 200 and "Terms, version two." in page.content.decode()
    agreement = LicenseAgreement.objects.get(account=account)
    post = {"version": 2, "digest": agreement.digest}
    assert client.post(url, post).status_code == 403
    with pytest.raises(NotAllowed):
        cssm_alerts.accept_agreement(actor=user, account=account, version=2, digest=agreement.digest)

    admin = make_user("aa")
    grant_role(admin, account, AccountRole.ACCOUNT_ADMIN)
    client.force_login(admin)
    assert client.post(url, {"version": 1, "digest": agreement.digest}).status_code == 400  # not what is shown
    assert live(account, T.AGREEMENT_UPDATED)
    assert client.post(url, post).status_code == 302
    assert not live(account, T.AGREEMENT_UPDATED)
    [pending] = live(account, T.AGREEMENT_PENDING)
    assert pending.severity == Alert.Severity.MINOR
    assert events_of(account, "agreement.accepted") == 1

    cleared_before = events_of(account, "alert.cssm_cleared")
    request, response = sync(account, cssm, sysadmin)
    assert request["agreement_acceptance"] == {
        "version": 2,
        "digest": agreement.digest,
        "accepted_by": "aa",
        "accepted_at": request["agreement_acceptance"]["accepted_at"],
    }
    assert response["agreement"]["accepted"] is True
    assert not live(account, T.AGREEMENT_PENDING) and not live(account, T.AGREEMENT_UPDATED)
    assert events_of(account, "alert.cssm_cleared") == cleared_before + 1
    request, _response = sync(account, cssm, sysadmin)
    assert "agreement_acceptance" not in request  # CSSM has it on record

    # A newer version must be accepted again.
    emulator_command(cssm, "--publish-agreement", "3", "--agreement-text", "Terms, version three.")
    sync(account, cssm, sysadmin)
    assert live(account, T.AGREEMENT_UPDATED) and not LicenseAgreement.objects.get(account=account).cssm_accepted


def test_cssm_unregistering_the_onprem_opens_the_alert_and_re_registering_clears_it(account, cssm, sysadmin):
    lines = sorted(Entitlement.objects.filter(virtual_account__account=account).values_list("pk", "quantity"))
    assert lines
    emulator_command(cssm, "--unregister-onprem", uid_of(account))
    with pytest.raises(SyncFailed, match="failed to synchronize within 90 days and was removed") as failed:
        sync(account, cssm, sysadmin)
    assert failed.value.code == "onprem_removed"
    [alert] = live(account, T.ONPREM_REMOVED)
    assert alert.severity == Alert.Severity.MAJOR and "“Acme Lab”" in alert.message
    # Nothing else of that response was applied; the request is answered and failed.
    assert sorted(Entitlement.objects.filter(virtual_account__account=account).values_list("pk", "quantity")) == lines
    record = SyncRecord.objects.filter(account=account, kind=SyncRecord.Kind.SYNC).order_by("-pk").first()
    assert record.result == SyncRecord.Result.FAILED and record.response_id
    assert AccountSync.objects.get(account=account).full_sync_required
    with pytest.raises(ServiceError, match="cannot be dismissed"):
        alert_service.dismiss_alert(actor=sysadmin, alert=alert)
    alert_service.recompute_alerts(account)  # the scheduled recompute leaves it to its hook
    assert live(account, T.ONPREM_REMOVED)

    deactivate_account(actor=sysadmin, account=account)
    _document, text, _record = create_registration_request(account, actor=sysadmin, reregistration=True)
    authorization, name = cssm.process(text.encode(), name="r.yml", mode=MANUAL, require_credentials=False)
    apply_authorization(account, authorization.encode(), actor=sysadmin, name=name, mode=MANUAL)
    assert not live(account, T.ONPREM_REMOVED)
    sync(account, cssm, sysadmin)  # CSSM holds it again
    assert not live(account, T.ONPREM_REMOVED)


def test_cssm_removes_an_onprem_silent_for_90_days(account, cssm, sysadmin):
    later = timezone.now() + datetime.timedelta(days=91)
    with pytest.raises(SyncFailed):
        sync(account, cssm, sysadmin, now=later)
    assert live(account, T.ONPREM_REMOVED)


def test_sync_deadline_and_expiry_come_from_the_calendar_and_a_sync_clears_them(account, cssm, sysadmin):
    state = AccountSync.objects.get(account=account)
    now = timezone.now()
    AccountSync.objects.filter(pk=state.pk).update(last_sync_at=now - datetime.timedelta(days=59))
    tasks.check_overdue()
    assert not live(account, T.SYNC_DEADLINE)

    AccountSync.objects.filter(pk=state.pk).update(last_sync_at=now - datetime.timedelta(days=61))
    tasks.check_overdue()
    tasks.check_overdue()  # the daily check again: still one
    [upcoming] = live(account, T.SYNC_DEADLINE)
    assert upcoming.severity == Alert.Severity.MINOR
    assert "has not synchronized for 61 days. If it is not synchronized within 29 days" in upcoming.message
    assert upcoming.action_due.date() == (now + datetime.timedelta(days=29)).date()
    assert events_of(account, "alert.sync_deadline") == 1
    alert_service.recompute_alerts(account)
    assert live(account, T.SYNC_DEADLINE)

    # After downtime the check catches up from the dates alone.
    AccountSync.objects.filter(pk=state.pk).update(last_sync_at=now - datetime.timedelta(days=95))
    tasks.check_overdue()
    assert not live(account, T.SYNC_DEADLINE)
    [expired] = live(account, T.ONPREM_EXPIRED)
    assert expired.severity == Alert.Severity.MAJOR and "for 95 days" in expired.message

    sync(account, cssm, sysadmin)  # CSSM's own clock still has it: the sync succeeds
    assert not live(account, T.ONPREM_EXPIRED) and not live(account, T.SYNC_DEADLINE)


def test_version_compatibility_note_comes_and_goes_with_cssm(account, cssm, sysadmin):
    text = "Temporarily, this SSM On-Prem will only be able to register Product Instances that use agent 1.5+."
    emulator_command(cssm, "--note", uid_of(account), text)
    _request, response = sync(account, cssm, sysadmin)
    assert response["notices"] == [{"code": "version_compatibility", "text": text}]
    [alert] = live(account, T.VERSION_NOTE)
    assert alert.severity == Alert.Severity.MINOR and alert.message == f"Version Compatibility Note: {text}"
    alert_service.dismiss_alert(actor=sysadmin, alert=alert)  # a note may be dismissed
    sync(account, cssm, sysadmin)
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.DISMISSED  # not re-opened
    emulator_command(cssm, "--withdraw-note", uid_of(account))
    _request, response = sync(account, cssm, sysadmin)
    assert "notices" not in response and not live(account, T.VERSION_NOTE)


def test_authorization_pending_until_the_authorization_file_is_applied(cssm, sysadmin):
    from licensing.services.accounts import create_account

    account = create_account(
        actor=None, name="Acme Files", cisco_smart_account="acme.example", cisco_virtual_account="Lab"
    )
    _document, text, _record = create_registration_request(account, actor=sysadmin)
    [alert] = live(account, T.AUTHORIZATION_PENDING)
    assert alert.message.startswith("The Smart Software Manager On-Prem “Acme Files” has been created but requires")
    with pytest.raises(ServiceError, match="cannot be dismissed"):
        alert_service.dismiss_alert(actor=None, alert=alert)
    create_registration_request(account, actor=sysadmin)  # a new file: still one alert
    _document, text, _record = create_registration_request(account, actor=sysadmin)
    assert len(live(account, T.AUTHORIZATION_PENDING)) == 1
    authorization, name = cssm.process(text.encode(), name="r.yml", mode=MANUAL, require_credentials=False)
    apply_authorization(account, authorization.encode(), actor=sysadmin, name=name, mode=MANUAL)
    assert not live(account, T.AUTHORIZATION_PENDING)
    assert events_of(account, "alert.authorization_pending") == 1 and events_of(account, "alert.cssm_cleared") == 1


def test_authorization_file_ready_when_cssm_has_generated_it(
    cssm, sysadmin, monkeypatch, smtp_server, settings, django_capture_on_commit_callbacks
):
    """While a manual registration waits, the periodic check asks CSSM (here the emulator's own
    answer, the one its /api/onprem/registration-status endpoint serves) whether the file exists:
    pending until the registration file is uploaded there, then Authorization File Ready replaces
    Authorization Pending, once, with a mail to the registering admin; applying the file clears it."""
    from licensing.services.accounts import create_account
    from sync.services import client
    from sync.services.registration import check_authorization_files

    asked = []

    def status(request_id, uid):
        asked.append(request_id)
        return cssm.registration_status(request_id, uid)["status"]

    monkeypatch.setattr(client, "registration_status", status)
    settings.EMAIL_BACKEND = "core.mail.SettingsEmailBackend"  # to a real SMTP listener
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    sysadmin.email = "registrar@acme.example"
    sysadmin.save(update_fields=["email"])
    account = create_account(
        actor=None, name="Acme Files", cisco_smart_account="acme.example", cisco_virtual_account="Lab"
    )
    assert check_authorization_files() == [] and asked == []  # nothing waits: CSSM is not asked
    _document, text, _record = create_registration_request(account, actor=sysadmin)
    assert check_authorization_files() == [] and len(asked) == 1  # not uploaded to CSSM yet
    assert live(account, T.AUTHORIZATION_PENDING) and not live(account, T.AUTHORIZATION_READY)

    authorization, name = cssm.process(text.encode(), name="r.yml", mode=MANUAL, require_credentials=False)
    with django_capture_on_commit_callbacks(execute=True):  # the mail goes once the event commits
        assert check_authorization_files() == ["Acme Files"]
    [alert] = live(account, T.AUTHORIZATION_READY)
    assert alert.get_alert_type_display() == "SSM On-Prem Authorization File Ready"
    assert alert.severity == Alert.Severity.MINOR
    assert alert.message == (
        "The Authorization File for Smart Software Manager On-Prem “Acme Files” has been generated and is ready "
        "to be downloaded. To complete the registration process, save this file and upload it to Smart Software "
        "Manager On-Prem using the On-Prem setup utility."
    )
    assert not live(account, T.AUTHORIZATION_PENDING)
    [mail] = [m for m in smtp_server.wait_for(1) if "Authorization File Ready" in m.subject]
    assert mail.recipients == ["registrar@acme.example"] and "“Acme Files”" in mail.body
    check_authorization_files()  # asked again: nothing waits any more
    assert len(live(account, T.AUTHORIZATION_READY)) == 1 and events_of(account, "alert.authorization_ready") == 1

    apply_authorization(account, authorization.encode(), actor=sysadmin, name=name, mode=MANUAL)
    assert not live(account, T.AUTHORIZATION_READY) and not live(account, T.AUTHORIZATION_PENDING)


def test_authorization_file_check_skips_an_unreachable_cssm(cssm, sysadmin, monkeypatch):
    from licensing.services.accounts import create_account
    from sync.services import client
    from sync.services.registration import check_authorization_files

    def unreachable(request_id, uid):
        raise client.CssmUnavailable("Cisco Smart Software Manager cannot be reached (ConnectionError).")

    monkeypatch.setattr(client, "registration_status", unreachable)
    account = create_account(actor=None, name="Air Gap", cisco_smart_account="acme.example", cisco_virtual_account="L")
    create_registration_request(account, actor=sysadmin)
    assert check_authorization_files() == []
    assert live(account, T.AUTHORIZATION_PENDING) and not live(account, T.AUTHORIZATION_READY)


def test_the_new_fields_are_optional_and_strict():
    body = {
        "in_reply_to": "r",
        "onprem_name": "n",
        "export_control_allowed": False,
        "entitlements": [],
        "id_certificate": "-----BEGIN CERTIFICATE-----",
        "certificate_chain": [],
        "export_decisions": [],
        "dlc_decisions": [],
        "full_sync_required": False,
        "product_instances_on_cssm": 0,
    }
    bodies.validate_body("SyncResponse", body)  # a response from before these fields
    agreement = {
        "version": 2,
        "title": "T",
        "text": "x",
        "digest": "0" * 64,
        "published_on": "2026-01-01",
        "accepted": False,
    }
    bodies.validate_body("SyncResponse", {**body, "agreement": agreement, "onprem_status": "removed"})
    with pytest.raises(SchemaError, match=r"body.agreement: unknown field\(s\): url"):
        bodies.validate_body("SyncResponse", {**body, "agreement": {**agreement, "url": "x"}})
    with pytest.raises(SchemaError, match="body.onprem_status: must be one of"):
        bodies.validate_body("SyncResponse", {**body, "onprem_status": "gone"})
    with pytest.raises(SchemaError, match=r"body.notices\[0\].code"):
        bodies.validate_body("SyncResponse", {**body, "notices": [{"code": "other", "text": "x"}]})


def test_the_emulator_commands_refuse_what_they_cannot_do(cssm):
    with pytest.raises(CommandError, match="needs --agreement-text"):
        emulator_command(cssm, "--publish-agreement", "2")
    with pytest.raises(CommandError, match="positive integer"):
        emulator_command(cssm, "--publish-agreement", "0", "--agreement-text", "x")
    with pytest.raises(CommandError, match="No SSM On-Prem with UID nope"):
        emulator_command(cssm, "--unregister-onprem", "nope")
    with pytest.raises(CommandError, match="No SSM On-Prem with UID nope"):
        emulator_command(cssm, "--note", "nope", "text")

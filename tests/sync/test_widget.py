"""The Synchronization widget and the registration actions of the Accounts widget."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.roles import SystemRole
from core import pki
from core.models import Event
from licensing.models import LocalAccount
from sync.documents.rejections import MSG_NOT_YAML
from sync.models import AccountSync, SyncRecord, SyncSettings
from tests.sync.sync_helpers import CCO_PASSWORD, CCO_USER

pytestmark = pytest.mark.django_db
LIST = "/admin/sync/"


@pytest.fixture
def fake_registered(make_account):
    """fake_registered(name) -> an Active account with a sync state (no CSSM needed: list pages only)."""

    def _make(name):
        account = make_account(name)
        key, cert = pki.new_signing_authority(common_name=name, organizational_unit="test", now=timezone.now())
        AccountSync.objects.create(
            account=account,
            uid=uuid.uuid4().hex,
            onprem_name=name,
            registered_at=timezone.now(),
            id_private_key=pki.private_key_pem(key),
            id_certificate_pem=pki.certificate_pem(cert),
            last_sync_at=timezone.now(),
            last_sync_result="success",
            last_sync_type="full",
            last_sync_mode="online",
        )
        return account

    return _make


@pytest.mark.parametrize("role,status", [(SystemRole.ADMIN, 200), (SystemRole.OPERATOR, 200), (SystemRole.USER, 403)])
def test_rbac(make_user, login, fake_registered, role, status):
    account = fake_registered("Acme")
    client = login(make_user(f"u-{role}", role))
    for url in (
        LIST,
        f"{LIST}schedules/",
        f"{LIST}history/",
        f"{LIST}{account.pk}/",
        f"{LIST}{account.pk}/status.json",
        f"{LIST}history/export.csv",
    ):
        assert client.get(url).status_code == status, url
    response = client.post(f"{LIST}{account.pk}/request/", {"sync_type": "full"})
    assert response.status_code == status
    assert SyncRecord.objects.filter(account=account).exists() == (status == 200)
    response = client.post(f"{LIST}schedules/", {"form": "privacy", "privacy_hostname": "on"})
    assert response.status_code == (403 if status == 403 else 302)
    assert SyncSettings.objects.filter(privacy_hostname=True).exists() == (status == 200)


def test_widget_is_on_the_admin_grid(login, sysadmin, make_user):
    assert "/admin/sync/" in login(sysadmin).get("/admin/").content.decode()
    login(make_user("plain", SystemRole.USER))


def test_list_query_count_does_not_grow(
    login, sysadmin, fake_registered, django_assert_max_num_queries, django_assert_num_queries, monkeypatch
):
    monkeypatch.setattr("accounts.middleware.now", lambda: 1_800_000_000.0)
    client = login(sysadmin)
    client.get(LIST)
    for index in range(3):
        fake_registered(f"Few {index}")
    with django_assert_num_queries(5) as few:
        response = client.get(LIST)
    assert response.status_code == 200
    for index in range(40):
        fake_registered(f"Many {index:02d}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(LIST, {"sort": "-last_sync", "page": 2})
    assert response.content.decode().count('<th scope="row"><a href="/admin/sync/') == 43 - 25
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(f"{LIST}history/")


def test_sync_now_runs_through_celery_and_reports_progress(registered_account, login, sysadmin):
    account = registered_account()
    client = login(sysadmin)
    response = client.post(f"{LIST}{account.pk}/now/", {"sync_type": "full"})
    assert response.status_code == 302
    status = client.get(f"{LIST}{account.pk}/status.json").json()
    assert status["status"] == "idle" and status["last_sync_result"] == "success"
    assert status["message"].startswith("Synchronization Successful")
    page = client.get(f"{LIST}{account.pk}/").content.decode()
    assert "Synchronization Successful" in page and AccountSync.objects.get(account=account).uid in page


def test_manual_sync_download_and_upload(registered_account, login, sysadmin, use_cssm, tmp_path):
    account = registered_account()
    client = login(sysadmin)
    response = client.post(f"{LIST}{account.pk}/request/", {"sync_type": "standard"})
    assert response.status_code == 200 and response["Content-Type"].startswith("application/yaml")
    name = response["Content-Disposition"].split('filename="')[1].rstrip('"')
    (tmp_path / name).write_bytes(response.content)
    answer = use_cssm.process_file(tmp_path / name, tmp_path / "answer.yml")
    bad = client.post(f"{LIST}{account.pk}/response/", {"file": SimpleUploadedFile("answer.txt", answer)}, follow=True)
    assert MSG_NOT_YAML in bad.content.decode()
    good = client.post(f"{LIST}{account.pk}/response/", {"file": SimpleUploadedFile("answer.yml", answer)}, follow=True)
    assert "Synchronization Successful" in good.content.decode()
    assert SyncRecord.objects.filter(account=account, result="success", mode="manual").exists()


def test_schedule_form_and_account_settings(login, sysop, fake_registered):
    account = fake_registered("Acme")
    client = login(sysop)
    response = client.post(
        f"{LIST}schedules/",
        {
            "form": "schedule",
            "scheduled_enabled": "on",
            "frequency": "weekly",
            "hour": "3",
            "minute": "30",
            "day_of_week": "2",
            "day_of_month": "1",
        },
    )
    assert response.status_code == 302
    config = SyncSettings.objects.get(pk=1)
    assert (config.frequency, config.hour, config.minute, config.day_of_week) == ("weekly", 3, 30, 2)
    bad = client.post(
        f"{LIST}schedules/",
        {
            "form": "schedule",
            "frequency": "weekly",
            "hour": "24",
            "minute": "0",
            "day_of_week": "0",
            "day_of_month": "1",
        },
    )
    assert bad.status_code == 200 and SyncSettings.objects.get(pk=1).hour == 3
    client.post(f"{LIST}{account.pk}/scheduled/", {"enabled": "0"})
    client.post(f"{LIST}{account.pk}/privacy/", {"override": "on", "privacy_mac_address": "on"})
    state = AccountSync.objects.get(account=account)
    assert state.sync_disabled and state.privacy_override and state.privacy_mac_address
    assert not state.privacy_hostname
    assert Event.objects.filter(event_type="sync.account_settings_changed", account=account).count() == 2


def test_accounts_widget_registration_actions(use_cssm, pending_account, login, sysadmin, tmp_path):
    client = login(sysadmin)
    account = pending_account()
    page = client.get("/admin/accounts/").content.decode()
    assert f"/admin/accounts/{account.pk}/register/" in page and "Manual Registration" in page
    # online, wrong password: an error, still pending; the password is never shown back
    response = client.post(
        f"/admin/accounts/{account.pk}/register/", {"username": CCO_USER, "password": "nope"}, follow=True
    )
    assert "Invalid username or password" in response.content.decode()
    assert "nope" not in response.content.decode()
    response = client.post(
        f"/admin/accounts/{account.pk}/register/", {"username": CCO_USER, "password": CCO_PASSWORD}, follow=True
    )
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.ACTIVE

    # manual registration page: generate, then upload
    other = pending_account()
    url = f"/admin/accounts/{other.pk}/manual-registration/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"action": "generate"})
    assert response.status_code == 200 and b"RegistrationRequest" in response.content
    (tmp_path / "reg.yml").write_bytes(response.content)
    authorization = use_cssm.process_file(tmp_path / "reg.yml", tmp_path / "auth.yml")
    response = client.post(url, {"action": "upload", "file": SimpleUploadedFile("auth.yml", authorization)})
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.status == LocalAccount.Status.ACTIVE


def test_accounts_widget_delete_and_request_approval(use_cssm, make_user, login, sysadmin):
    from licensing.services.accounts import deactivate_account, request_account

    client = login(sysadmin)
    requested = request_account(
        actor=make_user("asker"),
        name=f"Req {uuid.uuid4().hex[:6]}",
        cisco_smart_account="acme.example",
        cisco_virtual_account="Lab",
    )
    response = client.post(
        f"/admin/accounts/requests/{requested.pk}/approve-register/", {"username": CCO_USER, "password": CCO_PASSWORD}
    )
    assert response.status_code == 302
    requested.refresh_from_db()
    assert requested.status == LocalAccount.Status.ACTIVE
    deactivate_account(actor=sysadmin, account=requested, reason="bye")
    client.post(f"/admin/accounts/{requested.pk}/delete/")
    assert not LocalAccount.objects.filter(pk=requested.pk).exists()


def test_approve_with_a_failed_registration_says_the_request_stands(
    use_cssm, make_user, login, sysadmin, pending_account, tmp_path
):
    from licensing.services.accounts import request_account

    client = login(sysadmin)
    requested = request_account(
        actor=make_user("asker"),
        name=f"Req {uuid.uuid4().hex[:6]}",
        cisco_smart_account="acme.example",
        cisco_virtual_account="Lab",
    )
    response = client.post(
        f"/admin/accounts/requests/{requested.pk}/approve-register/",
        {"username": CCO_USER, "password": "nope"},
        follow=True,
    )
    assert response.redirect_chain == [("/admin/accounts/", 302)]
    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert len(shown) == 1 and shown[0][0] == "error", shown
    assert shown[0][1].startswith(
        f"The request for “{requested.name}” was approved, but the registration with "
        "Cisco Smart Software Manager failed: Invalid username or password"
    ), shown
    requested.refresh_from_db()
    assert requested.status == LocalAccount.Status.PENDING_REGISTRATION

    # A refused authorization file is shown on the upload field, whatever the refusal is about.
    other = pending_account()
    response = client.post(
        f"/admin/accounts/{other.pk}/manual-registration/",
        {"action": "upload", "file": SimpleUploadedFile("auth.yml", b"not: a document")},
    )
    assert response.status_code == 200
    errors = response.context["upload_form"].errors
    assert list(errors) == ["file"] and errors["file"], errors
    other.refresh_from_db()
    assert other.status == LocalAccount.Status.PENDING_REGISTRATION


def test_sysuser_cannot_use_the_registration_actions(make_user, login, pending_account):
    account = pending_account()
    client = login(make_user("plain", SystemRole.USER))
    assert client.post(f"/admin/accounts/{account.pk}/register/", {"username": "a", "password": "b"}).status_code == 403
    assert client.get(f"/admin/accounts/{account.pk}/manual-registration/").status_code == 403

"""The guide's A.5 "Events that Trigger Email Notifications": each of the 16 events, done by its
service, mails the right people with the guide's name as the subject. The mail goes the way it
does in production: the event commits, ``accounts.notifications`` queues the Celery task
``onprem.send_mail`` (eager in the tests) and Django's SMTP backend delivers it to a real SMTP
listener (aiosmtpd)."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from accounts.notifications import A5_NOTIFICATIONS, EMAIL_EVENTS, OTHER_NOTIFICATIONS, SUBJECT_PREFIX
from accounts.roles import AccountRole, SystemRole
from accounts.services import certificate_actions, grants, groups, password_policy, password_reset, users
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.services import accounts as account_service
from licensing.services.virtual_accounts import delete_virtual_account

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Blue-Kettle-Orbit-77"


@pytest.fixture
def mailbox(smtp_server, settings):
    settings.EMAIL_BACKEND = "core.mail.SettingsEmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server.port
    return smtp_server


@pytest.fixture
def browser():
    """browser(user) -> a test client signed in as ``user``."""

    def _browser(user):
        client = Client()
        client.force_login(user)
        return client

    return _browser


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """``with committed():`` runs what the block's transactions do on commit (the mails)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def people(make_user, grant_role, acme):
    """System staff, an Account Admin of Acme, a plain user and a bystander, each with an address."""
    found = {
        "admin": make_user("sa", SystemRole.ADMIN, email="sa@example.com"),
        "operator": make_user("op", SystemRole.OPERATOR, email="op@example.com"),
        "acme_admin": make_user("alice", email="alice@acme.example"),
        "bob": make_user("bob", email="bob@acme.example"),
        "bystander": make_user("zed", email="zed@example.com"),
    }
    grant_role(found["acme_admin"], acme, AccountRole.ACCOUNT_ADMIN)
    return found


def received(mailbox, name, count):
    """The mails with the A.5 ``name`` as their subject, once ``count`` mails have arrived."""
    mails = mailbox.wait_for(count)
    return [mail for mail in mails if mail.subject.startswith(SUBJECT_PREFIX + name)]


def recipients_of(mails):
    return sorted(address for mail in mails for address in mail.recipients)


def test_the_mapping_holds_every_a5_event_once():
    assert len(A5_NOTIFICATIONS) == 16
    names = {notification.name for notification in EMAIL_EVENTS.values()}
    assert names == set(A5_NOTIFICATIONS) | set(OTHER_NOTIFICATIONS)
    from core.events import CATALOGUE

    assert set(EMAIL_EVENTS) <= set(CATALOGUE)


# --- User groups ----------------------------------------------------------------------------------


def test_user_group_created_and_deleted_mail_the_account_admins(acme, people, mailbox, committed):
    with committed():
        team = groups.create_group(actor=people["acme_admin"], account=acme, name="Team")
    (mail,) = received(mailbox, "User Group Created", 1)
    assert mail.subject == "Smart Software Manager On-Prem: User Group Created"
    assert mail.recipients == ["alice@acme.example"]
    assert "User group “Team” was created." in mail.body
    with committed():
        groups.delete_group(actor=people["acme_admin"], group=team)
    (mail,) = received(mailbox, "User Group Deleted", 2)
    assert mail.recipients == ["alice@acme.example"] and "User group “Team” was removed." in mail.body


def test_member_added_and_removed_mail_the_member(acme, people, mailbox, committed):
    team = groups.create_group(actor=None, account=acme, name="Team")
    with committed():
        membership = groups.add_member(actor=people["acme_admin"], group=team, user=people["bob"])
    (mail,) = received(mailbox, "User Group Member Added", 1)
    assert mail.recipients == ["bob@acme.example"]
    assert "User “bob” was added to user group “Team”." in mail.body
    with committed():
        groups.remove_member(actor=people["acme_admin"], membership=membership)
    (mail,) = received(mailbox, "User Group Member Removed", 2)
    assert mail.recipients == ["bob@acme.example"]


def test_members_added_by_an_upload_are_mailed_too(acme, people, mailbox, committed):
    team = groups.create_group(actor=None, account=acme, name="Team")
    with committed():
        errors = groups.import_members_csv(
            actor=people["acme_admin"], group=team, file_content=b'"user_id","is_owner"\nbob,false\nzed,true\n'
        )
    assert errors == []
    mails = received(mailbox, "User Group Member Added", 2)
    assert recipients_of(mails) == ["bob@acme.example", "zed@example.com"]


# --- Send Message to User Group ------------------------------------------------------------------


@pytest.fixture
def team(acme, people, make_user):
    team = groups.create_group(actor=None, account=acme, name="Team")
    groups.add_member(actor=None, group=team, user=people["bob"])
    groups.add_member(actor=None, group=team, user=make_user("carol", email="carol@acme.example"))
    groups.add_member(actor=None, group=team, user=make_user("dave", email="dave@acme.example", is_active=False))
    groups.add_member(actor=None, group=team, user=make_user("erin"))  # no address
    return team


def test_send_message_mails_each_reachable_member_from_the_user_groups_page(
    acme, people, team, mailbox, committed, browser
):
    client = browser(people["acme_admin"])
    page = client.get(f"/accounts/{acme.pk}/manage/user-groups/").content.decode()
    assert f"/accounts/{acme.pk}/manage/user-groups/{team.pk}/#send-message" in page
    page = client.get(f"/accounts/{acme.pk}/manage/user-groups/{team.pk}/").content.decode()
    assert 'id="send-message"' in page and "mailed to the 2 enabled members" in page
    with committed():
        response = client.post(
            f"/accounts/{acme.pk}/manage/user-groups/{team.pk}/message/",
            {"subject": "Maintenance tonight", "message": "The license server restarts at 22:00.\nSave your work."},
            follow=True,
        )
    assert response.status_code == 200
    assert "The message was sent to 2 members of “Team”." in response.content.decode()
    mails = received(mailbox, "User Group Send Message", 2)
    # One mail each: a member does not see the other members' addresses.
    assert sorted(mail.recipients for mail in mails) == [["bob@acme.example"], ["carol@acme.example"]]
    for mail in mails:
        assert mail.subject == "Smart Software Manager On-Prem: User Group Send Message: Maintenance tonight"
        assert mail.body.startswith("The license server restarts at 22:00.\nSave your work.\n")
        assert "Sent by “alice” to the members of the user group “Team” of the local account “Acme”." in mail.body
    event = Event.objects.get(event_type="group.message_sent")
    assert event.message == "The message “Maintenance tonight” was sent to 2 member(s) of user group “Team” by “alice”."
    assert event.account == acme and event.user == people["acme_admin"]


def test_send_message_is_for_account_admins_only(acme, people, team, mailbox, committed, browser, grant_role):
    grant_role(people["bystander"], acme, AccountRole.ACCOUNT_USER)
    with committed():
        response = browser(people["bystander"]).post(
            f"/accounts/{acme.pk}/manage/user-groups/{team.pk}/message/", {"subject": "Hi", "message": "Spam"}
        )
        assert response.status_code == 403
        with pytest.raises(NotAllowed):
            groups.send_message(actor=people["bob"], group=team, subject="Hi", message="Spam")
    assert not Event.objects.filter(event_type="group.message_sent").exists()
    assert mailbox.wait_for(1, timeout=1) == []


def test_send_message_of_another_account_is_not_found(acme, make_account, people, team, browser, grant_role):
    other = make_account("Globex")
    boss = people["bystander"]
    grant_role(boss, other, AccountRole.ACCOUNT_ADMIN)
    response = browser(boss).post(
        f"/accounts/{other.pk}/manage/user-groups/{team.pk}/message/", {"subject": "Hi", "message": "Hello"}
    )
    assert response.status_code == 404
    assert not Event.objects.filter(event_type="group.message_sent").exists()


def test_send_message_needs_a_subject_a_message_and_someone_to_reach(acme, people, team, browser, make_user):
    client = browser(people["acme_admin"])
    url = f"/accounts/{acme.pk}/manage/user-groups/{team.pk}/message/"
    response = client.post(url, {"subject": "", "message": "Hello"})
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    with pytest.raises(ServiceError, match="Enter a message"):
        groups.send_message(actor=people["acme_admin"], group=team, subject="Hi", message="   ")
    empty = groups.create_group(actor=None, account=acme, name="Quiet")
    groups.add_member(actor=None, group=empty, user=make_user("nomail"))
    response = client.post(
        f"/accounts/{acme.pk}/manage/user-groups/{empty.pk}/message/", {"subject": "Hi", "message": "x"}
    )
    assert response.status_code == 400
    assert "No enabled member of the user group “Quiet” has an email address." in response.content.decode()
    assert not Event.objects.filter(event_type="group.message_sent").exists()


# --- Local virtual accounts and local accounts ---------------------------------------------------


def test_license_pool_removed_mails_the_account_admins(acme, people, new_va, mailbox, committed):
    spare = new_va("Spare")
    with committed():
        delete_virtual_account(actor=people["acme_admin"], virtual_account=spare)
    (mail,) = received(mailbox, "License Pool removed", 1)
    assert mail.recipients == ["alice@acme.example"]
    assert "The Virtual Account “Spare” has been deleted" in mail.body


def test_account_deactivated_and_reactivated_mail_the_account_admins(acme, people, mailbox, committed):
    with committed():
        account_service.deactivate_account(actor=people["admin"], account=acme, reason="Contract paused")
    (mail,) = received(mailbox, "Account Deactivated", 1)
    assert mail.recipients == ["alice@acme.example"] and "Reason: Contract paused" in mail.body
    with committed():
        account_service.activate_account(actor=people["admin"], account=acme)
    (mail,) = received(mailbox, "Account Reactivated", 2)
    assert mail.recipients == ["alice@acme.example"]


def _request(people, name="Rita Corp"):
    return account_service.request_account(
        actor=people["bob"], name=name, cisco_smart_account="Rita SA", cisco_virtual_account="Rita VA"
    )


def test_account_request_pending_mails_system_staff_and_the_requester(people, mailbox, committed):
    with committed():
        _request(people)
    (mail,) = received(mailbox, "Account Request Pending", 1)
    assert mail.recipients == ["bob@acme.example", "op@example.com", "sa@example.com"]
    assert "The user “bob” requested the local account “Rita Corp”." in mail.body


def test_account_request_accepted_mails_the_requester(people, mailbox, committed):
    account = _request(people)
    with committed():
        account_service.approve_account_request(actor=people["admin"], account=account)
    (mail,) = received(mailbox, "Account Request Accepted", 1)
    assert mail.recipients == ["bob@acme.example"]


def test_account_request_rejected_mails_the_requester_with_the_reason(people, mailbox, committed):
    account = _request(people)
    with committed():
        account_service.reject_account_request(actor=people["admin"], account=account, reason="Duplicate")
    (mail,) = received(mailbox, "Account Request Rejected", 1)
    assert mail.recipients == ["bob@acme.example"] and "Reason: Duplicate" in mail.body


# --- Roles and passwords -------------------------------------------------------------------------


def test_user_role_modified_mails_the_user_or_the_groups_members(acme, people, mailbox, committed):
    with committed():
        grant = grants.set_account_role(
            actor=people["acme_admin"], account=acme, role=AccountRole.ACCOUNT_USER, user=people["bob"]
        )
    (mail,) = received(mailbox, "User Role Modified", 1)
    assert mail.recipients == ["bob@acme.example"]
    assert "The user “bob” was assigned the role “Account User”." in mail.body
    with committed():
        grants.revoke_grant(actor=people["acme_admin"], grant=grant)
    assert recipients_of(received(mailbox, "User Role Modified", 2)) == ["bob@acme.example"] * 2
    team = groups.create_group(actor=None, account=acme, name="Team")
    groups.add_member(actor=None, group=team, user=people["bob"])
    groups.add_member(actor=None, group=team, user=people["bystander"])
    with committed():
        grants.set_account_role(actor=people["acme_admin"], account=acme, role=AccountRole.ACCOUNT_USER, group=team)
    mails = received(mailbox, "User Role Modified", 3)
    assert mails[-1].recipients == ["bob@acme.example", "zed@example.com"]


def test_a_system_role_change_mails_the_user(people, mailbox, committed):
    with committed():
        users.change_system_role(actor=people["admin"], user=people["bob"], system_role=SystemRole.OPERATOR)
    (mail,) = received(mailbox, "User Role Modified", 1)
    assert mail.recipients == ["bob@acme.example"]
    assert "The system role of the user “bob” was changed to “System Operator”." in mail.body


def test_password_expiration_notification_mails_the_user(people, mailbox, committed):
    from accounts.security_models import SecurityPolicy

    SecurityPolicy.objects.update_or_create(
        pk=1,
        defaults={
            "expiration_enabled": True,
            "expiration_days": 60,
            "expiration_email_enabled": True,
            "expiration_email_days": 5,
        },
    )
    bob = people["bob"]
    bob.password_changed_at = timezone.now() - datetime.timedelta(days=57)
    bob.save(update_fields=["password_changed_at"])
    with committed():
        assert password_policy.send_expiration_notices() == 1
    (mail,) = received(mailbox, "User Password Expiration Notification", 1)
    assert mail.recipients == ["bob@acme.example"] and "your password for the license server expires on" in mail.body


def test_activation_of_the_reset_code_mails_the_user(people, mailbox, committed):
    with committed():
        assert password_reset.send_link("bob", "https://onprem.example/", "en") is True
    (mail,) = received(mailbox, "Activation of the code for resetting a password", 1)
    assert mail.recipients == ["bob@acme.example"]
    assert "https://onprem.example/password/reset/" in mail.body


def test_notification_of_password_update_mails_the_user(people, mailbox, committed):
    with committed():
        users.change_password(user=people["bob"], new_password=NEW_PASSWORD)
    (mail,) = received(mailbox, "Notification of password update", 1)
    assert mail.recipients == ["bob@acme.example"]
    assert "The password of the user “bob” was changed." in mail.body
    assert "If you did not expect this change, tell your administrator." in mail.body
    with committed():
        users.reset_password(actor=people["admin"], user=people["bob"], new_password="Other-Kettle-Orbit-88")
    (mail,) = received(mailbox, "Notification of password update", 2)[1:]
    assert mail.recipients == ["bob@acme.example"] and "was reset by an administrator" in mail.body


# --- Certificate Signing Request -----------------------------------------------------------------


def test_a_certificate_signing_request_is_mailed_to_the_system_admins(people, mailbox, committed):
    with committed():
        pem = certificate_actions.create_csr(
            actor=people["admin"], key_size=2048, common_name="onprem.example.com", organization="Acme"
        )
    (mail,) = received(mailbox, "Certificate Signing Request", 1)
    assert mail.recipients == ["sa@example.com"]  # System Admins only: operators cannot import it
    assert pem.strip() in mail.body
    ((filename, content_type, text),) = mail.attachments()
    assert filename == "onprem.example.com.csr" and content_type == "application/pkcs10"
    assert text.strip() == pem.strip() and "PRIVATE KEY" not in mail.text

"""Settings widget: each tab saves through the service, RBAC, and the settings take effect for
real: UDP datagrams on a real socket, mail through a real SMTP listener, the banner, the login
page, the message of the day, the display time zone and the default language."""

import socket
from datetime import datetime
from datetime import timezone as dt_timezone

import pytest

from accounts.roles import SystemRole
from core import crypto, events
from core.models import Event, SystemSettings
from core.system_settings import current
from tests.factories import PASSWORD

EMAIL_POST = {
    "smtp_host": "127.0.0.1",
    "smtp_port": "25",
    "smtp_helo_domain": "onprem.example.com",
    "smtp_from": "license-server@example.com",
    "smtp_username": "",
    "smtp_password": "",
}


@pytest.mark.parametrize("tab", ["messaging", "syslog", "language", "email", "time", "motd"])
def test_every_tab_opens_for_admins_and_read_only_for_operators(tab, sysadmin, sysop, client):
    client.login(username=sysadmin.username, password=PASSWORD)
    html = client.get(f"/admin/settings/{tab}/").content.decode()
    assert 'type="submit">Save' in html and " disabled" not in html
    client.logout()
    client.login(username=sysop.username, password=PASSWORD)
    response = client.get(f"/admin/settings/{tab}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "only a System Administrator can change them" in html and " disabled" in html
    assert 'type="submit">Save' not in html


def test_operator_cannot_save_and_system_user_cannot_open(sysop, make_user, client):
    client.login(username=sysop.username, password=PASSWORD)
    assert (
        client.post(
            "/admin/settings/messaging/",
            {"banner_text": "x", "banner_text_color": "#000000", "banner_background_color": "#ffffff"},
        ).status_code
        == 403
    )
    assert not SystemSettings.objects.exists()
    client.logout()
    client.login(username=make_user("plain", SystemRole.USER).username, password=PASSWORD)
    assert client.get("/admin/settings/").status_code == 403


def test_unknown_tab_is_404(admin_client):
    assert admin_client.get("/admin/settings/ntp-magic/").status_code == 404


def test_banner_on_every_page_and_on_login_only_when_chosen(admin_client, client):
    response = admin_client.post(
        "/admin/settings/messaging/",
        {
            "banner_text": "Lab server: licenses here are not for production",
            "banner_text_color": "#ffffff",
            "banner_background_color": "#0000aa",
            "login_message": "Authorised staff only.",
        },
    )
    assert response.status_code == 302
    html = admin_client.get("/").content.decode()
    assert "Lab server: licenses here are not for production" in html
    # The colours travel in data- attributes (strict CSP, no inline style; static/onprem/onprem.js applies them).
    assert 'data-text-color="#ffffff" data-background-color="#0000aa"' in html
    assert Event.objects.filter(event_type="settings.messaging_changed").count() == 1
    admin_client.post("/logout/")
    login_page = client.get("/login/").content.decode()
    assert "Authorised staff only." in login_page
    assert "Lab server" not in login_page  # "Display Message?" was not chosen
    SystemSettings.objects.filter(pk=1).update(banner_on_login=True)
    from core.system_settings import forget_cached

    forget_cached()
    assert "Lab server" in client.get("/login/").content.decode()


def test_bad_colour_is_refused_and_nothing_is_written(admin_client):
    response = admin_client.post(
        "/admin/settings/messaging/",
        {
            "banner_text": "Hello",
            "banner_text_color": "#12345g",
            "banner_background_color": "#000000",
        },
    )
    assert response.status_code == 200
    assert "Enter a colour as #rrggbb." in response.content.decode()
    response = admin_client.post(
        "/admin/settings/messaging/",
        {
            "banner_text": "Hello",
            "banner_text_color": "red;background:url(x)",
            "banner_background_color": "#000000",
        },
    )
    assert response.status_code == 200
    assert not SystemSettings.objects.exists() and current().banner_text == ""


def test_bad_ports_are_refused(admin_client):
    response = admin_client.post(
        "/admin/settings/syslog/", {"syslog_enabled": "on", "syslog_host": "127.0.0.1", "syslog_port": "70000"}
    )
    assert response.status_code == 200 and not SystemSettings.objects.exists()
    response = admin_client.post(
        "/admin/settings/syslog/", {"syslog_enabled": "on", "syslog_host": "", "syslog_port": "514"}
    )
    assert "Enter the Syslog Server Address." in response.content.decode()
    assert not SystemSettings.objects.exists()


@pytest.fixture
def udp_collector():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


def test_events_reach_a_real_syslog_collector_with_the_guide_severities(
    admin_client, sysadmin, udp_collector, django_capture_on_commit_callbacks
):
    port = udp_collector.getsockname()[1]
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            admin_client.post(
                "/admin/settings/syslog/",
                {"syslog_enabled": "on", "syslog_host": "127.0.0.1", "syslog_port": str(port)},
            ).status_code
            == 302
        )
    first, _ = udp_collector.recvfrom(9000)  # the change itself is an event (INFO)
    assert first.startswith(b"<134>1 ") and b"INFO: The syslog settings were changed by" in first

    with django_capture_on_commit_callbacks(execute=True):
        events.record("user.disabled", actor=sysadmin, user_name="mallory")  # WARN
    datagram, _ = udp_collector.recvfrom(9000)
    line = datagram.decode()
    assert line.startswith("<132>1 ")  # local0 (16) * 8 + warning (4)
    assert " ssm-onprem - user.disabled - WARN: The user “mallory” was disabled." in line

    with django_capture_on_commit_callbacks(execute=True):
        events.record("pi.failed_to_renew", actor=None, identifier="edge-7", pool_name="Sales")  # ALERT
    datagram = udp_collector.recvfrom(9000)[0]
    assert datagram.startswith(b"<129>1 ")  # local0 * 8 + alert (1)
    assert b"ALERT: The product instance \xe2\x80\x9cedge-7\xe2\x80\x9d in the Virtual Account" in datagram


def test_nothing_is_sent_while_remote_logging_is_off(
    admin_client, sysadmin, udp_collector, django_capture_on_commit_callbacks
):
    port = udp_collector.getsockname()[1]
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post("/admin/settings/syslog/", {"syslog_host": "127.0.0.1", "syslog_port": str(port)})
        events.record("user.disabled", actor=sysadmin, user_name="mallory")
    udp_collector.settimeout(0.5)
    with pytest.raises(socket.timeout):
        udp_collector.recvfrom(9000)


def test_a5_events_mail_the_requester_through_a_real_smtp_server(
    admin_client, sysadmin, make_user, smtp_server, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "core.mail.SettingsEmailBackend"
    response = admin_client.post("/admin/settings/email/", {**EMAIL_POST, "smtp_port": str(smtp_server.port)})
    assert response.status_code == 302
    from licensing.services.accounts import reject_account_request, request_account

    requester = make_user("rita", SystemRole.USER, email="rita@example.com")
    account = request_account(
        actor=requester, name="Rita Corp", cisco_smart_account="Rita SA", cisco_virtual_account="Rita VA"
    )
    with django_capture_on_commit_callbacks(execute=True):
        reject_account_request(actor=sysadmin, account=account, reason="Duplicate of Acme")
    mail = smtp_server.messages[-1]
    assert mail.helo == "onprem.example.com"  # the Email tab's HELO Domain
    assert mail.sender == "license-server@example.com" and mail.recipients == ["rita@example.com"]
    content = mail.text
    assert "Subject: Smart Software Manager On-Prem: Account Request Rejected" in content
    assert "The request for the local account “Rita Corp” was rejected by “sysadmin”." in content
    assert "Reason: Duplicate of Acme" in content


def test_smtp_password_is_encrypted_and_never_shown(admin_client):
    response = admin_client.post(
        "/admin/settings/email/",
        {**EMAIL_POST, "smtp_auth_required": "on", "smtp_username": "mailer", "smtp_password": "Tr0ub4dor&3"},
    )
    assert response.status_code == 302
    stored = SystemSettings.objects.get().smtp_password
    assert stored and "Tr0ub4dor" not in stored and crypto.decrypt(stored) == "Tr0ub4dor&3"
    html = admin_client.get("/admin/settings/email/").content.decode()
    assert "Tr0ub4dor" not in html and stored not in html and "A password is saved." in html
    # Saving again with the field empty keeps the password.
    admin_client.post("/admin/settings/email/", {**EMAIL_POST, "smtp_auth_required": "on", "smtp_username": "mailer"})
    assert crypto.decrypt(SystemSettings.objects.get().smtp_password) == "Tr0ub4dor&3"


def test_authentication_needs_username_and_password(admin_client):
    response = admin_client.post(
        "/admin/settings/email/", {**EMAIL_POST, "smtp_auth_required": "on", "smtp_username": "mailer"}
    )
    assert response.status_code == 200
    assert "needs a username and a password" in response.content.decode()
    assert not SystemSettings.objects.exists()


def test_email_from_must_be_an_address(admin_client):
    response = admin_client.post("/admin/settings/email/", {**EMAIL_POST, "smtp_from": "not-an-address"})
    assert response.status_code == 200 and not SystemSettings.objects.exists()


def test_time_zone_changes_display_only(admin_client, sysadmin):
    event = events.record("account.created", actor=sysadmin, account_name="tz-check")
    Event.objects.filter(pk=event.pk).update(created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt_timezone.utc))
    assert admin_client.post("/admin/settings/time/", {"time_zone": "Asia/Tokyo"}).status_code == 302
    html = admin_client.get("/admin/accounts/events/").content.decode()
    assert "2026-01-02 12:04" in html  # 03:04 UTC shown as 12:04 in Tokyo
    assert Event.objects.get(pk=event.pk).created_at.hour == 3  # storage unchanged
    assert admin_client.post("/admin/settings/time/", {"time_zone": "Mars/Olympus"}).status_code == 200
    assert current().time_zone == "Asia/Tokyo"


def test_default_language_applies_to_the_login_page(admin_client, client):
    assert admin_client.post("/admin/settings/language/", {"default_language": "ja"}).status_code == 302
    admin_client.post("/logout/")
    assert '<html lang="ja">' in client.get("/login/").content.decode()
    assert admin_client.post("/admin/settings/language/", {"default_language": "xx"}).status_code in (200, 302)


def test_message_of_the_day_after_login_and_before_login(admin_client, sysadmin, client):
    admin_client.post(
        "/admin/settings/motd/",
        {
            "message_of_the_day": "Maintenance on Friday 18:00",
            "before_login_message": "Welcome to the lab license server",
        },
    )
    admin_client.post("/logout/")
    assert "Welcome to the lab license server" in client.get("/login/").content.decode()
    response = client.post("/login/", {"username": sysadmin.username, "password": PASSWORD}, follow=True)
    assert "Maintenance on Friday 18:00" in response.content.decode()
    assert "Maintenance on Friday 18:00" not in client.get("/").content.decode()  # shown once


def test_a_mail_server_that_does_not_answer_makes_the_task_retry(settings, db):
    # Nothing listens on port 9: the send raises OSError, which the Celery task retries with backoff.
    settings.EMAIL_BACKEND = "core.mail.SettingsEmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9
    from core.mail import send
    from core.tasks import send_mail

    with pytest.raises(OSError):
        send("s", "b", ["x@example.com"])
    assert OSError in send_mail.autoretry_for and send_mail.max_retries == 8

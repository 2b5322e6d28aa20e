"""Forgot Password: the link arrives at a real SMTP server (aiosmtpd) and works once."""
import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from onprem.models import Event
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "Blue-Kettle-Orbit-77"


@pytest.fixture
def alice(make_user):
    return make_user("alice", email="alice@example.com")


@pytest.fixture
def forgot_on(policy):
    return policy(forgot_password_enabled=True)


def _link(message):
    body = message.get_payload(decode=True).decode()
    return re.search(r"https?://\S+/password/reset/\S+/", body).group(0)


def test_off_by_default(alice):
    client = Client()
    assert "Forgot Password" not in client.get("/login/").content.decode()
    assert client.get("/password/forgot/").status_code == 404


def test_link_is_mailed_and_works_once(alice, forgot_on, smtp_server):
    client = Client()
    assert "/password/forgot/" in client.get("/login/").content.decode()
    response = client.post("/password/forgot/", {"username": "alice"})
    assert response.status_code == 302
    (recipients, message), = smtp_server.wait_for(1)
    assert recipients == ["alice@example.com"]
    assert message["Subject"] == "Reset your password"
    link = _link(message)
    path = link.split("testserver", 1)[1]
    assert client.get(path).status_code == 200
    # The strength rules apply here too.
    response = client.post(path, {"new_password": "weak", "confirm_password": "weak"})
    assert response.status_code == 200 and "too short" in response.content.decode()
    response = client.post(path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    # Used once: the link is dead now.
    assert Client().get(path).status_code == 400
    response = Client().post(path, {"new_password": "Other-Kettle-88", "confirm_password": "Other-Kettle-88"})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    # The "password updated" notice follows.
    messages = smtp_server.wait_for(2)
    assert messages[1][1]["Subject"] == "Your password was changed"
    assert Client().post("/login/", {"username": "alice", "password": NEW_PASSWORD}).status_code == 302
    codes = set(Event.objects.values_list("event_type", flat=True))
    assert {"security.password_reset_requested", "security.password_reset_done"} <= codes


@pytest.mark.parametrize("username, fields", [
    ("nobody", {}),
    ("lara", {"source": "ldap", "email": "lara@example.com"}),
    ("noemail", {}),
    ("off", {"is_active": False, "email": "off@example.com"}),
])
def test_no_mail_for_unknown_external_disabled_or_mailless_users(make_user, forgot_on, smtp_server, username,
                                                                  fields):
    if username != "nobody":
        make_user(username, **fields)
    response = Client().post("/password/forgot/", {"username": username}, follow=True)
    # The same answer as for a real user: nobody learns which names exist.
    assert "a link to reset the password was sent" in response.content.decode()
    assert smtp_server.wait_for(1, timeout=1) == []


def test_a_second_request_within_minutes_sends_nothing_more(alice, forgot_on, smtp_server):
    Client().post("/password/forgot/", {"username": "alice"})
    Client().post("/password/forgot/", {"username": "alice"})
    assert len(smtp_server.wait_for(2, timeout=2)) == 1


def test_a_forged_token_is_refused(alice, forgot_on):
    response = Client().get("/password/reset/MQ/abc-123/")
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_forms_need_csrf(alice, forgot_on, smtp_server):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/password/forgot/", {"username": "alice"}).status_code == 403
    assert smtp_server.wait_for(1, timeout=1) == []

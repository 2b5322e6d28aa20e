"""Forgot Password: the link arrives at a real SMTP server (aiosmtpd) and works once."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from core.models import Event
from tests.factories import PASSWORD

# Committed for real: the mail (A.5 "Activation of the code for resetting a password") goes out
# when the event's transaction commits (accounts.notifications).
pytestmark = pytest.mark.django_db(transaction=True)
User = get_user_model()
NEW_PASSWORD = "Blue-Kettle-Orbit-77"


@pytest.fixture
def alice(make_user):
    return make_user("alice", email="alice@example.com")


@pytest.fixture
def forgot_on(policy):
    return policy(forgot_password_enabled=True)


def _open_link(client, path):
    """Open the mailed link as a browser does: its token goes into the session and the browser
    is sent on to the form's own address, which holds no token. Returns that address."""
    uidb64, token = path.split("/")[-3:-1]
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/password/reset/{uidb64}/set-password/"
    assert token not in response["Location"]
    return response["Location"]


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
    (mail,) = smtp_server.wait_for(1)
    recipients, message = mail.recipients, mail.message
    assert recipients == ["alice@example.com"]
    assert mail.subject == "Smart Software Manager On-Prem: Activation of the code for resetting a password"
    assert mail.body.startswith("Reset your password\n\nHello alice,")
    assert "/password/reset/" not in Event.objects.get(event_type="security.password_reset_requested").message
    link = _link(message)
    path = _open_link(client, link.split("testserver", 1)[1])
    assert client.get(path).status_code == 200
    # The strength rules apply here too.
    response = client.post(path, {"new_password": "weak", "confirm_password": "weak"})
    assert response.status_code == 200 and "too short" in response.content.decode()
    response = client.post(path, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    # Used once: the link is dead now, and so is the page it led to.
    assert Client().get(link.split("testserver", 1)[1]).status_code == 400
    assert client.get(path).status_code == 400
    response = Client().post(path, {"new_password": "Other-Kettle-88", "confirm_password": "Other-Kettle-88"})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    # The "password updated" notice follows.
    messages = smtp_server.wait_for(2)
    assert messages[1].subject == "Smart Software Manager On-Prem: Notification of password update"
    assert messages[1].recipients == ["alice@example.com"]
    assert Client().post("/login/", {"username": "alice", "password": NEW_PASSWORD}).status_code == 302
    codes = set(Event.objects.values_list("event_type", flat=True))
    assert {"security.password_reset_requested", "security.password_reset_done"} <= codes


@pytest.mark.parametrize(
    "username, fields",
    [
        ("nobody", {}),
        ("lara", {"source": "ldap", "email": "lara@example.com"}),
        ("noemail", {}),
        ("off", {"is_active": False, "email": "off@example.com"}),
    ],
)
def test_no_mail_for_unknown_external_disabled_or_mailless_users(make_user, forgot_on, smtp_server, username, fields):
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


# --- Known and unknown names cost the request the same work ---------------------------------------


@pytest.fixture
def spies(monkeypatch):
    """What the request itself does: queued link tasks, tokens made, mails queued or sent, password hashes."""
    from django.contrib.auth.hashers import get_hasher
    from django.contrib.auth.tokens import default_token_generator

    from accounts import tasks
    from core import mail

    calls = {"queued": [], "tokens": [], "mails": [], "hashes": []}

    def spy(owner, name, key):
        real = getattr(owner, name)

        def recorded(*args, **kwargs):
            calls[key].append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, recorded)

    # The task is only recorded, not run: what it does happens in the worker, after the answer.
    monkeypatch.setattr(tasks.send_password_reset_link, "delay", lambda *args: calls["queued"].append(args))
    spy(default_token_generator, "make_token", "tokens")
    spy(mail, "send_later", "mails")
    spy(mail, "send", "mails")
    hasher = get_hasher()  # the configured one (the tests' fast hasher)
    spy(type(hasher), "encode", "hashes")
    spy(type(hasher), "verify", "hashes")
    return calls


def _ask(username):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        response = Client().post("/password/forgot/", {"username": username})
    return response, [query["sql"] for query in captured.captured_queries]


@pytest.mark.parametrize("other", ["nobody", "noemail", "off", "lara"])
def test_a_known_and_any_other_name_cost_the_request_the_same_work(alice, make_user, forgot_on, spies, other):
    make_user("noemail")
    make_user("off", is_active=False, email="off@example.com")
    make_user("lara", source="ldap", email="lara@example.com")
    spies["hashes"].clear()
    known, known_queries = _ask("alice")
    unknown, unknown_queries = _ask(other)
    # The same queries (none of them about the user), the same answer, one queued task each, and
    # no token, hash or mail made while the user waits.
    assert known_queries == unknown_queries
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"]) == (302, "/login/")
    assert spies["queued"] == [("alice", "http://testserver/", "en"), (other, "http://testserver/", "en")]
    assert spies["tokens"] == spies["mails"] == spies["hashes"] == []
    assert not Event.objects.filter(event_type="security.password_reset_requested").exists()


def test_the_task_mails_only_real_local_users(alice, make_user, forgot_on, smtp_server):
    from accounts.tasks import send_password_reset_link

    make_user("noemail")
    assert send_password_reset_link("nobody", "https://onprem.example/", "en") is False
    assert send_password_reset_link("noemail", "https://onprem.example/", "en") is False
    assert send_password_reset_link("alice", "https://onprem.example/", "en") is True
    (mail,) = smtp_server.wait_for(1)
    recipients, message = mail.recipients, mail.message
    assert recipients == ["alice@example.com"]
    assert _link(message).startswith("https://onprem.example/password/reset/")


def test_the_mail_speaks_the_language_of_the_page(alice, forgot_on, smtp_server):
    from django.utils import translation

    from accounts.tasks import send_password_reset_link

    send_password_reset_link("alice", "https://onprem.example/", "ja")
    (mail,) = smtp_server.wait_for(1)
    body = mail.body
    with translation.override("ja"):
        heading = translation.gettext("Reset your password")
    assert heading != "Reset your password" and body.startswith(heading)


def test_with_the_broker_down_the_link_is_made_now(alice, forgot_on, smtp_server, monkeypatch):
    from kombu.exceptions import OperationalError

    from accounts import tasks

    def broker_down(*args):
        raise OperationalError("connection refused")

    monkeypatch.setattr(tasks.send_password_reset_link, "delay", broker_down)
    assert Client().post("/password/forgot/", {"username": "alice"}).status_code == 302
    (mail,) = smtp_server.wait_for(1)
    recipients = mail.recipients
    assert recipients == ["alice@example.com"]


def test_the_token_leaves_the_url_at_once(alice, forgot_on, smtp_server):
    """Django's PasswordResetConfirmView pattern: the link's token is kept in the session and the
    form lives at a URL without it, so no later request, page, Referer or log line carries it."""
    client = Client()
    client.post("/password/forgot/", {"username": "alice"})
    (mail,) = smtp_server.wait_for(1)
    message = mail.message
    link = _link(message).split("testserver", 1)[1]
    token = link.split("/")[-2]
    form_url = _open_link(client, link)
    page = client.get(form_url)
    assert page.status_code == 200 and token not in page.content.decode()
    assert page.wsgi_request.get_full_path() == form_url
    # The form's address is no credential by itself: without the session that opened the link it is refused.
    assert Client().get(form_url).status_code == 400
    response = Client().post(form_url, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)
    # With it, the password is set and the token leaves the session too.
    response = client.post(form_url, {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert token not in str(dict(client.session))
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)


def test_set_password_is_not_a_token(alice, forgot_on):
    client = Client()
    assert client.get("/password/reset/MQ/set-password/").status_code == 400

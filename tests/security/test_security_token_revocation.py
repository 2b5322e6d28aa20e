"""A password change or reset revokes the user's OAuth2 tokens: an API token got with the old
password stops working at once, whichever way the password was set (an administrator's reset, the
forgot-password link, the initial login wizard, the change service, Django's changepassword
command). Other users' tokens and client-credentials tokens stay."""

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from accounts.api_clients import ApiGrant
from accounts.services import api_grants
from accounts.services import users as user_service
from core.models import Event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "Blue-Kettle-Orbit-77"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def grants(db):
    api_grants.set_api_console(actor=None, enabled=True)
    people = api_grants.create_grant(actor=None, grant_type=ApiGrant.GrantType.PASSWORD, name="people")
    machine = api_grants.create_grant(actor=None, grant_type=ApiGrant.GrantType.CLIENT_CREDENTIALS, name="machine")
    return people, machine


def _token(grants, user=None, password=PASSWORD):
    people, machine = grants
    if user is None:
        grant, secret = machine
        body = {"grant_type": "client_credentials"}
    else:
        grant, secret = people
        body = {"grant_type": "password", "username": user.username, "password": password}
    response = Client().post(
        "/oauth/token", {**body, "client_id": grant.client_id, "client_secret": secret}, content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


def _works(token):
    return Client().get("/api/v1/accounts", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 200


@pytest.fixture
def tokens(grants, make_user):
    """alice's token (about to lose it), bob's and a client-credentials token (which stay)."""
    alice, bob = make_user("alice", email="alice@example.com"), make_user("bob")
    held = {"alice": _token(grants, alice), "bob": _token(grants, bob), "machine": _token(grants)}
    assert all(_works(token) for token in held.values())
    return alice, held


def _only_alice_lost_hers(held):
    assert not _works(held["alice"])
    assert _works(held["bob"]) and _works(held["machine"])
    assert not AccessToken.objects.filter(user__username="alice").exists()


def test_an_administrators_reset_in_the_users_widget(tokens, sysadmin, login, policy):
    alice, held = tokens
    policy(force_change_after_reset=False)  # the reset password is then simply the password
    response = login(sysadmin).post(
        f"/admin/users/{alice.pk}/password/", {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
    )
    assert response.status_code == 302
    _only_alice_lost_hers(held)
    assert Event.objects.filter(event_type="security.api_tokens_revoked", message__contains="alice").exists()


def test_the_forgot_password_link(tokens, policy, smtp_server, django_capture_on_commit_callbacks):
    alice, held = tokens
    policy(forgot_password_enabled=True)
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):  # the link's mail goes out on commit
        client.post("/password/forgot/", {"username": "alice"})
    (mail,) = smtp_server.wait_for(1)
    message = mail.message
    link = re.search(r"https?://testserver(/password/reset/\S+/)", message.get_payload(decode=True).decode()).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    response = client.post(
        form.redirect_chain[-1][0] if form.redirect_chain else link,
        {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    _only_alice_lost_hers(held)


def test_the_initial_login_wizard(tokens):
    alice, held = tokens
    alice.needs_first_login_wizard = True  # what an expired password (at_login) or a forced reset does
    alice.save(update_fields=["needs_first_login_wizard"])
    client = Client()
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert client.post("/welcome/language/", {"language": "en"}).status_code == 302
    assert (
        client.post("/welcome/password/", {"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}).status_code
        == 302
    )
    assert client.post("/welcome/certificate/", {"confirmed": "on"}).status_code == 302
    assert client.post("/welcome/review/").status_code == 302
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD) and not alice.needs_first_login_wizard
    _only_alice_lost_hers(held)


def test_the_change_password_service(tokens):
    alice, held = tokens
    user_service.change_password(user=alice, new_password=NEW_PASSWORD)
    _only_alice_lost_hers(held)


def test_djangos_changepassword_command(tokens, monkeypatch):
    alice, held = tokens
    monkeypatch.setattr(
        "django.contrib.auth.management.commands.changepassword.getpass.getpass", lambda prompt="": NEW_PASSWORD
    )
    call_command("changepassword", "alice", stdout=io.StringIO())
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    _only_alice_lost_hers(held)


def test_refresh_tokens_are_revoked_too(tokens, grants):
    alice, _held = tokens
    people, _machine = grants
    access = AccessToken.objects.get(user=alice)
    refresh = RefreshToken.objects.create(
        user=alice, application=people[0].application, token="r-alice", access_token=access
    )
    other = RefreshToken.objects.create(
        user=AccessToken.objects.get(user__username="bob").user, application=people[0].application, token="r-bob"
    )
    user_service.change_password(user=alice, new_password=NEW_PASSWORD)
    refresh.refresh_from_db()
    other.refresh_from_db()
    assert refresh.revoked is not None and refresh.revoked <= timezone.now() and refresh.access_token is None
    assert other.revoked is None


def test_a_new_token_with_the_new_password_works(tokens, grants):
    alice, _held = tokens
    user_service.change_password(user=alice, new_password=NEW_PASSWORD)
    assert _works(_token(grants, alice, NEW_PASSWORD))


def test_no_code_sets_a_password_but_the_one_service_function():
    """Every password change goes through accounts.services.users.store_password (which revokes
    the tokens); a new ``set_password()`` or ``.password =`` elsewhere would bypass it."""
    pattern = re.compile(r"\.set_password\(|\.password\s*=[^=]")
    found = []
    for package in ("accounts", "admin_widgets", "licensing", "onprem", "sync", "smart_agent", "bench"):
        for path in (ROOT / package).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line) and not line.lstrip().startswith("#"):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    # store_password itself, and create_user's hash of a brand-new row.
    assert sorted(entry.split(": ", 1)[1] for entry in found) == [
        "user.password = make_password(password)  # a new row: no history yet, no tokens to revoke",
        "user.password = make_password(raw) if encoded is None else encoded",
    ], found

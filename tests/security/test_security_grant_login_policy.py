"""The OAuth2 password grant applies every rule the login form applies (accounts/services/login_policy.py):
each situation is tried on the login form and at /oauth/token, and the grant never lets in a user the
form refuses, nor one the form would send into the wizard to change their password first."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from accounts.api_clients import ApiGrant
from accounts.security_models import UserLock
from accounts.services import api_grants, login_policy
from core.models import Event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def people(db):
    api_grants.set_api_console(actor=None, enabled=True)
    return api_grants.create_grant(actor=None, grant_type=ApiGrant.GrantType.PASSWORD, name="people")


@pytest.fixture
def alice(make_user):
    return make_user("alice")


def _token(people, username="alice", password=PASSWORD):
    grant, secret = people
    return Client().post(
        "/oauth/token",
        {
            "grant_type": "password",
            "client_id": grant.client_id,
            "client_secret": secret,
            "username": username,
            "password": password,
        },
        content_type="application/json",
    )


def _form(username="alice", password=PASSWORD):
    """(signed in?, the form's error text, where the first page after it leads)."""
    client = Client()
    response = client.post("/login/", {"username": username, "password": password})
    if response.status_code != 302:
        return False, " ".join(str(e) for e in response.context["form"].non_field_errors()), None
    after = client.get("/")
    return True, "", after.get("Location", "")


def _refused(response, *words):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_grant"
    for word in words:
        assert word in body["error_description"], body
    assert "access_token" not in body
    return body["error_description"]


def _expire(user, policy, clock, *, change_allowed):
    policy(expiration_enabled=True, expiration_days=30, change_after_expiry_allowed=change_allowed)
    user.password_changed_at = clock.now - datetime.timedelta(days=31)
    user.save(update_fields=["password_changed_at"])


def test_the_grant_works_for_a_user_the_form_lets_in(people, alice):
    assert _form() == (True, "", "")  # straight in: no wizard
    assert _token(people).status_code == 200


def test_expired_password_without_change_after_expiry(people, alice, policy, clock):
    _expire(alice, policy, clock, change_allowed=False)
    signed_in, error, _ = _form()
    assert not signed_in and "Your password has expired. Contact your administrator" in error
    _refused(_token(people), "Your password has expired. Contact your administrator")
    assert not AccessToken.objects.exists()


def test_expired_password_with_change_after_expiry_sends_the_script_to_the_web_ui(people, alice, policy, clock):
    _expire(alice, policy, clock, change_allowed=True)
    description = _refused(_token(people), "expired", "web UI")
    assert "change it" in description
    assert Event.objects.filter(event_type="security.login_refused_web_first").exists()
    # The form lets the same user in only into the wizard's password step.
    assert _form() == (True, "", "/welcome/language/")
    assert not AccessToken.objects.exists()


def test_pending_first_login_wizard_gets_no_token(people, make_user):
    make_user("newbie", wizard_done=False)
    _refused(_token(people, "newbie"), "web UI", "initial login")
    assert _form("newbie") == (True, "", "/welcome/language/")
    assert not AccessToken.objects.exists()


def test_forced_change_after_an_admin_reset_gets_no_token_with_the_admin_set_password(people, alice, sysadmin, policy):
    from accounts.services.users import reset_password

    policy(force_change_after_reset=True)
    reset_password(actor=sysadmin, user=alice, new_password="Admin-Knows-This-1")
    _refused(_token(people, password="Admin-Knows-This-1"), "web UI")
    assert not AccessToken.objects.exists()


def test_locked_user(people, alice, policy):
    policy(auto_lock_enabled=True, auto_lock_attempts=3, auto_lock_window_minutes=10)
    UserLock.objects.create(user=alice, locked_at=timezone.now())
    assert not _form()[0]
    _refused(_token(people), "locked")


def test_disabled_user(people, alice):
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    signed_in, error, _ = _form()
    assert not signed_in and "is disabled" in error
    _refused(_token(people), "is disabled")


@pytest.mark.parametrize("source", [User.Source.LDAP, User.Source.ADFS, User.Source.SSO])
def test_a_local_password_never_opens_a_user_of_another_source(people, make_user, source):
    # A password hash on the row (left from before, or set by mistake) is not the user's sign-in:
    # LDAP users sign in with the directory's password, ADFS and SSO users at their provider.
    make_user("ext", source=source)
    assert not _form("ext")[0]
    _refused(_token(people, "ext"))
    assert not AccessToken.objects.exists()


def test_error_hints_off_keep_the_grant_as_terse_as_the_form(people, alice, policy, clock):
    policy(login_error_hints=False)
    _expire(alice, policy, clock, change_allowed=False)
    assert _form()[1] == "Invalid username or password."
    assert _refused(_token(people)) == "Invalid username or password."
    assert _refused(_token(people, "nobody", "x")) == "Invalid username or password."


def test_a_nul_byte_in_the_name_is_a_refusal_not_an_error(people, alice):
    _refused(_token(people, "ali\x00ce"))


def test_the_form_and_the_grant_ask_the_same_rules(people, alice, monkeypatch):
    """One list of rules: a rule added to it refuses on both ways in."""

    def maintenance(attempt):
        return "Sign-ins are paused."

    monkeypatch.setattr(login_policy, "RULES", [*login_policy.RULES, maintenance])
    assert _form() == (False, "Sign-ins are paused.", None)
    assert _refused(_token(people)) == "Sign-ins are paused."

"""The password grant and a user whose first-login password change is pending (a new user, or
one whose password an administrator reset under "force change after reset"): no token, and an
error a script can act on, the same at both token paths and in every body encoding."""

import json
from urllib.parse import urlencode

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

PENDING = (
    "Sign in to the web UI first: the initial login asks you to choose a new password. Then ask for a token again."
)


def _body(password_grant, username, password=PASSWORD):
    grant, secret = password_grant
    return {
        "grant_type": "password",
        "client_id": grant.client_id,
        "client_secret": secret,
        "username": username,
        "password": password,
    }


@pytest.mark.parametrize("path", ["/oauth/token", "/backend/oauth/token"])
@pytest.mark.parametrize("encoding", ["json", "form", "json-as-form"])
def test_pending_first_login_change_is_invalid_grant_with_the_reason(password_grant, make_user, path, encoding):
    make_user("newbie", wizard_done=False)
    body = _body(password_grant, "newbie")
    client = Client()
    if encoding == "json":
        response = client.post(path, json.dumps(body), content_type="application/json")
    elif encoding == "form":
        response = client.post(path, urlencode(body), content_type="application/x-www-form-urlencoded")
    else:
        response = client.post(path, json.dumps(body), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400, response.content
    assert response.json() == {"error": "invalid_grant", "error_description": PENDING}
    assert not AccessToken.objects.exists()


def test_after_an_admin_reset_with_forced_change(password_grant, make_user, sysadmin):
    from accounts.services.password_policy import current
    from accounts.services.users import reset_password

    assert current().force_change_after_reset  # the default
    alice = make_user("alice")
    reset_password(actor=sysadmin, user=alice, new_password="Admin-Knows-This-1")
    response = Client().post(
        "/oauth/token",
        json.dumps(_body(password_grant, "alice", "Admin-Knows-This-1")),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_grant", "error_description": PENDING}


def test_a_wrong_password_of_such_a_user_does_not_learn_of_the_pending_change(password_grant, make_user):
    make_user("newbie", wizard_done=False)
    response = Client().post(
        "/oauth/token", json.dumps(_body(password_grant, "newbie", "wrong")), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant" and "web UI" not in response.json()["error_description"]

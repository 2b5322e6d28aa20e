"""manage.py api_console / api_client: the same services as the widget, from the shell."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from oauth2_provider.models import Application

from accounts.api_clients import ApiAccessEntry, ApiConsole, ApiGrant
from core.models import Event
from licensing.services.virtual_accounts import create_virtual_account
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_api_console_enable_disable_status():
    assert "API Console: disabled" in run("api_console", "status")
    assert "API Console: enabled" in run("api_console", "enable")
    assert ApiConsole.objects.get(pk=1).enabled
    assert "already enabled" in run("api_console", "enable")
    assert Event.objects.filter(event_type="api.console_enabled").count() == 1
    assert "API Console: disabled" in run("api_console", "disable")
    assert Event.objects.filter(event_type="api.console_disabled").count() == 1


def test_api_client_create_client_credentials_and_use_it(client, make_account):
    make_account("Acme")
    run("api_console", "enable")
    data = json.loads(run("api_client", "create", "--name", "ci", "--account", "Acme", "--role", "account_admin"))
    assert set(data) >= {"client_id", "client_secret"}
    grant = ApiGrant.objects.get(name="ci")
    assert grant.client_id == data["client_id"]
    assert Application.objects.get().client_secret != data["client_secret"]
    assert list(ApiAccessEntry.objects.values_list("account__name", "role", "virtual_account")) == [
        ("Acme", "account_admin", None)
    ]
    response = client.post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": data["client_id"], "client_secret": data["client_secret"]},
        content_type="application/json",
    )
    assert response.status_code == 200


def test_api_client_va_role(make_account):
    acme = make_account("Acme")
    create_virtual_account(actor=None, account=acme, name="Lab")
    run("api_console", "enable")
    run("api_client", "create", "--name", "lab", "--account", "Acme", "--role", "va_user", "--virtual-account", "Lab")
    entry = ApiAccessEntry.objects.get()
    assert entry.virtual_account.name == "Lab" and entry.role == "va_user"


def test_api_client_password_grant(client, make_user):
    make_user("alice")
    run("api_console", "enable")
    data = json.loads(run("api_client", "create", "--name", "people", "--grant-type", "password"))
    response = client.post(
        "/oauth/token",
        {
            "grant_type": "password",
            "client_id": data["client_id"],
            "client_secret": data["client_secret"],
            "username": "alice",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    "args, message",
    [
        (["--name", "x"], "needs --account and --role"),
        (["--name", "x", "--account", "Nope", "--role", "account_admin"], "no local account named “Nope”"),
        (["--name", "x", "--account", "Acme", "--role", "boss"], "Unknown role"),
        (["--name", "x", "--account", "Acme", "--role", "va_user"], "Choose the virtual account"),
        (["--name", "x", "--account", "Acme", "--role", "va_user", "--virtual-account", "Nope"], "no virtual account"),
        (
            ["--name", "x", "--grant-type", "password", "--account", "Acme", "--role", "account_admin"],
            "signing-in user",
        ),
        (["--name", "  ", "--account", "Acme", "--role", "account_admin"], "Enter a name"),
    ],
)
def test_api_client_bad_input_changes_nothing(make_account, args, message):
    make_account("Acme")
    run("api_console", "enable")
    with pytest.raises(CommandError, match=message):
        run("api_client", "create", *args)
    assert not ApiGrant.objects.exists() and not Application.objects.exists()


def test_api_client_needs_the_console(make_account):
    make_account("Acme")
    with pytest.raises(CommandError, match="Enable the API Console"):
        run("api_client", "create", "--name", "x", "--account", "Acme", "--role", "account_admin")

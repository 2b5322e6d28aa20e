"""The API Toolkit widget: console toggle, grants, secret shown once, API access control, RBAC."""

import re

import pytest
from django.urls import resolve, reverse
from oauth2_provider.models import Application

from accounts.api_clients import ApiAccessEntry, ApiConsole, ApiGrant
from accounts.rbac import Action
from accounts.roles import SystemRole
from accounts.services import api_grants
from admin_widgets.registry import WIDGETS, widgets_for
from core.errors import ServiceError
from core.models import Event
from licensing.services.virtual_accounts import create_virtual_account

pytestmark = pytest.mark.django_db


def _secret_in(html):
    match = re.search(r'id="client-secret" type="text" readonly value="([^"]+)"', html)
    return match.group(1) if match else None


def test_widget_in_the_grid_for_admin_and_operator(make_user):
    entry = next(w for w in WIDGETS if w.url_name == "admin_api_toolkit")
    assert entry.action == Action.MANAGE_API_GRANTS
    assert resolve(reverse("admin_api_toolkit")).func.required_action == Action.MANAGE_API_GRANTS
    assert entry in widgets_for(make_user("a", SystemRole.ADMIN))
    assert entry in widgets_for(make_user("o", SystemRole.OPERATOR))
    assert entry not in widgets_for(make_user("u", SystemRole.USER))


def test_console_disabled_by_default_and_admin_enables_it(sysadmin, login):
    client = login(sysadmin)
    page = client.get("/admin/api/").content.decode()
    assert 'id="api-console-state">Disabled' in page
    assert "Enable the API Console to create grants." in page
    response = client.post("/admin/api/console/", {"enabled": "on"})
    assert response.status_code == 302
    assert ApiConsole.objects.get(pk=1).enabled
    assert Event.objects.filter(event_type="api.console_enabled", username="sysadmin").exists()
    client.post("/admin/api/console/", {"enabled": "off"})
    assert not ApiConsole.objects.get(pk=1).enabled
    assert Event.objects.filter(event_type="api.console_disabled").exists()
    client.post("/admin/api/console/", {"enabled": "maybe"})
    assert not ApiConsole.objects.get(pk=1).enabled
    assert client.get("/admin/api/console/").status_code == 405


def test_operator_manages_grants_but_cannot_toggle(sysop, login, console_on):
    client = login(sysop)
    page = client.get("/admin/api/").content.decode()
    assert "Only a System Admin can enable or disable the API Console." in page
    assert client.post("/admin/api/console/", {"enabled": "off"}).status_code == 403
    assert ApiConsole.objects.get(pk=1).enabled
    response = client.post("/admin/api/create/", {"grant_type": "client_credentials", "name": "ops-bot"})
    assert response.status_code == 200 and _secret_in(response.content.decode())


def test_system_user_gets_403_everywhere(make_user, login, make_grant):
    grant, _ = make_grant("x")
    client = login(make_user("plain", SystemRole.USER))
    for url in ["/admin/api/", "/admin/api/create/", f"/admin/api/{grant.pk}/edit/", f"/admin/api/{grant.pk}/access/"]:
        assert client.get(url).status_code == 403, url
    for url in ["/admin/api/console/", f"/admin/api/{grant.pk}/secret/", f"/admin/api/{grant.pk}/delete/"]:
        assert client.post(url, {"enabled": "off"}).status_code == 403, url
    assert ApiGrant.objects.filter(pk=grant.pk).exists()


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/api/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_secret_shown_once_and_never_again(sysadmin, login, console_on):
    client = login(sysadmin)
    response = client.post(
        "/admin/api/create/", {"grant_type": "client_credentials", "name": "ci", "description": "build server"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = _secret_in(response.content.decode())
    grant = ApiGrant.objects.get(name="ci")
    assert secret and len(secret) >= 40
    assert grant.application.client_id in response.content.decode()
    assert Application.objects.get().client_secret != secret  # only the hash is stored
    assert Event.objects.filter(event_type="api.grant_created", message__contains="ci").exists()
    assert not Event.objects.filter(message__contains=secret).exists()
    for url in ["/admin/api/", f"/admin/api/{grant.pk}/edit/", f"/admin/api/{grant.pk}/access/"]:
        assert secret not in client.get(url).content.decode(), url
    # a new one on regenerate, once again
    regenerated = client.post(f"/admin/api/{grant.pk}/secret/")
    new_secret = _secret_in(regenerated.content.decode())
    assert new_secret and new_secret != secret
    assert "no-store" in regenerated["Cache-Control"]
    assert new_secret not in client.get("/admin/api/").content.decode()
    assert Event.objects.filter(event_type="api.secret_regenerated").exists()


def test_create_validation(sysadmin, login, console_on, make_grant):
    make_grant("taken")
    client = login(sysadmin)
    for data, message in [
        ({"grant_type": "client_credentials", "name": ""}, "This field is required."),
        ({"grant_type": "client_credentials", "name": "taken"}, "A grant named “taken” already exists."),
        ({"grant_type": "implicit", "name": "x"}, "Select a valid choice."),
        ({"grant_type": "password", "name": "x", "expiration_date": "2000-01-01"}, "Choose a day after today."),
        ({"grant_type": "password", "name": "x", "expiration_date": "not-a-date"}, "Enter a valid date."),
    ]:
        response = client.post("/admin/api/create/", data)
        assert response.status_code == 200
        assert message in response.content.decode(), data
    assert list(ApiGrant.objects.values_list("name", flat=True)) == ["taken"]
    assert Application.objects.count() == 1


def test_create_needs_the_console(sysadmin, login):
    client = login(sysadmin)
    response = client.post("/admin/api/create/", {"grant_type": "password", "name": "early"})
    assert "Enable the API Console before creating grants." in response.content.decode()
    assert not ApiGrant.objects.exists() and not Application.objects.exists()


def test_edit_and_delete(sysadmin, login, make_grant):
    grant, _ = make_grant("old")
    client = login(sysadmin)
    response = client.post(
        f"/admin/api/{grant.pk}/edit/", {"name": "new", "description": "d", "expiration_date": "2999-01-01"}
    )
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.name == "new" and grant.expires_at.year == 2999 and grant.application.name == "new"
    assert client.post(f"/admin/api/{grant.pk}/delete/").status_code == 302
    assert not ApiGrant.objects.exists() and not Application.objects.exists()
    assert Event.objects.filter(event_type="api.grant_deleted", message__contains="new").exists()


def test_access_control_add_and_remove(sysadmin, login, make_grant, make_account):
    acme = make_account("Acme")
    lab = create_virtual_account(actor=None, account=acme, name="Lab")
    other = make_account("Other")
    grant, _ = make_grant("cc")
    client = login(sysadmin)
    assert client.get(f"/admin/api/{grant.pk}/access/").status_code == 200
    response = client.post(f"/admin/api/{grant.pk}/access/", {"account": acme.pk, "role": "account_user"})
    assert response.status_code == 302
    response = client.post(
        f"/admin/api/{grant.pk}/access/", {"account": acme.pk, "role": "va_admin", "virtual_account": lab.pk}
    )
    assert response.status_code == 302
    # refused: a VA role without a VA, a VA of another account, an account role on a VA
    for data in (
        {"account": other.pk, "role": "va_user"},
        {"account": other.pk, "role": "va_user", "virtual_account": lab.pk},
        {"account": other.pk, "role": "account_admin", "virtual_account": lab.pk},
        {"account": acme.pk, "role": "account_admin"},
        {"account": 99999, "role": "account_admin"},
    ):
        assert client.post(f"/admin/api/{grant.pk}/access/", data).status_code == 200, data
    assert sorted(ApiAccessEntry.objects.values_list("role", flat=True)) == ["account_user", "va_admin"]
    assert Event.objects.filter(event_type="api.access_added", account=acme).count() == 2
    page = client.get(f"/admin/api/{grant.pk}/access/").content.decode()
    assert "Account User" in page and "Lab" in page
    entry = ApiAccessEntry.objects.get(role="va_admin")
    assert client.post(f"/admin/api/access/{entry.pk}/remove/").status_code == 302
    assert ApiAccessEntry.objects.count() == 1
    assert Event.objects.filter(event_type="api.access_removed").exists()


def test_resource_owner_grants_have_no_access_control(sysadmin, login, password_grant, make_account):
    grant, _ = password_grant
    acme = make_account("Acme")
    client = login(sysadmin)
    assert client.get(f"/admin/api/{grant.pk}/access/").status_code == 302
    with pytest.raises(ServiceError):
        api_grants.add_access(actor=None, grant=grant, account=acme, role="account_admin")
    assert not ApiAccessEntry.objects.exists()


def test_csrf_enforced_on_toggle(sysadmin):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(sysadmin)
    assert client.post("/admin/api/console/", {"enabled": "on"}).status_code == 403
    assert not ApiConsole.objects.filter(enabled=True).exists()


def test_list_query_count_does_not_grow(sysadmin, login, make_grant, make_account, django_assert_max_num_queries):
    client = login(sysadmin)
    acme = make_account("Acme")
    for n in range(3):
        grant, _ = make_grant(f"g{n}")
        api_grants.add_access(actor=None, grant=grant, account=acme, role="account_user")
    client.get("/admin/api/")
    with django_assert_max_num_queries(14) as few:
        assert client.get("/admin/api/").status_code == 200
    for n in range(3, 12):
        make_grant(f"g{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get("/admin/api/")
    assert page.status_code == 200 and "g11" in page.content.decode()

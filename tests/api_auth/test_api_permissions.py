"""Bearer tokens on a DRF view with the project's defaults: who gets in, and what RBAC then says.

The view below is a probe of this module's own urlconf: it has no authentication or
permission classes of its own, so it runs under REST_FRAMEWORK's defaults exactly as the
/api/v1 endpoints do.
"""

import datetime

import pytest
from django.urls import include, path
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_auth import ApiCaller
from accounts.rbac import Action, ApiGrantPrincipal, Principal, can, visible_virtual_accounts
from accounts.roles import SystemRole
from accounts.services import api_grants
from core.errors import NotAllowed
from licensing.models import LocalAccount
from licensing.services.accounts import visible_accounts
from licensing.services.virtual_accounts import create_virtual_account
from tests.factories import PASSWORD


class Probe(APIView):
    def get(self, request, account_name):
        account = LocalAccount.objects.get(name=account_name)
        return Response(
            {
                "caller": request.user.username,
                "principal": type(request.user.principal).__name__,
                "view": can(request, Action.VIEW_ACCOUNT, account=account),
                "manage_vas": can(request, Action.MANAGE_VIRTUAL_ACCOUNTS, account=account),
                "toggle_console": can(request, Action.TOGGLE_API_CONSOLE),
                "vas": sorted(visible_virtual_accounts(request, account).values_list("name", flat=True)),
                "accounts": sorted(visible_accounts(request).values_list("name", flat=True)),
            }
        )


class Refuses(APIView):
    def get(self, request):
        raise NotAllowed("Not Authorized to access local Virtual Accounts in local Account")


urlpatterns = [
    path("probe/<str:account_name>", Probe.as_view()),
    path("refuses", Refuses.as_view()),
    path("", include("onprem.urls")),
]

RESTRICTED = {"status": "ERROR", "statusMessage": "Access Restricted"}


@pytest.fixture(autouse=True)
def _probe_urls(settings):
    settings.ROOT_URLCONF = __name__


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_client_credentials_token_acts_with_its_access_control(client, cc_grant, get_token, make_account):
    grant, secret, acme = cc_grant
    make_account("Other")
    token = get_token(grant, secret)
    response = client.get("/probe/Acme", **bearer(token))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "caller": "API client machine",
        "principal": "ApiGrantPrincipal",
        "view": True,
        "manage_vas": True,
        "toggle_console": False,
        "vas": ["Default"],
        "accounts": ["Acme"],
    }
    other = client.get("/probe/Other", **bearer(token)).json()
    assert other["view"] is False and other["vas"] == []


def test_va_role_grant_sees_only_its_virtual_account(client, make_grant, make_account, get_token):
    acme = make_account("Acme")
    lab = create_virtual_account(actor=None, account=acme, name="Lab")
    grant, secret = make_grant("va-only")
    api_grants.add_access(actor=None, grant=grant, account=acme, role="va_user", virtual_account=lab)
    data = client.get("/probe/Acme", **bearer(get_token(grant, secret))).json()
    assert data["view"] is True and data["manage_vas"] is False
    assert data["vas"] == ["Lab"]


def test_grant_without_access_control_sees_nothing(client, make_grant, make_account, get_token):
    make_account("Acme")
    grant, secret = make_grant("bare")
    data = client.get("/probe/Acme", **bearer(get_token(grant, secret))).json()
    assert data["view"] is False and data["accounts"] == []


def test_password_token_acts_as_the_user(client, password_grant, make_user, make_account, get_token):
    make_account("Acme")
    grant, secret = password_grant
    make_user("boss", SystemRole.ADMIN)
    data = client.get("/probe/Acme", **bearer(get_token(grant, secret, username="boss", password=PASSWORD))).json()
    assert data["caller"] == "boss" and data["principal"] == "Principal"
    assert data["view"] and data["manage_vas"] and data["toggle_console"]
    make_user("nobody")
    data = client.get("/probe/Acme", **bearer(get_token(grant, secret, username="nobody", password=PASSWORD))).json()
    assert data["caller"] == "nobody" and not data["view"] and not data["toggle_console"]


@pytest.mark.parametrize("headers", [{}, bearer("not-a-token"), bearer(""), {"HTTP_AUTHORIZATION": "Basic eDp5"}])
def test_no_or_bad_token_is_403_access_restricted(client, cc_grant, headers):
    response = client.get("/probe/Acme", **headers)
    assert response.status_code == 403
    assert response.json() == RESTRICTED
    assert "WWW-Authenticate" not in response


def test_session_login_is_not_an_api_credential(client, cc_grant, sysadmin, login):
    login(sysadmin)
    response = client.get("/probe/Acme")
    assert response.status_code == 403 and response.json() == RESTRICTED


def test_console_disabled_closes_the_api(client, cc_grant, get_token):
    grant, secret, _ = cc_grant
    token = get_token(grant, secret)
    assert client.get("/probe/Acme", **bearer(token)).status_code == 200
    api_grants.set_api_console(actor=None, enabled=False)
    response = client.get("/probe/Acme", **bearer(token))
    assert response.status_code == 403 and response.json() == RESTRICTED


def test_expired_token_is_refused(client, cc_grant, get_token):
    grant, secret, _ = cc_grant
    token = get_token(grant, secret)
    AccessToken.objects.update(expires=timezone.now() - datetime.timedelta(seconds=1))
    response = client.get("/probe/Acme", **bearer(token))
    assert response.status_code == 403 and response.json() == RESTRICTED


def test_token_of_a_grant_that_expired_since_is_refused(client, cc_grant, get_token):
    grant, secret, _ = cc_grant
    token = get_token(grant, secret)
    grant.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    grant.save(update_fields=["expires_at"])
    assert client.get("/probe/Acme", **bearer(token)).status_code == 403


def test_token_of_a_user_disabled_since_is_refused(client, password_grant, make_user, make_account, get_token):
    make_account("Acme")
    grant, secret = password_grant
    alice = make_user("alice")
    token = get_token(grant, secret, username="alice", password=PASSWORD)
    assert client.get("/probe/Acme", **bearer(token)).status_code == 200
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    assert client.get("/probe/Acme", **bearer(token)).status_code == 403


def test_token_of_a_deleted_grant_is_refused(client, cc_grant, get_token):
    grant, secret, _ = cc_grant
    token = get_token(grant, secret)
    api_grants.delete_grant(actor=None, grant=grant)
    assert client.get("/probe/Acme", **bearer(token)).status_code == 403


def test_token_in_query_string_is_refused(client, cc_grant, get_token):
    grant, secret, _ = cc_grant
    token = get_token(grant, secret)
    assert client.get(f"/probe/Acme?access_token={token}").status_code == 403


def test_grant_principal_never_system_wide_admin(cc_grant):
    grant, _, acme = cc_grant
    principal = ApiGrantPrincipal(grant)
    assert principal.system_role == SystemRole.USER
    assert not principal.is_system_wide_admin
    for action in (Action.OPEN_ADMIN_WORKSPACE, Action.MANAGE_API_GRANTS, Action.MANAGE_USERS):
        assert not can(principal, action)
    caller = ApiCaller(principal=principal, grant=grant)
    assert can(caller, Action.VIEW_ACCOUNT, account=acme)  # principal_for() asks the caller's principal
    assert isinstance(ApiCaller(principal=Principal(None)).principal, Principal)


def test_api_auth_query_count_does_not_grow_with_access_entries(
    client, make_grant, make_account, get_token, django_assert_max_num_queries
):
    accounts = [make_account(f"A{i}") for i in range(5)]
    grant, secret = make_grant("many")
    for account in accounts:
        api_grants.add_access(actor=None, grant=grant, account=account, role="account_user")
    token = get_token(grant, secret)
    with django_assert_max_num_queries(12):
        assert client.get("/probe/A0", **bearer(token)).status_code == 200


def test_a_service_refusal_is_403_with_the_guide_body(client, cc_grant, get_token):
    grant, secret, _ = cc_grant
    response = client.get("/refuses", **bearer(get_token(grant, secret)))
    assert response.status_code == 403
    assert response.json() == {
        "status": "ERROR",
        "statusMessage": "Not Authorized to access local Virtual Accounts in local Account",
    }


def test_caller_as_event_actor(cc_grant, password_grant, make_user):
    from core import events

    grant, _, _ = cc_grant
    alice = make_user("alice")
    machine = ApiCaller(principal=ApiGrantPrincipal(grant), grant=grant)
    person = ApiCaller(principal=Principal(alice), user=alice)
    assert person.actor == alice and machine.actor is machine
    for caller in (machine, person):  # the caller itself is a safe actor too
        event = events.record("auth.logout", actor=caller, user_name=caller.username)
        assert event.user is None and event.username == caller.username
    assert events.record("auth.logout", actor=person.actor, user_name="alice").user == alice


def test_grant_principal_never_matches_role_grants(cc_grant):
    from accounts.models import RoleGrant, UserGroup

    grant, _, acme = cc_grant
    group = UserGroup.objects.create(account=acme, name="G")
    RoleGrant.objects.create(account=acme, group=group, role="account_admin")  # a grant with no user
    assert RoleGrant.objects.exists()
    assert not RoleGrant.objects.filter(ApiGrantPrincipal(grant).grant_filter()).exists()

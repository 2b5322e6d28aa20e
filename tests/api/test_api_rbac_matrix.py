"""The API's RBAC matrix (docs/rbac.md): every principal x every endpoint, on the caller's own
virtual account (Physics), on another one (Zoology) and on another local account (Globex);
for people (password grant) and for Client Credentials grants holding the same roles; and the
API Console switched off.

"Allowed" means the endpoint did not answer 403 (it may still answer 422 for the body used).
"""

import pytest

from accounts.roles import AccountRole
from accounts.services import api_grants

pytestmark = pytest.mark.django_db

ADMIN, AA, AU, VAA, VAU = (
    "admin",
    AccountRole.ACCOUNT_ADMIN,
    AccountRole.ACCOUNT_USER,
    AccountRole.VA_ADMIN,
    AccountRole.VA_USER,
)
EVERY_ROLE = {ADMIN, AA, AU, VAA, VAU}

# endpoint -> (method, path, body, who may: {role: "both" | "own"})
VIEW = {ADMIN: "both", AA: "both", AU: "both", VAA: "own", VAU: "own"}
ACCOUNT_ADMINS = {ADMIN: "both", AA: "both"}
TRANSFER = {ADMIN: "both", AA: "both", AU: "both"}  # VA roles lack a role on the target (Default)
REMOVE = {ADMIN: "both", AA: "both", AU: "both", VAA: "own"}
ANY_ROLE = {role: "both" for role in EVERY_ROLE}

SUDI = {"udiPid": "CSR1000V", "udiSerialNumber": "NOPE"}
ENDPOINTS = {
    "list_vas": ("get", "/accounts/{a}/virtual-accounts", None, ANY_ROLE),
    "create_va": ("post", "/accounts/{a}/virtual-accounts", {"name": "New {va}"}, ACCOUNT_ADMINS),
    "create_token": ("post", "/accounts/{a}/virtual-accounts/{va}/tokens", {}, VIEW),
    "list_tokens": ("get", "/accounts/{a}/virtual-accounts/{va}/tokens", None, VIEW),
    "revoke_tokens": ("post", "/accounts/{a}/virtual-accounts/{va}/tokens/revoke", {"tokens": ["x"]}, VIEW),
    "license_usage": ("post", "/accounts/{a}/licenses", {"virtualAccounts": ["{va}"]}, VIEW),
    "subscriptions": ("post", "/accounts/{a}/license-subscriptions", {"virtualAccounts": ["{va}"]}, VIEW),
    "license_transfer": (
        "post",
        "/accounts/{a}/virtual-accounts/{va}/licenses/transfer",
        {"licenses": [{"license": "L", "licenseType": "TERM", "quantity": 1, "targetVirtualAccount": "Default"}]},
        TRANSFER,
    ),
    "device_usage": ("post", "/accounts/{a}/devices", {"virtualAccounts": ["{va}"]}, VIEW),
    "device_search": ("get", "/accounts/{a}/virtual-accounts/{va}/devices", None, VIEW),
    "device_transfer": (
        "post",
        "/accounts/{a}/virtual-accounts/{va}/devices/transfer",
        {"productInstances": [{"sudi": SUDI, "targetVirtualAccount": "Default"}]},
        TRANSFER,
    ),
    "device_remove": (
        "post",
        "/accounts/{a}/virtual-accounts/{va}/devices/remove",
        {"productInstanceRemoveRequests": [{"sudi": SUDI}]},
        REMOVE,
    ),
    "alerts": ("post", "/accounts/{a}/alerts", {"virtualAccounts": ["{va}"]}, VIEW),
    "delete_va": ("post", "/accounts/{a}/virtual-accounts/{va}/delete", None, ACCOUNT_ADMINS),
}
USERS = {
    "sysadmin": ADMIN,
    "sysop": ADMIN,
    "account_admin": AA,
    "account_user": AU,
    "va_admin": VAA,
    "va_user": VAU,
    "nobody": None,
}
GRANTS = {
    "grant_account_admin": AA,
    "grant_account_user": AU,
    "grant_va_admin": VAA,
    "grant_va_user": VAU,
    "grant_nothing": None,
}


def _fill(value, account, va):
    if isinstance(value, str):
        return value.replace("{a}", account).replace("{va}", va)
    if isinstance(value, list):
        return [_fill(v, account, va) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, account, va) for k, v in value.items()}
    return value


def _call(api, endpoint, account, va):
    method, path, body, _ = ENDPOINTS[endpoint]
    if method == "get":
        return api.get(_fill(path, account, va))
    return api.post(_fill(path, account, va), _fill(body, account, va))


def _expected(role, endpoint, which):
    reach = ENDPOINTS[endpoint][3].get(role)
    return reach == "both" or (reach == "own" and which == "own")


@pytest.fixture
def caller(request, people, api_as, cc_api, acme, vas):
    name = request.param
    if name in USERS:
        return USERS[name], api_as(people[name])
    role = GRANTS[name]
    if role in (AA, AU):
        entries = [(acme, role)]
    elif role in (VAA, VAU):
        entries = [(vas["Physics"], role)]
    else:
        entries = []
    return role, cc_api(entries)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@pytest.mark.parametrize("caller", list(USERS) + list(GRANTS), indirect=True)
def test_matrix(caller, endpoint, globex, estate):
    role, api = caller
    # Another local account: only the system-wide admins reach it.
    status, body = _call(api, endpoint, "Globex", "Default")
    assert (status != 403) == (role == ADMIN), (endpoint, "Globex", status, body)
    for which, va in (("other", "Zoology"), ("own", "Physics")):
        status, body = _call(api, endpoint, "Acme", va)
        assert status in (200, 403, 422), body
        assert (status != 403) == _expected(role, endpoint, which), (endpoint, va, status, body)
        if status == 403:
            assert body["status"] == "ERROR" and body["statusMessage"]


def test_console_disabled_closes_every_endpoint(api_as, people, estate):
    api = api_as(people["sysadmin"])
    api_grants.set_api_console(actor=None, enabled=False)
    for endpoint in ENDPOINTS:
        status, body = _call(api, endpoint, "Acme", "Physics")
        assert status == 403, (endpoint, status, body)
        assert body == {"status": "ERROR", "statusMessage": "Access Restricted"}
    assert api.get("/accounts")[0] == 403


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-token", "Basic abc"])
def test_no_valid_token_is_403(client, console_on, acme, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    for path in ("/api/v1/accounts/Acme/virtual-accounts", "/backend/api/v1/accounts"):
        response = client.get(path, **extra)
        assert response.status_code == 403
        assert response.json()["status"] == "ERROR"


def test_session_login_is_no_api_credential(client, people, console_on):
    client.force_login(people["sysadmin"])
    assert client.get("/api/v1/accounts").status_code == 403


def test_client_credentials_actor_in_event_log(cc_api, acme, vas):
    from core.models import Event

    api = cc_api([(acme, AA)])
    assert api.post("/accounts/Acme/virtual-accounts", {"name": "Made by machine"})[0] == 200
    event = Event.objects.get(event_type="va.created", virtual_account__name="Made by machine")
    assert event.user is None and event.username.startswith("API client ")
    status, body = api.post("/accounts/Acme/virtual-accounts/Physics/tokens", {"description": "ci"})
    assert status == 200 and body["tokenInfo"]["createdBy"].startswith("API client ")


def test_every_endpoint_answers_under_both_prefixes(api_as, people, estate):
    for prefix in ("/api/v1", "/backend/api/v1"):
        api = api_as(people["account_admin"], prefix)
        for endpoint in ENDPOINTS:
            status, body = _call(api, endpoint, "Acme", "Zoology")
            assert status in (200, 422), (prefix, endpoint, status, body)
            assert body["status"] in ("SUCCESS", "WARNING", "ERROR")
        if prefix == "/api/v1":  # delete_va removed Zoology: make it again for the other prefix
            from licensing.services.virtual_accounts import create_virtual_account

            create_virtual_account(actor=None, account=estate["pi1"].account, name="Zoology")

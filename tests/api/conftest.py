"""REST API fixtures: real bearer tokens from /oauth/token, and a small licensed estate.

Acme has the Default VA plus Physics and Zoology; licenses, lines and product instances come
from tests/factories.py.
"""

import datetime
import json

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_clients import ApiGrant
from accounts.roles import AccountRole, SystemRole
from accounts.services import api_grants
from tests.factories import PASSWORD

from .openapi_check import validating_request

PREFIXES = ["/api/v1", "/backend/api/v1"]


@pytest.fixture(autouse=True)
def _every_api_reply_matches_the_schema(monkeypatch):
    """Every exchange under /api/, /backend/api/ and the token paths is checked against the
    published OpenAPI schema (tests/api/openapi_check.py): a reply it does not describe fails."""
    from django.test.client import Client

    monkeypatch.setattr(Client, "request", validating_request(Client.request))


@pytest.fixture(autouse=True)
def _api_settings(settings, request):
    """A private cache (rate-limit counters) and a token rate limit that many callers fit in."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": request.node.nodeid}
    }
    settings.ONPREM_TOKEN_RATE_LIMIT = 10_000
    from django.core.cache import cache

    cache.clear()
    from core.models import SystemSettings
    from core.system_settings import prime_cache

    prime_cache(SystemSettings(pk=1))


def body_of(response):
    """The JSON of a reply, streamed or not."""
    if getattr(response, "streaming", False):
        return json.loads(b"".join(response.streaming_content))
    return json.loads(response.content)


class Api:
    """An API client holding one bearer token; ``post``/``get``/``delete`` return (status, json)."""

    def __init__(self, token, prefix="/api/v1"):
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        self.prefix = prefix
        self.token = token

    def call(self, method, path, body=None, **kwargs):
        url = path if path.startswith("/") and path.startswith(("/api/", "/backend/")) else self.prefix + path
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        response = getattr(self.client, method)(url, **kwargs)
        return response.status_code, body_of(response)

    def post(self, path, body=None, **kwargs):
        return self.call("post", path, body, **kwargs)

    def get(self, path, **kwargs):
        return self.call("get", path, **kwargs)

    def delete(self, path, **kwargs):
        return self.call("delete", path, **kwargs)


@pytest.fixture
def token_for(client, password_grant):
    """token_for(user) -> an access token of the Resource Owner (password) grant, from /oauth/token."""
    grant, secret = password_grant

    def _token(user):
        response = client.post(
            "/oauth/token",
            {
                "grant_type": "password",
                "client_id": grant.client_id,
                "client_secret": secret,
                "username": user.username,
                "password": PASSWORD,
            },
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return _token


@pytest.fixture
def api_as(token_for):
    """api_as(user) -> an Api calling as ``user`` (password grant)."""

    def _api(user, prefix="/api/v1"):
        return Api(token_for(user), prefix)

    return _api


@pytest.fixture
def cc_api(client, console_on):
    """cc_api([(account_or_va, role), ...]) -> an Api of a Client Credentials grant with those roles."""
    from licensing.models import VirtualAccount

    names = iter(range(1000))

    def _api(entries, prefix="/api/v1"):
        grant, secret = api_grants.create_grant(
            actor=None, grant_type=ApiGrant.GrantType.CLIENT_CREDENTIALS, name=f"machine-{next(names)}"
        )
        for scope, role in entries:
            if isinstance(scope, VirtualAccount):
                api_grants.add_access(actor=None, grant=grant, account=scope.account, role=role, virtual_account=scope)
            else:
                api_grants.add_access(actor=None, grant=grant, account=scope, role=role)
        response = client.post(
            "/oauth/token",
            {"grant_type": "client_credentials", "client_id": grant.client_id, "client_secret": secret},
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        return Api(response.json()["access_token"], prefix)

    return _api


# -- the estate ----------------------------------------------------------------------------


@pytest.fixture
def globex(make_account):
    account = make_account("Globex")
    return account


@pytest.fixture
def vas(acme, new_va):
    """{"Default": va, "Physics": va, "Zoology": va} of Acme."""
    new_va("Physics", description="Physics dept")
    new_va("Zoology")
    return {va.name: va for va in acme.virtual_accounts.all()}


@pytest.fixture
def people(make_user, grant_role, acme, vas):
    """One user per role: sysadmin, sysop, account admin/user, VA admin/user on Physics, nobody."""
    users = {
        "sysadmin": make_user("root", SystemRole.ADMIN),
        "sysop": make_user("op", SystemRole.OPERATOR),
        "account_admin": make_user("alice"),
        "account_user": make_user("bob"),
        "va_admin": make_user("carol"),
        "va_user": make_user("dave"),
        "nobody": make_user("eve"),
    }
    grant_role(users["account_admin"], acme, AccountRole.ACCOUNT_ADMIN)
    grant_role(users["account_user"], acme, AccountRole.ACCOUNT_USER)
    grant_role(users["va_admin"], vas["Physics"], AccountRole.VA_ADMIN)
    grant_role(users["va_user"], vas["Physics"], AccountRole.VA_USER)
    return users


@pytest.fixture
def admin_api(api_as, people):
    return api_as(people["account_admin"])


@pytest.fixture
def estate(vas, license_def, add_line, add_pi):
    """Licenses in Physics (one short) and Zoology, two product instances using them."""
    today = timezone.now().date()
    enhanced = license_def("UC Manager Enhanced License (12.x)")
    basic = license_def("UC Manager Basic License (12.x)")
    enhanced.substitutes_for.add(basic)
    security = license_def("CSR 1KV SECURITY 1G")
    add_line(
        vas["Physics"],
        basic,
        4,
        "term",
        start=today - datetime.timedelta(days=10),
        end=today + datetime.timedelta(days=300),
        subscription_id="Sub905308",
    )
    add_line(vas["Physics"], basic, 10)
    add_line(
        vas["Physics"],
        enhanced,
        10,
        "term",
        start=today - datetime.timedelta(days=10),
        end=today + datetime.timedelta(days=100),
    )
    add_line(vas["Zoology"], security, 5)
    add_line(
        vas["Zoology"],
        security,
        2,
        "term",
        start=today - datetime.timedelta(days=400),
        end=today - datetime.timedelta(days=35),
        subscription_id="SubOld",
    )  # expired
    pi1 = add_pi(
        vas["Physics"],
        "97N1PAGTEOZ",
        hostname="local.lab",
        uses={basic: 16},
        identity={
            "uuid": "062f582e30844ed2b8d005c14c425b06",
            "mac_address": "00:11:22:33:44:55",
            "ip_address": "10.0.0.7",
        },
    )
    pi2 = add_pi(
        vas["Zoology"],
        "JPG3032006T",
        pid="N77-C7710",
        hostname="infy-lm05",
        uses={security: 7},
        identity={"suvi": "SUVI-1", "host_identifier": "HID-9"},
    )
    return {"basic": basic, "enhanced": enhanced, "security": security, "pi1": pi1, "pi2": pi2}

"""4-6: create, list and revoke registration tokens."""

import datetime
import urllib.parse

import pytest
from django.utils import timezone

from licensing.models import RegistrationToken
from licensing.services.tokens import create_token
from tests.api.conftest import PREFIXES

pytestmark = pytest.mark.django_db
BASE = "/accounts/Acme/virtual-accounts/Physics/tokens"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_create_token(api_as, people, vas, prefix):
    api = api_as(people["va_user"], prefix)
    status, body = api.post(
        BASE,
        {"expiresAfterDays": 100, "description": "Test VA Creation", "exportControlled": "Allowed", "numberOfUses": 5},
    )
    assert status == 200, body
    assert body["status"] == "SUCCESS"
    assert body["statusMessage"] == "A valid, active token was generated."
    token = RegistrationToken.objects.get()
    info = body["tokenInfo"]
    assert info["token"] == token.token
    assert info["description"] == "Test VA Creation"
    assert info["exportControlled"] == "Allowed"
    assert info["numberOfUses"] == 5
    assert info["createdBy"] == "dave"
    expected = token.expires_at.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert info["expirationDate"] == expected
    assert abs((token.expires_at - timezone.now()) - datetime.timedelta(days=100)) < datetime.timedelta(minutes=1)
    assert token.virtual_account == vas["Physics"] and token.max_uses == 5 and token.export_controlled
    assert token.created_by == people["va_user"]


def test_create_token_defaults(admin_api, vas):
    status, body = admin_api.post(BASE, {})
    assert status == 200
    token = RegistrationToken.objects.get()
    assert body["tokenInfo"]["exportControlled"] == "Not Allowed" and not token.export_controlled
    assert body["tokenInfo"]["numberOfUses"] is None and token.max_uses is None
    assert abs((token.expires_at - timezone.now()) - datetime.timedelta(days=30)) < datetime.timedelta(minutes=1)


def test_export_control_not_allowed_account_gives_not_allowed_token(admin_api, acme, vas):
    """Guide: if the setting is "Not Allowed", "sending Allowed or Not Allowed will always return
    'Not Allowed' for the token"."""
    acme.export_control_allowed = False
    acme.save(update_fields=["export_control_allowed"])
    status, body = admin_api.post(BASE, {"exportControlled": "Allowed"})
    assert status == 200
    assert body["tokenInfo"]["exportControlled"] == "Not Allowed"
    assert not RegistrationToken.objects.get().export_controlled


@pytest.mark.parametrize(
    "body, message",
    [
        ({"expiresAfterDays": 0}, "expiresAfterDays: Ensure this value is greater than or equal to 1."),
        ({"expiresAfterDays": 366}, "expiresAfterDays: Ensure this value is less than or equal to 365."),
        ({"expiresAfterDays": "10"}, "expiresAfterDays: A valid integer is required."),
        ({"expiresAfterDays": True}, "expiresAfterDays: A valid integer is required."),
        ({"exportControlled": "Yes"}, 'exportControlled: "Yes" is not a valid choice.'),
        ({"numberOfUses": 0}, "numberOfUses: Ensure this value is greater than or equal to 1."),
        ({"description": "x" * 256}, "description: Ensure this field has no more than 255 characters."),
    ],
)
def test_create_token_bad_input(admin_api, vas, body, message):
    assert admin_api.post(BASE, body) == (422, {"status": "ERROR", "statusMessage": message})
    assert not RegistrationToken.objects.exists()


def test_list_active_tokens(admin_api, people, vas):
    now = timezone.now()
    active = create_token(
        actor=people["account_admin"],
        virtual_account=vas["Physics"],
        description="this is Ben",
        export_controlled=True,
        max_uses=3,
    )
    revoked = create_token(actor=None, virtual_account=vas["Physics"])
    revoked.revoked_at = now
    revoked.save(update_fields=["revoked_at"])
    expired = create_token(actor=None, virtual_account=vas["Physics"], now=now - datetime.timedelta(days=40))
    assert expired.expires_at < now
    create_token(actor=None, virtual_account=vas["Zoology"])  # another VA
    status, body = admin_api.get(BASE)
    assert status == 200
    assert body["status"] == "SUCCESS" and body["statusMessage"] == "Successfully read active tokens."
    assert body["tokens"] == [
        {
            "token": active.token,
            "expirationDate": active.expires_at.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": "this is Ben",
            "exportControl": "Allowed",
            "createdBy": "alice",
            "numberOfUses": 3,
            "uses": 0,
        }
    ]


def test_list_tokens_query_count_does_not_grow(admin_api, vas, django_assert_max_num_queries):
    for _ in range(3):
        create_token(actor=None, virtual_account=vas["Physics"])
    with django_assert_max_num_queries(12) as few:
        assert admin_api.get(BASE)[0] == 200
    for _ in range(30):
        create_token(actor=None, virtual_account=vas["Physics"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        status, body = admin_api.get(BASE)
    assert len(body["tokens"]) == 33


def _tokens(n, va):
    return [create_token(actor=None, virtual_account=va) for _ in range(n)]


def test_revoke_all(admin_api, vas):
    tokens = _tokens(2, vas["Physics"])
    status, body = admin_api.post(f"{BASE}/revoke", {"tokens": [t.token for t in tokens]})
    assert status == 200
    assert body["status"] == "SUCCESS" and body["statusMessage"] == "2 tokens revoked successfully"
    assert body["tokensRevokeStatus"] == [
        {"token": t.token, "status": "SUCCESS", "statusMessage": f"Token-{t.token} revoked successfully"}
        for t in tokens
    ]
    assert RegistrationToken.objects.filter(revoked_at__isnull=False).count() == 2


def test_revoke_accepts_any_spelling(admin_api, vas):
    token = _tokens(1, vas["Physics"])[0]
    decoded = urllib.parse.unquote(token.token).replace("\n", "")
    status, body = admin_api.post(f"{BASE}/revoke", {"tokens": [decoded]})
    assert (status, body["status"]) == (200, "SUCCESS")


def test_revoke_partly(admin_api, vas):
    good, already = _tokens(2, vas["Physics"])
    admin_api.post(f"{BASE}/revoke", {"tokens": [already.token]})
    other_va = _tokens(1, vas["Zoology"])[0]
    status, body = admin_api.post(f"{BASE}/revoke", {"tokens": [good.token, already.token, other_va.token, "bogus"]})
    assert status == 200
    assert body["status"] == "WARNING" and body["statusMessage"] == "1 tokens successfully revoked."
    statuses = body["tokensRevokeStatus"]
    assert [s["status"] for s in statuses] == ["SUCCESS", "ERROR", "ERROR", "ERROR"]
    assert statuses[1]["statusMessage"] == f"The token {already.token} has already been revoked."
    assert statuses[2]["statusMessage"] == f"Failed to find token {other_va.token}"
    assert statuses[3]["statusMessage"] == "Failed to find token bogus"
    other_va.refresh_from_db()
    assert other_va.revoked_at is None  # a token of another VA is not touched


def test_revoke_none_found_is_422(admin_api, vas):
    status, body = admin_api.post(f"{BASE}/revoke", {"tokens": ["bogus", "other"]})
    assert status == 422
    assert body["status"] == "ERROR" and body["statusMessage"] == "Token(s) could not be revoked."
    assert [s["statusMessage"] for s in body["tokensRevokeStatus"]] == [
        "Failed to find token bogus",
        "Failed to find token other",
    ]


@pytest.mark.parametrize(
    "body", [{"tokens": [f"t{i}" for i in range(11)]}, {"tokens": []}, {"tokens": "abc"}, {"tokens": [1]}, {}]
)
def test_revoke_bad_requests(admin_api, vas, body):
    tokens = _tokens(1, vas["Physics"])
    if body.get("tokens") and isinstance(body["tokens"], list) and len(body["tokens"]) == 11:
        body["tokens"][0] = tokens[0].token
    status, reply = admin_api.post(f"{BASE}/revoke", body)
    assert status == 422 and reply["status"] == "ERROR"
    assert not RegistrationToken.objects.filter(revoked_at__isnull=False).exists()


def test_ten_tokens_is_the_limit(admin_api, vas):
    tokens = _tokens(10, vas["Physics"])
    status, body = admin_api.post(f"{BASE}/revoke", {"tokens": [t.token for t in tokens]})
    assert (status, body["statusMessage"]) == (200, "10 tokens revoked successfully")


def test_token_refusals(api_as, people, vas, globex):
    nobody = api_as(people["nobody"])
    assert nobody.get(BASE) == (403, {"status": "ERROR", "statusMessage": "Not Authorized to view the Tokens"})
    va_user = api_as(people["va_user"])
    assert va_user.get("/accounts/Acme/virtual-accounts/Zoology/tokens") == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to view the Tokens"},
    )
    assert va_user.post("/accounts/Acme/virtual-accounts/Zoology/tokens/revoke", {"tokens": ["x"]}) == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to revoke tokens for Virtual Account 'Zoology'."},
    )
    assert va_user.post("/accounts/Acme/virtual-accounts/Zoology/tokens", {})[0] == 403
    assert va_user.get("/accounts/Acme/virtual-accounts/Nope/tokens")[0] == 422
    assert not RegistrationToken.objects.exists()

"""1-3: create, list, delete local virtual accounts; names in URLs; both prefixes."""

import pytest

from core.models import Event
from licensing.models import VirtualAccount
from tests.api.conftest import PREFIXES

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", PREFIXES)
def test_create_list_delete(api_as, people, acme, prefix):
    api = api_as(people["account_admin"], prefix)
    status, body = api.post("/accounts/Acme/virtual-accounts", {"name": "Test VA", "description": "Test VA Creation"})
    assert (status, body) == (
        200,
        {"status": "SUCCESS", "statusMessage": "Virtual Account 'Test VA' created successfully"},
    )
    va = VirtualAccount.objects.get(account=acme, name="Test VA")
    assert va.description == "Test VA Creation"
    assert Event.objects.filter(event_type="va.created", virtual_account=va, username="alice").exists()

    status, body = api.get("/accounts/Acme/virtual-accounts")
    assert status == 200
    assert body["status"] == "SUCCESS" and body["statusMessage"] == ""
    assert body["virtualAccounts"] == [
        {"name": "Default", "description": "", "isDefault": "true"},
        {"name": "Physics", "description": "Physics dept", "isDefault": "false"},
        {"name": "Test VA", "description": "Test VA Creation", "isDefault": "false"},
        {"name": "Zoology", "description": "", "isDefault": "false"},
    ]

    status, body = api.post("/accounts/Acme/virtual-accounts/Test%20VA/delete")
    assert (status, body) == (
        200,
        {"status": "SUCCESS", "statusMessage": "Virtual Account 'Test VA' deleted successfully"},
    )
    assert not VirtualAccount.objects.filter(name="Test VA").exists()


def test_delete_by_method(admin_api, vas):
    status, body = admin_api.delete("/accounts/Acme/virtual-accounts/Zoology")
    assert (status, body["status"]) == (200, "SUCCESS")
    assert not VirtualAccount.objects.filter(name="Zoology").exists()


def test_name_in_use_is_422(admin_api, vas):
    status, body = admin_api.post("/accounts/Acme/virtual-accounts", {"name": "Physics"})
    assert (status, body) == (
        422,
        {"status": "ERROR", "statusMessage": "The specified name 'Physics' for the virtual account is already in use."},
    )
    assert VirtualAccount.objects.filter(name="Physics").count() == 1


@pytest.mark.parametrize(
    "body, message",
    [
        ({}, "name: This field is required."),
        ({"name": 5}, "name: Not a valid string."),
        ({"name": ""}, "name: This field may not be blank."),
        ({"name": "x" * 101}, "name: Ensure this field has no more than 100 characters."),
        ({"name": "Ok", "description": ["list"]}, "description: Not a valid string."),
        (["not", "an", "object"], "Invalid data. Expected a dictionary, but got list."),
    ],
)
def test_bad_bodies_are_422_and_change_nothing(admin_api, vas, body, message):
    before = VirtualAccount.objects.count()
    status, reply = admin_api.post("/accounts/Acme/virtual-accounts", body)
    assert (status, reply) == (422, {"status": "ERROR", "statusMessage": message})
    assert VirtualAccount.objects.count() == before


def test_malformed_json_is_422(admin_api, vas):
    response = admin_api.client.post(
        "/api/v1/accounts/Acme/virtual-accounts", data="{nope", content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["status"] == "ERROR"


def test_default_va_cannot_be_deleted(admin_api, vas):
    status, body = admin_api.post("/accounts/Acme/virtual-accounts/Default/delete")
    assert (status, body) == (
        422,
        {"status": "ERROR", "statusMessage": "The Default local virtual account cannot be deleted."},
    )


def test_unknown_account_and_va_are_422(admin_api, vas):
    assert admin_api.get("/accounts/Nope/virtual-accounts") == (
        422,
        {"status": "ERROR", "statusMessage": "Failed to find local Account 'Nope'."},
    )
    assert admin_api.post("/accounts/Acme/virtual-accounts/Nope/delete") == (
        422,
        {"status": "ERROR", "statusMessage": "Failed to find Virtual Account 'Nope'."},
    )


def test_names_are_matched_exactly(admin_api, vas):
    assert admin_api.get("/accounts/acme/virtual-accounts")[0] == 422
    assert admin_api.post("/accounts/Acme/virtual-accounts/physics/delete")[0] == 422
    assert admin_api.post("/accounts/Acme/virtual-accounts/Physics%20/delete")[0] == 422
    assert VirtualAccount.objects.filter(name="Physics").exists()


def test_url_encoded_names(admin_api, acme):
    from licensing.services.virtual_accounts import create_virtual_account

    create_virtual_account(actor=None, account=acme, name="R&D ünïcode")
    status, body = admin_api.post("/accounts/Acme/virtual-accounts/R%26D%20%C3%BCn%C3%AFcode/delete")
    assert (status, body["status"]) == (200, "SUCCESS")


def test_list_shows_only_visible_vas(api_as, people, vas):
    status, body = api_as(people["va_user"]).get("/accounts/Acme/virtual-accounts")
    assert status == 200
    assert [va["name"] for va in body["virtualAccounts"]] == ["Physics"]


def test_account_user_may_not_create_or_delete(api_as, people, vas):
    api = api_as(people["account_user"])
    assert api.post("/accounts/Acme/virtual-accounts", {"name": "X"}) == (
        403,
        {
            "status": "ERROR",
            "statusMessage": "Not Authorized to create local Virtual Accounts within local Account 'Acme SA'",
        },
    )
    assert api.post("/accounts/Acme/virtual-accounts/Zoology/delete")[0] == 403
    assert api.delete("/accounts/Acme/virtual-accounts/Zoology")[0] == 403
    assert VirtualAccount.objects.filter(name="Zoology").exists()
    assert not VirtualAccount.objects.filter(name="X").exists()


def test_other_account_is_403(api_as, people, globex):
    api = api_as(people["account_admin"])
    assert api.get("/accounts/Globex/virtual-accounts") == (
        403,
        {
            "status": "ERROR",
            "statusMessage": "Not Authorized to access local Virtual Accounts in local Account 'Globex SA'",
        },
    )
    assert api.post("/accounts/Globex/virtual-accounts", {"name": "X"})[0] == 403


def test_deactivated_account_is_403(api_as, people, acme):
    from licensing.services.accounts import deactivate_account

    deactivate_account(actor=None, account=acme)
    assert api_as(people["sysadmin"]).get("/accounts/Acme/virtual-accounts")[0] == 403


def test_list_query_count_does_not_grow(admin_api, acme, vas, django_assert_max_num_queries):
    from licensing.services.virtual_accounts import create_virtual_account

    with django_assert_max_num_queries(12) as few:
        assert admin_api.get("/accounts/Acme/virtual-accounts")[0] == 200
    for i in range(20):
        create_virtual_account(actor=None, account=acme, name=f"VA {i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(admin_api.get("/accounts/Acme/virtual-accounts")[1]["virtualAccounts"]) == 23

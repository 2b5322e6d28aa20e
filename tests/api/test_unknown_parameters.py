"""A parameter the API does not know is refused with 422 naming it, never ignored.

A misspelt search filter that were ignored would widen the search to every record, and a
script that removes or transfers "the" result would act on all of them. Query strings and
JSON bodies alike; nested names (``sudi.x``) and batch items too; nothing changes on refusal.
"""

import pytest

from licensing.models import Entitlement, ProductInstance, RegistrationToken, VirtualAccount

from .conftest import PREFIXES

pytestmark = pytest.mark.django_db
VA = "/accounts/Acme/virtual-accounts/Physics"


def _refused(status, body, name):
    assert status == 422, body
    assert body["status"] == "ERROR"
    assert f"'{name}'" in body["statusMessage"] and body["statusMessage"].startswith("Unknown ")
    assert body["parameter"] == name


@pytest.mark.parametrize("prefix", PREFIXES)
def test_an_unknown_search_parameter_is_refused_not_ignored(api_as, people, estate, prefix):
    api = api_as(people["account_admin"], prefix)
    status, body = api.get(f"{VA}/devices?serialNumber=97N1PAGTEOZ")
    _refused(status, body, "serialNumber")
    assert "udiSerialNumber" in body["statusMessage"]  # the valid names are listed
    status, body = api.get(f"{VA}/devices?hostName=local.lab&Limit=5")
    _refused(status, body, "Limit")  # names are case-sensitive, as the guide's


def test_the_guides_instance_name_is_a_filter(admin_api, estate):
    """The guide lists "Instance Name" among the search's optional parameters: the first of
    hostname, serial number, host identifier, MAC, IP, SUVI, UUID that the instance has."""
    status, body = admin_api.get(f"{VA}/devices?instanceName=local.lab")
    assert status == 200 and body["totalRecords"] == 1
    assert [d["instanceName"] for d in body["devices"]] == ["local.lab"]
    status, body = admin_api.get(f"{VA}/devices?instanceName=x")
    assert status == 200 and body["totalRecords"] == 0 and body["devices"] == []
    # The serial number is not the instance name of an instance with a hostname.
    status, body = admin_api.get(f"{VA}/devices?instanceName=97N1PAGTEOZ")
    assert status == 200 and body["totalRecords"] == 0


def test_instance_name_falls_back_to_the_serial_number(admin_api, estate, add_pi, vas):
    add_pi(vas["Physics"], "SN-ONLY-1", hostname="")
    status, body = admin_api.get(f"{VA}/devices?instanceName=SN-ONLY-1")
    assert status == 200 and [d["instanceName"] for d in body["devices"]] == ["SN-ONLY-1"]


@pytest.mark.parametrize(
    "path",
    [
        "/accounts?name=Acme",
        "/accounts/Acme/virtual-accounts?name=Physics",
        f"{VA}/tokens?active=true",
    ],
)
def test_query_parameters_on_endpoints_that_take_none(admin_api, estate, path):
    name = path.split("?")[1].split("=")[0]
    status, body = admin_api.get(path)
    assert status == 422, body
    assert body["statusMessage"] == f"Unknown query parameter '{name}'. Valid query parameters: none."


def test_a_query_string_on_a_post_is_refused(admin_api, estate):
    status, body = admin_api.post("/accounts/Acme/devices?virtualAccounts=Physics", {"limit": 5})
    _refused(status, body, "virtualAccounts")


@pytest.mark.parametrize(
    "path, body, name",
    [
        ("/accounts/Acme/licenses", {"virtualAccount": ["Physics"]}, "virtualAccount"),
        ("/accounts/Acme/license-subscriptions", {"statuses": ["Active"]}, "statuses"),
        ("/accounts/Acme/devices", {"limit": 5, "instanceName": "local.lab"}, "instanceName"),
        ("/accounts/Acme/alerts", {"severities": ["Major"]}, "severities"),
    ],
)
def test_an_unknown_body_parameter_of_a_list_is_refused(admin_api, estate, path, body, name):
    status, reply = admin_api.post(path, body)
    _refused(status, reply, name)


def test_creating_a_va_with_an_unknown_parameter_creates_nothing(admin_api, estate):
    status, body = admin_api.post("/accounts/Acme/virtual-accounts", {"name": "New", "isDefault": True})
    _refused(status, body, "isDefault")
    assert not VirtualAccount.objects.filter(name="New").exists()


def test_creating_a_token_with_a_misspelt_parameter_creates_nothing(admin_api, estate):
    status, body = admin_api.post(f"{VA}/tokens", {"expiresAfter": 5})
    _refused(status, body, "expiresAfter")
    assert not RegistrationToken.objects.exists()


def test_deleting_a_va_with_a_body_or_a_query_deletes_nothing(admin_api, estate):
    status, body = admin_api.post("/accounts/Acme/virtual-accounts/Zoology/delete", {"force": True})
    _refused(status, body, "force")
    status, body = admin_api.delete("/accounts/Acme/virtual-accounts/Zoology?force=1")
    _refused(status, body, "force")
    assert VirtualAccount.objects.filter(name="Zoology").exists()


def test_an_empty_body_on_a_bodyless_call_is_fine(admin_api, estate, new_va):
    new_va("Scratch")
    status, body = admin_api.post("/accounts/Acme/virtual-accounts/Scratch/delete", {})
    assert status == 200, body
    status, body = admin_api.post("/upstream_satellites/accounts")
    assert status == 200, body


def test_an_unknown_sudi_field_fails_that_removal_only(admin_api, estate):
    request = {
        "productInstanceRemoveRequests": [
            {"sudi": {"udiPid": "CSR1000V", "udiSerialNumber": "97N1PAGTEOZ", "instanceName": "local.lab"}},
        ]
    }
    status, body = admin_api.post(f"{VA}/devices/remove", request)
    assert status == 422, body
    (item,) = body["statusMessage"]["removeProductInstancesStatus"]
    assert item["status"] == "ERROR" and "'sudi.instanceName'" in item["statusMessage"]
    assert ProductInstance.objects.filter(udi_serial_number="97N1PAGTEOZ").exists()


def test_an_unknown_item_field_fails_that_transfer_only(admin_api, estate):
    status, body = admin_api.post(
        f"{VA}/devices/transfer",
        {
            "productInstances": [
                {
                    "sudi": {"udiPid": "CSR1000V", "udiSerialNumber": "97N1PAGTEOZ"},
                    "targetVirtualAccount": "Zoology",
                    "force": True,
                }
            ]
        },
    )
    assert status == 422, body
    assert "'force'" in body["productsTransferStatus"][0]["statusMessage"]
    assert ProductInstance.objects.get(udi_serial_number="97N1PAGTEOZ").virtual_account.name == "Physics"
    before = list(Entitlement.objects.values_list("virtual_account__name", "quantity").order_by("pk"))
    status, body = admin_api.post(
        f"{VA}/licenses/transfer",
        {
            "licenses": [
                {
                    "license": "UC Manager Basic License (12.x)",
                    "licenseType": "PERPETUAL",
                    "quantity": 1,
                    "targetVirtualAccount": "Zoology",
                    "qty": 1,
                }
            ]
        },
    )
    assert status == 422, body
    assert "'qty'" in body["licensesTransferStatus"][0]["statusMessage"]
    assert list(Entitlement.objects.values_list("virtual_account__name", "quantity").order_by("pk")) == before


def test_no_token_is_still_403_first(client, estate):
    response = client.get(f"/api/v1{VA}/devices?serialNumber=x")
    assert response.status_code == 403

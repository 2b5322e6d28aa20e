"""7-9: license usage, license subscriptions, license transfer."""

import datetime

import pytest
from django.utils import timezone

from core.models import Event
from licensing.models import Entitlement

pytestmark = pytest.mark.django_db


def test_license_usage_field_by_field(admin_api, estate):
    status, body = admin_api.post(
        "/accounts/Acme/licenses", {"virtualAccounts": ["Physics", "Zoology"], "limit": 50, "offset": 0}
    )
    assert status == 200, body
    assert body["status"] == "SUCCESS" and body["statusMessage"] == ""
    assert body["totalRecords"] == 3
    by_name = {(row["virtualAccount"], row["license"]): row for row in body["licenses"]}
    today = timezone.now().date()
    basic = by_name[("Physics", "UC Manager Basic License (12.x)")]
    assert basic == {
        "license": "UC Manager Basic License (12.x)",
        "virtualAccount": "Physics",
        "quantity": 14,
        "inUse": 16,
        "available": 0,
        "status": "In Compliance",
        "billingType": "PREPAID",
        "ahaApps": False,
        "pendingQuantity": 0,
        "reserved": 0,
        "isPortable": False,
        "licenseDetails": [
            {
                "licenseType": "Term",
                "quantity": 4,
                "startDate": (today - datetime.timedelta(days=10)).isoformat(),
                "endDate": (today + datetime.timedelta(days=300)).isoformat(),
                "subscriptionId": "Sub905308",
            },
            {"licenseType": "Perpetual", "quantity": 10, "startDate": "", "endDate": "", "subscriptionId": ""},
        ],
        "licenseSubstitutions": [
            {
                "license": "UC Manager Basic License (12.x)",
                "substitutedLicense": "UC Manager Enhanced License (12.x)",
                "substitutedQuantity": 2,
                "substitutionType": "Substitution From Higher Tier",
            }
        ],
    }
    enhanced = by_name[("Physics", "UC Manager Enhanced License (12.x)")]
    assert (enhanced["quantity"], enhanced["inUse"], enhanced["available"]) == (10, 0, 8)
    assert enhanced["licenseSubstitutions"][0]["substitutionType"] == "Substitution To Lower Tier"
    security = by_name[("Zoology", "CSR 1KV SECURITY 1G")]
    assert (security["quantity"], security["inUse"], security["available"], security["status"]) == (
        5,
        7,
        -2,
        "Out Of Compliance",
    )
    assert len(security["licenseDetails"]) == 1  # the expired line does not count


def test_license_usage_pagination(admin_api, estate):
    everything = admin_api.post("/accounts/Acme/licenses", {"limit": -1})[1]
    assert everything["totalRecords"] == 3 and len(everything["licenses"]) == 3
    first = admin_api.post("/accounts/Acme/licenses", {"limit": 2, "offset": 0})[1]
    second = admin_api.post("/accounts/Acme/licenses", {"limit": 2, "offset": 2})[1]
    assert first["totalRecords"] == second["totalRecords"] == 3
    assert first["licenses"] + second["licenses"] == everything["licenses"]
    beyond = admin_api.post("/accounts/Acme/licenses", {"offset": 10})[1]
    assert beyond["licenses"] == [] and beyond["totalRecords"] == 3


@pytest.mark.parametrize(
    "body", [{"limit": 0}, {"limit": -2}, {"limit": "50"}, {"offset": -1}, {"offset": 1.5}, {"limit": None}]
)
def test_license_usage_bad_limit_or_offset(admin_api, estate, body):
    assert admin_api.post("/accounts/Acme/licenses", body) == (
        422,
        {"status": "ERROR", "statusMessage": "Invalid limit or offset value"},
    )


def test_license_usage_unknown_vas_are_left_out(admin_api, estate):
    status, body = admin_api.post("/accounts/Acme/licenses", {"virtualAccounts": ["Zoology", "Nope", "Chem"]})
    assert status == 200
    assert body["statusMessage"] == (
        "The requested virtual account 'Nope, Chem' doesn't belong to the account 'Acme'. "
        "Hence returning the response for eligible local Virtual Accounts."
    )
    assert {row["virtualAccount"] for row in body["licenses"]} == {"Zoology"}


def test_license_usage_refusals(api_as, people, estate, globex):
    va_user = api_as(people["va_user"])
    status, body = va_user.post("/accounts/Acme/licenses", {})
    assert status == 200 and {row["virtualAccount"] for row in body["licenses"]} == {"Physics"}
    assert va_user.post("/accounts/Acme/licenses", {"virtualAccounts": ["Zoology"]}) == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to access licenses for specified local Virtual Accounts"},
    )
    assert va_user.post("/accounts/Globex/licenses", {})[0] == 403
    assert va_user.post("/accounts/Initech/licenses", {})[0] == 422
    assert va_user.post("/accounts/Acme/licenses", {"virtualAccounts": "Physics"})[0] == 422


def test_license_usage_query_count_is_fixed(
    admin_api, estate, vas, license_def, add_line, add_pi, django_assert_max_num_queries
):
    with django_assert_max_num_queries(20) as few:
        admin_api.post("/accounts/Acme/licenses", {"limit": -1})
    for i in range(15):
        lic = license_def(f"Extra {i}")
        add_line(vas["Default"], lic, 3)
        add_pi(vas["Default"], f"EXTRA{i}", uses={lic: 1})
    with django_assert_max_num_queries(len(few.captured_queries)):
        status, body = admin_api.post("/accounts/Acme/licenses", {"limit": -1})
    assert body["totalRecords"] == 18


def test_subscriptions(admin_api, estate):
    status, body = admin_api.post("/accounts/Acme/license-subscriptions", {})
    assert status == 200
    today = timezone.now().date()
    assert body["status"] == "SUCCESS" and body["totalRecords"] == 2
    assert body["licenseSubscriptions"] == [
        {
            "subscriptionId": "Sub905308",
            "license": "UC Manager Basic License (12.x)",
            "virtualAccount": "Physics",
            "quantity": 4,
            "billingType": "PREPAID",
            "licenseType": "Term",
            "startDate": (today - datetime.timedelta(days=10)).isoformat(),
            "endDate": (today + datetime.timedelta(days=300)).isoformat(),
            "status": "Active",
        },
        {
            "subscriptionId": "SubOld",
            "license": "CSR 1KV SECURITY 1G",
            "virtualAccount": "Zoology",
            "quantity": 2,
            "billingType": "PREPAID",
            "licenseType": "Term",
            "startDate": (today - datetime.timedelta(days=400)).isoformat(),
            "endDate": (today - datetime.timedelta(days=35)).isoformat(),
            "status": "Expired",
        },
    ]
    active = admin_api.post("/accounts/Acme/license-subscriptions", {"status": ["Active"]})[1]
    assert [s["subscriptionId"] for s in active["licenseSubscriptions"]] == ["Sub905308"]
    assert admin_api.post("/accounts/Acme/license-subscriptions", {"status": ["Canceled"]})[1]["totalRecords"] == 0
    only_zoology = admin_api.post("/accounts/Acme/license-subscriptions", {"virtualAccounts": ["Zoology"]})[1]
    assert [s["subscriptionId"] for s in only_zoology["licenseSubscriptions"]] == ["SubOld"]
    page = admin_api.post("/accounts/Acme/license-subscriptions", {"limit": 1, "offset": 1})[1]
    assert page["totalRecords"] == 2 and [s["subscriptionId"] for s in page["licenseSubscriptions"]] == ["SubOld"]


def test_subscription_refusals(api_as, people, estate):
    va_user = api_as(people["va_user"])
    assert va_user.post("/accounts/Acme/license-subscriptions", {"virtualAccounts": ["Zoology"]}) == (
        403,
        {
            "status": "ERROR",
            "statusMessage": "Not Authorized to access license subscriptions for specified local Virtual Accounts",
        },
    )
    nobody = api_as(people["nobody"])
    assert nobody.post("/accounts/Acme/license-subscriptions", {}) == (
        403,
        {
            "status": "ERROR",
            "statusMessage": "Not Authorized to access license subscriptions for local Account Acme SA",
        },
    )
    assert va_user.post("/accounts/Acme/license-subscriptions", {"limit": "x"}) == (
        422,
        {"status": "ERROR", "statusMessage": "Invalid limit or offset value"},
    )
    assert va_user.post("/accounts/Acme/license-subscriptions", {"status": ["Gone"]})[0] == 422


def test_subscriptions_query_count_is_fixed(admin_api, estate, vas, add_line, django_assert_max_num_queries):
    with django_assert_max_num_queries(20) as few:
        admin_api.post("/accounts/Acme/license-subscriptions", {"limit": -1})
    today = timezone.now().date()
    for i in range(20):
        add_line(vas["Zoology"], estate["security"], 1, "subscription", start=today, end=today, subscription_id=f"S{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        status, body = admin_api.post("/accounts/Acme/license-subscriptions", {"limit": -1})
    assert len(body["licenseSubscriptions"]) == 22


TRANSFER = "/accounts/Acme/virtual-accounts/Physics/licenses/transfer"


def test_transfer_licenses(admin_api, estate, vas):
    status, body = admin_api.post(
        TRANSFER,
        {
            "licenses": [
                {
                    "license": "UC Manager Enhanced License (12.x)",
                    "licenseType": "TERM",
                    "precedence": "LONGEST_TERM_FIRST",
                    "quantity": 5,
                    "targetVirtualAccount": "Zoology",
                },
            ]
        },
    )
    assert status == 200, body
    assert body["status"] == "SUCCESS" and body["statusMessage"] == "5 licenses transferred successfully."
    assert body["licensesTransferStatus"] == [
        {
            "license": "UC Manager Enhanced License (12.x)",
            "licenseType": "TERM",
            "precedence": "LONGEST_TERM_FIRST",
            "quantity": 5,
            "targetVirtualAccount": "Zoology",
            "status": "SUCCESS",
            "statusMessage": "5 'UC Manager Enhanced License (12.x)' licenses successfully transferred from Virtual "
            "Account 'Physics' to Virtual Account 'Zoology'.",
        }
    ]
    moved = Entitlement.objects.get(virtual_account=vas["Zoology"], license=estate["enhanced"])
    assert moved.quantity == 5
    assert Event.objects.filter(event_type="license.transferred", username="alice").exists()


def test_transfer_partly_and_item_errors(admin_api, estate, vas):
    status, body = admin_api.post(
        TRANSFER,
        {
            "licenses": [
                {
                    "license": "UC Manager Enhanced License (12.x)",
                    "licenseType": "TERM",
                    "quantity": 2,
                    "targetVirtualAccount": "Default",
                },
                {
                    "license": "CSR 1KV SECURITY 1G",
                    "licenseType": "PERPETUAL",
                    "quantity": 1,
                    "targetVirtualAccount": "Default",
                },
                {
                    "license": "UC Manager Enhanced License (12.x)",
                    "licenseType": "TERM",
                    "quantity": 2,
                    "targetVirtualAccount": "VA9",
                },
                {
                    "license": "UC Manager Enhanced License (12.x)",
                    "licenseType": "BOTH",
                    "quantity": 2,
                    "targetVirtualAccount": "Default",
                },
                {
                    "license": "UC Manager Enhanced License (12.x)",
                    "licenseType": "TERM",
                    "quantity": 500,
                    "targetVirtualAccount": "Default",
                },
                {
                    "license": "UC Manager Enhanced License (12.x)",
                    "licenseType": "TERM",
                    "quantity": "2",
                    "targetVirtualAccount": "Default",
                },
            ]
        },
    )
    assert status == 200
    assert body["status"] == "WARNING" and body["statusMessage"] == "2 licenses transferred successfully."
    messages = [s["statusMessage"] for s in body["licensesTransferStatus"]]
    assert [s["status"] for s in body["licensesTransferStatus"]] == ["SUCCESS"] + ["ERROR"] * 5
    assert messages[1] == "Failed to find CSR 1KV SECURITY 1G license in Virtual Account Physics."
    assert messages[2] == "Failed to find Virtual Account 'VA9'."
    assert messages[3] == "Invalid licenseType or precedence value."
    assert messages[4] == (
        "Quantity to transfer is greater than the available quantity for license "
        "'UC Manager Enhanced License (12.x)' license in Virtual Account 'Physics'."
    )
    assert messages[5] == "quantity: A valid integer is required."
    assert Entitlement.objects.filter(virtual_account=vas["Default"]).count() == 1


def test_transfer_all_failed_is_422(admin_api, estate):
    status, body = admin_api.post(
        TRANSFER,
        {
            "licenses": [
                {
                    "license": "UC Manager Enhanced License (12.x)",
                    "licenseType": "TERM",
                    "quantity": 1,
                    "precedence": "SHORTEST",
                    "targetVirtualAccount": "Default",
                }
            ]
        },
    )
    assert status == 422
    assert body["status"] == "ERROR" and body["statusMessage"] == "All licenses failed to transfer."


@pytest.mark.parametrize("body", [{"licenses": []}, {"licenses": {}}, {}, {"licenses": [{}] * 11}])
def test_transfer_bad_requests(admin_api, estate, body):
    status, reply = admin_api.post(TRANSFER, body)
    assert status == 422 and reply["status"] == "ERROR"


def test_transfer_at_most_ten(admin_api, estate):
    item = {
        "license": "UC Manager Enhanced License (12.x)",
        "licenseType": "TERM",
        "quantity": 1,
        "targetVirtualAccount": "Default",
    }
    status, body = admin_api.post(TRANSFER, {"licenses": [item] * 10})
    assert (status, body["statusMessage"]) == (200, "10 licenses transferred successfully.")
    assert admin_api.post(TRANSFER, {"licenses": [item] * 11})[0] == 422
    assert Entitlement.objects.filter(virtual_account__name="Default").count() == 10


def test_transfer_refusals(api_as, people, estate, vas):
    item = {
        "license": "UC Manager Enhanced License (12.x)",
        "licenseType": "TERM",
        "quantity": 1,
        "targetVirtualAccount": "Zoology",
    }
    # A VA Admin on Physics only: the target is not theirs -> every item refused -> 403.
    status, body = api_as(people["va_admin"]).post(TRANSFER, {"licenses": [item]})
    assert status == 403
    assert body["status"] == "ERROR" and body["statusMessage"] == "All licenses failed to transfer."
    assert body["licensesTransferStatus"][0]["statusMessage"] == "You do not have access to 'Zoology'."
    # Not on the source VA at all.
    assert api_as(people["nobody"]).post(TRANSFER, {"licenses": [item]}) == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to access Virtual Account 'Physics'."},
    )
    zoology = "/accounts/Acme/virtual-accounts/Zoology/licenses/transfer"
    assert api_as(people["va_user"]).post(zoology, {"licenses": [item]}) == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to access Virtual Account 'Zoology'."},
    )
    assert not Entitlement.objects.filter(virtual_account=vas["Zoology"], license=estate["enhanced"]).exists()


def test_va_role_on_both_vas_may_transfer(api_as, make_user, grant_role, estate, vas):
    """docs/rbac.md: VA Admin / VA User need a role on "both VAs" to transfer between them."""
    from accounts.roles import AccountRole

    user = make_user("frank")
    grant_role(user, vas["Physics"], AccountRole.VA_USER)
    grant_role(user, vas["Zoology"], AccountRole.VA_USER)
    item = {
        "license": "UC Manager Enhanced License (12.x)",
        "licenseType": "TERM",
        "quantity": 3,
        "targetVirtualAccount": "Zoology",
    }
    status, body = api_as(user).post(TRANSFER, {"licenses": [item]})
    assert (status, body["status"]) == (200, "SUCCESS")
    assert Entitlement.objects.get(virtual_account=vas["Zoology"], license=estate["enhanced"]).quantity == 3
    item["targetVirtualAccount"] = "Default"  # no role there
    status, body = api_as(user).post(TRANSFER, {"licenses": [item]})
    assert (
        status == 403 and body["licensesTransferStatus"][0]["statusMessage"] == "You do not have access to 'Default'."
    )


def test_license_usage_reports_reservations(admin_api, estate, vas, add_pi, django_assert_max_num_queries):
    """``reserved``: the licenses reserved for product instances of the VA; ``available`` is net of them,
    and reserving adds no query per record."""
    from licensing.services import reservations

    with django_assert_max_num_queries(20) as before:
        admin_api.post("/accounts/Acme/licenses", {"limit": -1})
    spare = add_pi(vas["Physics"], "SPARE1")
    reservations.reserve_licenses(actor=None, product_instance=spare, license=estate["enhanced"], quantity=5)
    with django_assert_max_num_queries(len(before.captured_queries)):
        status, body = admin_api.post("/accounts/Acme/licenses", {"virtualAccounts": ["Physics"]})
    assert status == 200, body
    enhanced = next(row for row in body["licenses"] if row["license"] == "UC Manager Enhanced License (12.x)")
    # 10 purchased, 2 lent to Basic, 5 reserved
    assert (enhanced["quantity"], enhanced["inUse"], enhanced["reserved"], enhanced["available"]) == (10, 0, 5, 3)
    basic = next(row for row in body["licenses"] if row["license"] == "UC Manager Basic License (12.x)")
    assert basic["reserved"] == 0


def test_subscriptions_reply_under_the_cloud_apis_key_with_its_billing_type(admin_api, estate, vas, add_line):
    """CSSM's Smart Accounts API answers ``licenseSubscriptions`` (not ``subscriptions``) with a
    ``billingType`` per record; a usage-billed license says USAGE, in both lists."""
    usage = estate["security"]
    usage.billing_type = "usage"
    usage.save(update_fields=["billing_type"])
    status, body = admin_api.post("/accounts/Acme/license-subscriptions", {"virtualAccounts": ["Zoology"]})
    assert status == 200 and "subscriptions" not in body
    assert [(s["subscriptionId"], s["billingType"]) for s in body["licenseSubscriptions"]] == [("SubOld", "USAGE")]
    status, body = admin_api.post("/accounts/Acme/licenses", {"virtualAccounts": ["Zoology", "Physics"]})
    assert {(r["license"], r["billingType"]) for r in body["licenses"]} == {
        ("CSR 1KV SECURITY 1G", "USAGE"),
        ("UC Manager Basic License (12.x)", "PREPAID"),
        ("UC Manager Enhanced License (12.x)", "PREPAID"),
    }


def test_license_usage_is_portable_where_cssm_lets_the_license_be_ported(
    admin_api, estate, license_def, django_assert_num_queries
):
    from licensing.models import LicenseDefinition, LocalAccount, PortableLicense

    acme = LocalAccount.objects.get(name="Acme")
    basic = LicenseDefinition.objects.get(name="UC Manager Basic License (12.x)")
    PortableLicense.objects.create(account=acme, license=basic, target=license_def("UC Manager Cloud"))
    status, body = admin_api.post("/accounts/Acme/licenses", {"virtualAccounts": ["Physics", "Zoology"]})
    assert status == 200, body
    portable = {(row["virtualAccount"], row["license"]): row["isPortable"] for row in body["licenses"]}
    assert portable == {
        ("Physics", "UC Manager Basic License (12.x)"): True,
        ("Physics", "UC Manager Enhanced License (12.x)"): False,
        ("Zoology", "CSR 1KV SECURITY 1G"): False,
    }

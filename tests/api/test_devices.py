"""10-13: product instance usage, search, transfer, removal."""

import datetime

import pytest

from core.models import Event
from licensing.models import Alert, ProductInstance

pytestmark = pytest.mark.django_db
VA = "/accounts/Acme/virtual-accounts/Physics"


def _utc(value):
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_device_usage_field_by_field(admin_api, estate):
    status, body = admin_api.post("/accounts/Acme/devices", {"virtualAccounts": ["Physics", "Zoology"]})
    assert status == 200, body
    assert body["status"] == "SUCCESS" and body["statusMessage"] == "" and body["totalRecords"] == 2
    pi1, pi2 = estate["pi1"], estate["pi2"]
    assert body["devices"] == [
        {
            "virtualAccount": "Zoology",
            "hostName": "infy-lm05",
            "sudi": {
                "suvi": "SUVI-1",
                "uuid": "",
                "hostIdentifier": "HID-9",
                "udiPid": "N77-C7710",
                "udiSerialNumber": "JPG3032006T",
                "udiVid": "",
                "macAddress": "",
            },
            "productName": "Cloud Services Router",
            "productDescription": "Cloud Services Router",
            "productTagName": ",1.0_csr-tag",
            "productType": "CSR1KV",
            "status": "Out Of Compliance",
            "registrationDate": _utc(pi2.registered_at),
            "lastContactDate": _utc(pi2.last_contact_at),
            "licenseUsage": [{"license": "CSR 1KV SECURITY 1G", "quantity": 7}],
        },
        {
            "virtualAccount": "Physics",
            "hostName": "local.lab",
            "sudi": {
                "suvi": "",
                "uuid": "062f582e30844ed2b8d005c14c425b06",
                "hostIdentifier": "",
                "udiPid": "CSR1000V",
                "udiSerialNumber": "97N1PAGTEOZ",
                "udiVid": "",
                "macAddress": "00:11:22:33:44:55",
            },
            "productName": "Cloud Services Router",
            "productDescription": "Cloud Services Router",
            "productTagName": ",1.0_csr-tag",
            "productType": "CSR1KV",
            "status": "In Compliance",
            "registrationDate": _utc(pi1.registered_at),
            "lastContactDate": _utc(pi1.last_contact_at),
            "licenseUsage": [{"license": "UC Manager Basic License (12.x)", "quantity": 16}],
        },
    ]


def test_device_usage_without_identity(admin_api, vas, add_pi):
    add_pi(vas["Default"], "SYNCED1", identity=False)
    status, body = admin_api.post("/accounts/Acme/devices", {})
    device = body["devices"][0]
    # The guide's usage example: an identifier the instance never sent is "" (the search's is null).
    assert device["sudi"]["udiSerialNumber"] == "SYNCED1" and device["sudi"]["uuid"] == ""
    assert device["productTagName"] == "" and device["licenseUsage"] == []


def test_device_usage_pagination_and_refusals(api_as, people, estate, vas, add_pi):
    for i in range(5):
        add_pi(vas["Physics"], f"P{i}")
    api = api_as(people["account_admin"])
    whole = api.post("/accounts/Acme/devices", {"limit": -1})[1]
    assert whole["totalRecords"] == 7 and len(whole["devices"]) == 7
    pages = [api.post("/accounts/Acme/devices", {"limit": 3, "offset": o})[1]["devices"] for o in (0, 3, 6)]
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sum(pages, []) == whole["devices"]
    assert api.post("/accounts/Acme/devices", {"limit": 0}) == (
        422,
        {"status": "ERROR", "statusMessage": "Invalid limit or offset value"},
    )
    va_user = api_as(people["va_user"])
    assert {d["virtualAccount"] for d in va_user.post("/accounts/Acme/devices", {})[1]["devices"]} == {"Physics"}
    assert va_user.post("/accounts/Acme/devices", {"virtualAccounts": ["Zoology"]}) == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to access devices for specified local Virtual Accounts"},
    )


def test_device_usage_queries_do_not_grow(admin_api, estate, vas, add_pi, django_assert_max_num_queries):
    for i in range(3):
        add_pi(vas["Physics"], f"A{i}", uses={estate["basic"]: 1})
    with django_assert_max_num_queries(25) as few:
        admin_api.post("/accounts/Acme/devices", {"limit": -1})
    for i in range(40):
        add_pi(vas["Zoology"], f"B{i}", uses={estate["security"]: 1, estate["enhanced"]: 1})
    for body in ({"limit": -1}, {"limit": 50}, {"limit": 10, "offset": 30}):
        with django_assert_max_num_queries(len(few.captured_queries)):
            status, reply = admin_api.post("/accounts/Acme/devices", body)
        assert status == 200 and reply["totalRecords"] == 45


def test_streamed_reply_is_valid_json_for_many(
    admin_api, vas, add_pi, license_def, monkeypatch, django_assert_max_num_queries
):
    from licensing.api import streaming

    monkeypatch.setattr(streaming, "CHUNK_SIZE", 7)  # several database chunks
    lic = license_def("Chunked")
    for i in range(30):
        add_pi(vas["Default"], f"S{i:03d}", uses={lic: i + 1})
    response = admin_api.client.post(
        "/api/v1/accounts/Acme/devices", data='{"limit": -1}', content_type="application/json"
    )
    assert response.streaming
    import json

    with django_assert_max_num_queries(30) as queries:
        body = json.loads(b"".join(response.streaming_content))
    assert [d["sudi"]["udiSerialNumber"] for d in body["devices"]] == [f"S{i:03d}" for i in range(30)]
    assert [d["licenseUsage"] for d in body["devices"]] == [
        [{"license": "Chunked", "quantity": i + 1}] for i in range(30)
    ]
    usage_queries = [q for q in queries.captured_queries if "licensing_licenseusage" in q["sql"]]
    assert len(usage_queries) == 5  # one per chunk of 7 rows


@pytest.mark.parametrize(
    "query, serials",
    [
        ("", ["97N1PAGTEOZ"]),
        ("?hostName=local.lab", ["97N1PAGTEOZ"]),
        ("?hostName=LOCAL.LAB", []),
        ("?udiSerialNumber=97N1PAGTEOZ", ["97N1PAGTEOZ"]),
        ("?uuid=062f582e30844ed2b8d005c14c425b06", ["97N1PAGTEOZ"]),
        ("?macAddress=00:11:22:33:44:55", ["97N1PAGTEOZ"]),
        ("?ipAddress=10.0.0.7", ["97N1PAGTEOZ"]),
        ("?ipAddress=10.0.0.8", []),
        ("?suvi=SUVI-1", []),  # that one is in Zoology
        ("?hostIdentifier=HID-9", []),
        ("?hostName=local.lab&udiSerialNumber=nope", []),
    ],
)
def test_device_search(admin_api, estate, query, serials):
    status, body = admin_api.get(f"{VA}/devices{query}")
    assert status == 200
    assert body["status"] == "SUCCESS" and body["statusMessage"] == ""
    assert body["totalRecords"] == len(serials)
    assert [d["sudi"]["udiSerialNumber"] for d in body["devices"]] == serials


def test_device_search_fields(admin_api, estate):
    status, body = admin_api.get("/accounts/Acme/virtual-accounts/Zoology/devices?suvi=SUVI-1")
    assert body["devices"] == [
        {
            "instanceName": "infy-lm05",
            "sudi": {
                "suvi": "SUVI-1",
                "uuid": None,
                "hostIdentifier": "HID-9",
                "udiPid": "N77-C7710",
                "udiSerialNumber": "JPG3032006T",
                "udiVid": None,
                "macAddress": None,
            },
            "productTagName": ",1.0_csr-tag",
        }
    ]


def test_device_search_instance_name_falls_back(admin_api, vas, add_pi):
    add_pi(vas["Physics"], "SERIAL9", hostname="")
    assert admin_api.get(f"{VA}/devices")[1]["devices"][0]["instanceName"] == "SERIAL9"


def test_device_search_paging_and_errors(admin_api, vas, add_pi, django_assert_max_num_queries):
    for i in range(12):
        add_pi(vas["Physics"], f"Q{i:02d}")
    assert [d["sudi"]["udiSerialNumber"] for d in admin_api.get(f"{VA}/devices?limit=5&offset=10")[1]["devices"]] == [
        "Q10",
        "Q11",
    ]
    assert admin_api.get(f"{VA}/devices?limit=-1")[1]["totalRecords"] == 12
    with django_assert_max_num_queries(20) as few:
        admin_api.get(f"{VA}/devices?limit=-1")
    for i in range(30):
        add_pi(vas["Physics"], f"R{i:02d}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(admin_api.get(f"{VA}/devices?limit=-1")[1]["devices"]) == 42
    for bad in ("limit=abc", "limit=0", "offset=-5", "limit=1.5"):
        assert admin_api.get(f"{VA}/devices?{bad}") == (
            422,
            {"status": "ERROR", "statusMessage": "Invalid limit or offset value"},
        )
    assert admin_api.get("/accounts/Acme/virtual-accounts/Nope/devices")[0] == 422


def _sudi(pi):
    return {
        "suvi": None,
        "uuid": None,
        "hostIdentifier": None,
        "udiPid": pi.udi_pid,
        "udiSerialNumber": pi.udi_serial_number,
        "udiVid": None,
        "macAddress": None,
    }


def test_device_transfer(admin_api, estate, vas, add_pi):
    other = add_pi(vas["Physics"], "JPG3032004T", pid="N77-C7711")
    status, body = admin_api.post(
        f"{VA}/devices/transfer",
        {
            "productInstances": [
                {"sudi": _sudi(estate["pi1"]), "productTagName": ",1.0_csr-tag", "targetVirtualAccount": "Zoology"},
                {"sudi": _sudi(other), "productTagName": ",1.0_csr-tag", "targetVirtualAccount": "Default"},
            ]
        },
    )
    assert status == 200, body
    assert body["status"] == "SUCCESS" and body["statusMessage"] == "2 product instances transferred successfully."
    assert body["productsTransferStatus"] == [
        {
            "status": "SUCCESS",
            "statusMessage": "Device 'CSR1000V' successfully transferred from Virtual Account "
            "'Physics' to Virtual Account 'Zoology'.",
        },
        {
            "status": "SUCCESS",
            "statusMessage": "Device 'N77-C7711' successfully transferred from Virtual Account "
            "'Physics' to Virtual Account 'Default'.",
        },
    ]
    estate["pi1"].refresh_from_db()
    assert estate["pi1"].virtual_account == vas["Zoology"]
    assert Event.objects.filter(event_type="pi.transferred", username="alice").count() == 2


def test_device_transfer_partly_and_all_failed(admin_api, estate, vas):
    missing = {"udiPid": "N897-C0987", "udiSerialNumber": "X"}
    status, body = admin_api.post(
        f"{VA}/devices/transfer",
        {
            "productInstances": [
                {"sudi": _sudi(estate["pi1"]), "targetVirtualAccount": "Zoology"},
                {"sudi": missing, "targetVirtualAccount": "Zoology"},
            ]
        },
    )
    assert status == 200 and body["status"] == "WARNING"
    assert body["statusMessage"] == "1 product instances transferred successfully."
    assert body["productsTransferStatus"][1] == {
        "status": "ERROR",
        "statusMessage": "Failed to find device 'N897-C0987' in Virtual Account 'Physics'.",
    }
    status, body = admin_api.post(
        f"{VA}/devices/transfer",
        {
            "productInstances": [
                {"sudi": missing, "targetVirtualAccount": "Zoology"},
                {"sudi": _sudi(estate["pi2"]), "targetVirtualAccount": "Physics"},  # not in Physics
                {"sudi": missing, "targetVirtualAccount": "Nope"},
                {"sudi": {"udiPid": 5}, "targetVirtualAccount": "Zoology"},
                {"sudi": _sudi(estate["pi2"]), "productTagName": "other-tag", "targetVirtualAccount": "Zoology"},
            ]
        },
    )
    assert status == 422
    assert body["status"] == "ERROR" and body["statusMessage"] == "all the product instances failed to transfer"
    assert body["productsTransferStatus"][2]["statusMessage"] == "Failed to find Virtual Account 'Nope'."


def test_device_transfer_checks_software_tag(admin_api, estate, vas):
    item = {"sudi": _sudi(estate["pi1"]), "productTagName": "regid.other", "targetVirtualAccount": "Zoology"}
    assert admin_api.post(f"{VA}/devices/transfer", {"productInstances": [item]})[0] == 422
    estate["pi1"].refresh_from_db()
    assert estate["pi1"].virtual_account == vas["Physics"]


@pytest.mark.parametrize(
    "body", [{"productInstances": []}, {"productInstances": [{}] * 11}, {}, {"productInstances": 1}]
)
def test_device_transfer_bad_requests(admin_api, estate, body):
    status, reply = admin_api.post(f"{VA}/devices/transfer", body)
    assert status == 422 and reply["status"] == "ERROR"


def test_device_transfer_refusals(api_as, people, estate, vas):
    item = {"sudi": _sudi(estate["pi1"]), "targetVirtualAccount": "Zoology"}
    status, body = api_as(people["va_admin"]).post(f"{VA}/devices/transfer", {"productInstances": [item]})
    assert status == 403 and body["productsTransferStatus"][0]["statusMessage"] == (
        "Not Authorized to access Virtual Account 'Zoology'."
    )
    assert api_as(people["va_user"]).post(
        "/accounts/Acme/virtual-accounts/Zoology/devices/transfer", {"productInstances": [item]}
    ) == (403, {"status": "ERROR", "statusMessage": "Not Authorized to access Virtual Account 'Zoology'."})
    estate["pi1"].refresh_from_db()
    assert estate["pi1"].virtual_account == vas["Physics"]


def test_device_remove(admin_api, estate):
    pi = estate["pi1"]
    Alert.objects.create(
        account=pi.account,
        virtual_account=pi.virtual_account,
        product_instance=pi,
        alert_type=Alert.Type.PI_FAILED_TO_RENEW,
        severity=Alert.Severity.MAJOR,
        key="k",
        message="m",
        opened_at=pi.registered_at,
        updated_at=pi.registered_at,
    )
    status, body = admin_api.post(
        f"{VA}/devices/remove",
        {
            "productInstanceRemoveRequests": [
                {"sudi": {"udiPid": "CSR1000V", "udiSerialNumber": "97N1PAGTEOZ"}, "productTagName": ",1.0_csr-tag"}
            ]
        },
    )
    assert status == 200, body
    assert body == {
        "status": "SUCCESS",
        "statusMessage": {
            "statusMessage": "1 Product Instance(s) removed successfully.",
            "removeProductInstancesStatus": [
                {
                    "status": "SUCCESS",
                    "statusMessage": "The Product Instance local.lab was successfully removed.",
                    "device": "udiPid:CSR1000V udiSerialNumber:97N1PAGTEOZ",
                }
            ],
        },
    }
    assert not ProductInstance.objects.filter(pk=pi.pk).exists()
    assert Event.objects.filter(event_type="pi.removed", username="alice").exists()
    assert Alert.objects.get().status == Alert.Status.CLEARED


def test_device_remove_failures(admin_api, estate):
    status, body = admin_api.post(
        f"{VA}/devices/remove",
        {"productInstanceRemoveRequests": [{"sudi": {"udiPid": "N77-C7710", "udiSerialNumber": "JPG3032006T"}}]},
    )  # lives in Zoology
    assert status == 422
    assert body["status"] == "ERROR"
    assert body["statusMessage"]["removeProductInstancesStatus"][0]["statusMessage"] == (
        "Failed to find device with specified information in Virtual Account 'Physics'."
    )
    assert ProductInstance.objects.count() == 2
    assert admin_api.post(f"{VA}/devices/remove", {"productInstanceRemoveRequests": "x"})[0] == 422


def test_device_remove_refusals(api_as, people, estate):
    """docs/rbac.md: a VA User may not remove product instances; a VA Admin may, on their VA."""
    item = {"sudi": {"udiPid": "CSR1000V", "udiSerialNumber": "97N1PAGTEOZ"}}
    assert api_as(people["va_user"]).post(f"{VA}/devices/remove", {"productInstanceRemoveRequests": [item]}) == (
        403,
        {
            "status": "ERROR",
            "statusMessage": "Not Authorized to remove product instances from Virtual Account 'Physics'.",
        },
    )
    assert ProductInstance.objects.count() == 2
    assert api_as(people["va_admin"]).post(f"{VA}/devices/remove", {"productInstanceRemoveRequests": [item]})[0] == 200

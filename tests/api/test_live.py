"""The REST API over HTTPS against the real ``manage.py serve`` (gunicorn, TLS), driven with
requests-oauthlib the way a customer's script would: a token from /oauth/token (client
credentials, and the password grant), then every endpoint, checking the guide's reply shapes.
"""

import json
import re
import urllib.parse

import pytest

requests = pytest.importorskip("requests")
requests_oauthlib = pytest.importorskip("requests_oauthlib")
from oauthlib.oauth2 import BackendApplicationClient, LegacyApplicationClient  # noqa: E402

DEVICE_KEYS = {
    "virtualAccount",
    "hostName",
    "sudi",
    "productName",
    "productDescription",
    "productTagName",
    "productType",
    "status",
    "registrationDate",
    "lastContactDate",
    "licenseUsage",
}
SUDI_KEYS = {"suvi", "uuid", "hostIdentifier", "udiPid", "udiSerialNumber", "udiVid", "macAddress"}
LICENSE_KEYS = {
    "license",
    "virtualAccount",
    "quantity",
    "inUse",
    "available",
    "status",
    "billingType",
    "ahaApps",
    "pendingQuantity",
    "reserved",
    "isPortable",
    "licenseDetails",
    "licenseSubstitutions",
}
ALERT_KEYS = {"virtualAccount", "message", "severity", "messageType", "actionDue", "source", "sourceType"}
UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _session(server, client, client_id, secret, **extra):
    session = requests_oauthlib.OAuth2Session(client=client)
    session.trust_env = False  # loopback only, the generated certificate only
    session.verify = str(server.cert)
    token = session.fetch_token(
        f"{server.url}/oauth/token",
        client_id=client_id,
        client_secret=secret,
        include_client_id=True,
        timeout=20,
        **extra,
    )
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    return session


@pytest.mark.live
def test_every_endpoint_over_https(server_factory):
    server = server_factory("api")
    server.manage("migrate", "--noinput")
    # A System Admin for the password grant, made directly (ensure_admin's generated password
    # has its own tests: tests/test_ensure_admin.py).
    admin_password = "Api-Live-Test-Password-1!"
    server.manage(
        "shell",
        "-c",
        (
            "from accounts.models import User; from accounts.roles import SystemRole; "
            "u = User(username='apiadmin', system_role=SystemRole.ADMIN, needs_first_login_wizard=False); "
            f"u.set_password({admin_password!r}); u.save()"
        ),
    )
    server.manage("api_console", "enable")
    server.manage("seed_demo", "--product-instances", "40", "--account", "Demo Lab")
    machine = json.loads(
        server.manage("api_client", "create", "--name", "ci", "--account", "Demo Lab", "--role", "account_admin").stdout
    )
    people = json.loads(server.manage("api_client", "create", "--name", "people", "--grant-type", "password").stdout)
    server.start()
    server.wait_until_up()

    api = _session(
        server, BackendApplicationClient(client_id=machine["client_id"]), machine["client_id"], machine["client_secret"]
    )
    account = urllib.parse.quote("Demo Lab")
    base = f"{server.url}/api/v1/accounts/{account}"

    def call(method, url, body=None, expect=200):
        response = api.request(method, url, json=body, timeout=60)
        assert response.status_code == expect, (url, response.status_code, response.text[:500])
        assert response.headers["Content-Type"].startswith("application/json")
        return response.json()

    # Liveness probe: no token is 403 (clients rely on it).
    bare = requests.get(f"{base}/virtual-accounts", verify=str(server.cert), timeout=10)
    assert bare.status_code == 403

    # The local accounts, at both spellings.
    accounts = call("GET", f"{server.url}/api/v1/accounts")["accounts"]
    assert [a["name"] for a in accounts] == ["Demo Lab"]
    assert set(accounts[0]) == {
        "account_id",
        "domain",
        "name",
        "cslu_tenant_url",
        "cssm_smart_account_id",
        "cssm_smart_account_name",
        "status",
    }
    assert accounts[0]["cslu_tenant_url"].startswith(f"https://localhost:{server.port}/cslu/v1/pi/Demo%20Lab-")
    assert call("POST", f"{server.url}/backend/api/v1/upstream_satellites/accounts")["accounts"] == accounts

    # 1-3 virtual accounts
    vas = call("GET", f"{base}/virtual-accounts")
    assert vas["status"] == "SUCCESS"
    names = [va["name"] for va in vas["virtualAccounts"]]
    assert names[0] == "Default" and vas["virtualAccounts"][0]["isDefault"] == "true" and "Campus" in names
    assert all(set(va) == {"name", "description", "isDefault"} for va in vas["virtualAccounts"])
    assert call("POST", f"{base}/virtual-accounts", {"name": "Test VA", "description": "Test VA Creation"}) == {
        "status": "SUCCESS",
        "statusMessage": "Virtual Account 'Test VA' created successfully",
    }
    assert call("POST", f"{base}/virtual-accounts", {"name": "Test VA"}, expect=422)["statusMessage"] == (
        "The specified name 'Test VA' for the virtual account is already in use."
    )

    # 4-6 tokens
    created = call(
        "POST",
        f"{base}/virtual-accounts/Test%20VA/tokens",
        {"expiresAfterDays": 100, "description": "from CI", "exportControlled": "Not Allowed"},
    )
    assert created["statusMessage"] == "A valid, active token was generated."
    info = created["tokenInfo"]
    assert UTC.fullmatch(info["expirationDate"]) and info["exportControlled"] == "Not Allowed"
    listed = call("GET", f"{base}/virtual-accounts/Test%20VA/tokens")
    assert listed["statusMessage"] == "Successfully read active tokens."
    assert [(t["token"], t["description"], t["exportControl"]) for t in listed["tokens"]] == [
        (info["token"], "from CI", "Not Allowed")
    ]
    revoked = call("POST", f"{base}/virtual-accounts/Test%20VA/tokens/revoke", {"tokens": [info["token"]]})
    assert revoked["status"] == "SUCCESS" and revoked["statusMessage"] == "1 tokens revoked successfully"
    assert revoked["tokensRevokeStatus"][0]["status"] == "SUCCESS"

    # 7-8 licenses
    usage = call("POST", f"{base}/licenses", {"limit": -1})
    assert usage["status"] == "SUCCESS" and usage["totalRecords"] == len(usage["licenses"]) > 0
    assert all(set(row) == LICENSE_KEYS for row in usage["licenses"])
    detail = next(row for row in usage["licenses"] if row["licenseDetails"])["licenseDetails"][0]
    assert set(detail) == {"licenseType", "quantity", "startDate", "endDate", "subscriptionId"}
    page = call("POST", f"{base}/licenses", {"limit": 2, "offset": 1})
    assert page["licenses"] == usage["licenses"][1:3]
    assert call("POST", f"{base}/licenses", {"limit": "all"}, expect=422)["statusMessage"] == (
        "Invalid limit or offset value"
    )
    subscriptions = call("POST", f"{base}/license-subscriptions", {"status": ["Active", "Expired"]})
    assert subscriptions["status"] == "SUCCESS" and subscriptions["totalRecords"] >= len(
        subscriptions["licenseSubscriptions"]
    )

    # 10-11 devices
    devices = call("POST", f"{base}/devices", {"limit": -1})
    assert devices["totalRecords"] == len(devices["devices"]) >= 40
    assert all(set(d) == DEVICE_KEYS and set(d["sudi"]) == SUDI_KEYS for d in devices["devices"])
    campus = [d for d in devices["devices"] if d["virtualAccount"] == "Campus"]
    device = campus[0]
    assert UTC.fullmatch(device["registrationDate"])
    found = call("GET", f"{base}/virtual-accounts/Campus/devices?hostName={urllib.parse.quote(device['hostName'])}")
    assert found["totalRecords"] == 1
    # The same identifiers; one never sent is "" in the usage list and null in the search (the guide's).
    assert found["devices"][0]["sudi"] == {key: value or None for key, value in device["sudi"].items()}
    assert set(found["devices"][0]) == {"instanceName", "sudi", "productTagName"}

    # 12-13 device transfer and removal
    sudi = {"udiPid": device["sudi"]["udiPid"], "udiSerialNumber": device["sudi"]["udiSerialNumber"]}
    moved = call(
        "POST",
        f"{base}/virtual-accounts/Campus/devices/transfer",
        {"productInstances": [{"sudi": sudi, "targetVirtualAccount": "Test VA"}]},
    )
    assert moved["status"] == "SUCCESS" and moved["productsTransferStatus"][0]["status"] == "SUCCESS"
    removed = call(
        "POST", f"{base}/virtual-accounts/Test%20VA/devices/remove", {"productInstanceRemoveRequests": [{"sudi": sudi}]}
    )
    assert removed["status"] == "SUCCESS"
    assert removed["statusMessage"]["statusMessage"] == "1 Product Instance(s) removed successfully."
    assert removed["statusMessage"]["removeProductInstancesStatus"][0]["device"] == (
        f"udiPid:{sudi['udiPid']} udiSerialNumber:{sudi['udiSerialNumber']}"
    )

    # 9 license transfer: one license with purchased lines in Default
    line = next(
        row
        for row in usage["licenses"]
        if row["virtualAccount"] != "Test VA"
        and row["available"] > 0
        and any(d["licenseType"] == "Perpetual" for d in row["licenseDetails"])
    )
    source = urllib.parse.quote(line["virtualAccount"])
    transfer = call(
        "POST",
        f"{base}/virtual-accounts/{source}/licenses/transfer",
        {
            "licenses": [
                {
                    "license": line["license"],
                    "licenseType": "PERPETUAL",
                    "quantity": 1,
                    "targetVirtualAccount": "Test VA",
                }
            ]
        },
    )
    assert transfer["status"] == "SUCCESS" and transfer["statusMessage"] == "1 licenses transferred successfully."

    # 14 alerts
    alerts = call("POST", f"{base}/alerts", {"severity": ["Major", "Minor"], "limit": -1})
    assert alerts["status"] == "SUCCESS" and alerts["totalRecords"] == len(alerts["alerts"]) > 0
    assert all(ALERT_KEYS <= set(a) and a["severity"] in ("Major", "Minor") for a in alerts["alerts"])

    # 3 delete (both spellings), then the schema and its page
    assert call("POST", f"{base}/virtual-accounts", {"name": "Gone"})["status"] == "SUCCESS"
    assert (
        call("DELETE", f"{base}/virtual-accounts/Gone")["statusMessage"]
        == "Virtual Account 'Gone' deleted successfully"
    )
    assert (
        call("POST", f"{server.url}/backend/api/v1/accounts/{account}/virtual-accounts/Test%20VA/delete")["status"]
        == "SUCCESS"
    )
    schema = api.get(f"{server.url}/api/v1/schema?format=json", timeout=20).json()
    assert schema["openapi"].startswith("3.") and "/api/v1/accounts/{account}/devices" in schema["paths"]
    assert api.get(f"{server.url}/api/v1/docs", timeout=20).status_code == 200

    # The password grant acts as the user: the System Admin sees the account too.
    person = _session(
        server,
        LegacyApplicationClient(client_id=people["client_id"]),
        people["client_id"],
        people["client_secret"],
        username="apiadmin",
        password=admin_password,
    )
    response = person.get(f"{base}/virtual-accounts", timeout=20)
    assert response.status_code == 200 and response.json()["virtualAccounts"][0]["name"] == "Default"

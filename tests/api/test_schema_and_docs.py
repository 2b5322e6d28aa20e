"""The OpenAPI schema and its doc page: public, served at both prefixes, no external assets."""

import json

import pytest

from tests.api.conftest import PREFIXES

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("prefix", PREFIXES)
def test_schema_is_openapi_3_with_every_operation(client, prefix):
    response = client.get(f"{prefix}/schema?format=json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    schemes = schema["components"]["securitySchemes"]
    assert set(schemes) == {"oauth2", "oauth2Backend"}
    for name, token_url in (("oauth2", "/oauth/token"), ("oauth2Backend", "/backend/oauth/token")):
        assert schemes[name]["type"] == "oauth2"
        assert schemes[name]["flows"] == {
            "clientCredentials": {"tokenUrl": token_url, "scopes": {}},
            "password": {"tokenUrl": token_url, "scopes": {}},
        }
    assert schema["paths"]["/oauth/token"]["post"]["operationId"] == "oauth_token"
    assert schema["paths"]["/backend/oauth/token"]["post"]["operationId"] == "oauth_token_backend"
    ids = {
        op["operationId"]
        for path, methods in schema["paths"].items()
        if path.startswith("/api/v1/")
        for op in methods.values()
    }
    backend_ids = {
        op["operationId"]
        for path, methods in schema["paths"].items()
        if path.startswith("/backend/api/v1/")
        for op in methods.values()
    }
    assert backend_ids == {f"{i}_backend" for i in ids}
    for path, methods in schema["paths"].items():
        for method, op in methods.items():
            if path.endswith("/oauth/token"):
                continue
            assert op["security"] == [{"oauth2": []}, {"oauth2Backend": []}]
            # Every error status, each with the API's error body; never a 401.
            assert {"403", "404", "405", "406", "413", "415", "422", "500"} <= set(op["responses"]), (path, method)
            assert "401" not in op["responses"]
            if "requestBody" in op:
                assert set(op["requestBody"]["content"]) == {"application/json", "application/x-www-form-urlencoded"}
    assert ids == {
        "create_virtual_account",
        "list_virtual_accounts",
        "delete_virtual_account",
        "delete_virtual_account_by_method",
        "create_token",
        "list_tokens",
        "revoke_tokens",
        "license_usage",
        "license_subscriptions",
        "license_transfer",
        "device_usage",
        "device_search",
        "device_transfer",
        "device_remove",
        "alerts",
        "list_local_accounts",
        "list_local_accounts_upstream",
    }
    search = schema["paths"]["/api/v1/accounts/{account}/virtual-accounts/{va}/devices"]["get"]
    assert {p["name"] for p in search["parameters"] if p["in"] == "query"} == {
        "hostName",
        "udiSerialNumber",
        "hostIdentifier",
        "macAddress",
        "ipAddress",
        "suvi",
        "uuid",
        "instanceName",
        "limit",
        "offset",
        "cursor",
    }
    revoke = schema["components"]["schemas"]["TokenRevokeRequest"]["properties"]["tokens"]
    assert (revoke["minItems"], revoke["maxItems"]) == (1, 10)


def test_yaml_schema(client):
    response = client.get("/api/v1/schema")
    assert response.status_code == 200
    assert response.content.startswith(b"openapi: 3.")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_docs_page_uses_only_its_own_assets(client, prefix):
    page = client.get(f"{prefix}/docs")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert '<script src="docs/docs.js"></script>' in html
    assert "http://" not in html and "https://" not in html  # no CDN
    script = client.get(f"{prefix}/docs/docs.js")
    assert script.status_code == 200 and script["Content-Type"].startswith("text/javascript")
    assert b'fetch("schema?format=json"' in script.content
    assert b"http" not in script.content


def test_schema_describes_cursor_pagination(client):
    """Every paged list takes ``cursor`` and answers ``next_cursor`` (nullable) beside ``totalRecords``."""
    schema = json.loads(client.get("/api/v1/schema?format=json").content)
    components = schema["components"]["schemas"]
    for request in ("UsageRequest", "SubscriptionsRequest", "AlertsRequest"):
        cursor = components[request]["properties"]["cursor"]
        assert cursor["type"] == "string" and "next_cursor" in cursor["description"], request
    search = schema["paths"]["/api/v1/accounts/{account}/virtual-accounts/{va}/devices"]["get"]
    assert [p["schema"]["type"] for p in search["parameters"] if p["name"] == "cursor"] == ["string"]
    for reply in ("LicenseUsageReply", "SubscriptionsReply", "DeviceUsageReply", "DeviceSearchReply", "AlertsReply"):
        properties, required = components[reply]["properties"], components[reply]["required"]
        assert properties["next_cursor"]["type"] == "string" and properties["next_cursor"]["nullable"] is True
        assert "next_cursor" not in required and "totalRecords" in required, reply
        assert "cursor mode too" in properties["totalRecords"]["description"]

"""The schema check every API test's exchanges go through (tests/api/openapi_check.py) can fail:
a wrong status, type, name or content type is a mismatch; the replies the API gives are not."""

import json

import pytest

from .openapi_check import SchemaMismatch, check_exchange, is_checked, to_json_schema

DEVICES = "/api/v1/accounts/Acme/devices"
ERROR = json.dumps({"status": "ERROR", "statusMessage": "Invalid limit or offset value"}).encode()
OK = json.dumps({"status": "SUCCESS", "statusMessage": "", "totalRecords": 0, "devices": []}).encode()


def test_a_documented_reply_passes():
    check_exchange("POST", DEVICES, 200, "application/json", OK)
    check_exchange("POST", "/backend/api/v1/accounts/Acme/devices", 422, "application/json", ERROR)
    check_exchange("GET", "/api/v1/nope", 404, "application/json", ERROR)
    check_exchange("GET", DEVICES, 405, "application/json", ERROR)


@pytest.mark.parametrize(
    "method, path, status, content_type, body",
    [
        ("POST", DEVICES, 401, "application/json", ERROR),  # undocumented status
        ("POST", DEVICES, 200, "text/html", b"<html></html>"),  # undocumented content type
        ("POST", DEVICES, 200, "application/json", OK.replace(b"totalRecords", b"total")),  # a renamed field
        ("POST", DEVICES, 200, "application/json", OK.replace(b'"totalRecords": 0', b'"totalRecords": "0"')),
        ("POST", DEVICES, 422, "application/json", json.dumps({"detail": "x"}).encode()),  # DRF's body
        ("GET", "/api/v1/nope", 404, "text/html", b"<html></html>"),  # an HTML 404
        ("GET", "/api/v1/nope", 405, "application/json", ERROR),  # 405 for no path
        ("GET", "/api/v1/nope", 200, "application/json", OK),
    ],
)
def test_a_reply_the_schema_does_not_describe_fails(method, path, status, content_type, body):
    with pytest.raises(SchemaMismatch):
        check_exchange(method, path, status, content_type, body)


def test_nullable_reads_as_null():
    converted = to_json_schema({"type": "string", "nullable": True})
    assert converted == {"anyOf": [{"type": "string"}, {"type": "null"}]}


def test_what_is_checked():
    assert is_checked("/api/v1/accounts") and is_checked("/backend/api/v1/accounts/A/devices")
    assert is_checked("/oauth/token") and is_checked("/backend/oauth/token")
    assert not is_checked("/api/v1/schema") and not is_checked("/api/v1/docs") and not is_checked("/admin/")

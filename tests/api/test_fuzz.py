"""Schemathesis against the WSGI app in-process: generated requests for every operation of
/api/v1/schema, with a valid bearer token; no 5xx, and every reply as the schema describes it.

Each generated case is sent twice: as generated (random account / VA names: the 422 paths),
and with the path pointing at the real account and a real virtual account (the 200 paths).
Bounded (a few examples per operation) so it stays well under a minute.
"""

import json

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _schema_dict():
    """The schema /api/v1/schema serves (test_served_schema_is_the_fuzzed_one checks that),
    generated at import without a request: the fuzz tests are collected before any database."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    generated = SchemaGenerator(urlconf="licensing.api.schema_urls").get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


SCHEMA = _schema_dict()
schema = schemathesis.openapi.from_dict(SCHEMA)


@pytest.fixture
def caller(db, token_for, people, estate, globex):
    """(the WSGI app, headers with a System Admin's bearer token from /oauth/token).

    Requests into the app share the test's database transaction: as Django's test client does,
    the per-request connection cleanup is switched off meanwhile — after the token is fetched,
    since the test client switches it back on after each of its own requests.
    """
    headers = {"Authorization": f"Bearer {token_for(people['sysadmin'])}"}
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        # Built now, after the test settings (plain HTTP) are in place: middleware reads them once.
        yield get_wsgi_application(), headers
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_served_schema_is_the_fuzzed_one(client):
    response = client.get("/api/v1/schema?format=json")
    assert response.status_code == 200
    assert json.loads(response.content) == SCHEMA
    operations = {(path, method) for path, methods in SCHEMA["paths"].items() for method in methods}
    api = {(path, method) for path, method in operations if path.startswith("/api/v1/")}
    backend = {(path, method) for path, method in operations if path.startswith("/backend/api/v1/")}
    assert len(api) == 17  # the 14 APIs, DELETE of a VA, and the two local-accounts paths
    assert backend == {(path.replace("/api/v1/", "/backend/api/v1/", 1), method) for path, method in api}
    assert operations - api - backend == {("/oauth/token", "post"), ("/backend/oauth/token", "post")}


# One pytest item per operation, each with its own id ("POST /api/v1/accounts/{account}/devices"):
# schemathesis' own ``schema.parametrize()`` gives all 17 the same node id, and pytest-xdist's
# group scheduling (``make test``) keeps one item per node id — it would run one operation in 17.
# The /api/v1 operations: the /backend/api/v1 ones are the same views (tests/api checks both
# prefixes), the token endpoint has its own tests (tests/api_auth).
OPERATIONS = [
    operation
    for operation in (result.ok() for result in schema.get_all_operations())
    if operation.path.startswith("/api/v1/")
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=[operation.label for operation in OPERATIONS])
def test_api_conforms_to_its_schema(operation, caller):
    app, headers = caller

    # Generated cases only (no "explicit" phase: schemathesis' coverage phase alone would take
    # minutes), derandomized so a run is repeatable, both valid and invalid data (its default).
    @given(case=operation.as_strategy())
    @settings(
        max_examples=15,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        case.call_and_validate(app=app, headers=headers, checks=CHECKS)
        if case.path_parameters:
            if "account" in case.path_parameters:
                case.path_parameters["account"] = "Acme"
            if "va" in case.path_parameters:
                case.path_parameters["va"] = "Zoology"
            case.call_and_validate(app=app, headers=headers, checks=CHECKS)

    check()


def test_every_operation_is_fuzzed():
    assert len({operation.label for operation in OPERATIONS}) == len(OPERATIONS) == 17


# The same operations with their JSON bodies sent under the form content type, as
# ``curl -d '{...}'`` does without ``-H 'Content-Type: application/json'``: read as JSON
# (docs/api.md), so every reply is still one the schema describes, and never a 5xx.
FORM_ENCODED = "application/x-www-form-urlencoded"
BODY_OPERATIONS = [
    operation
    for operation in OPERATIONS
    if "application/json" in operation.definition.raw.get("requestBody", {}).get("content", {})
]


@pytest.mark.parametrize("operation", BODY_OPERATIONS, ids=[operation.label for operation in BODY_OPERATIONS])
def test_json_bodies_under_the_form_content_type(operation, caller):
    app, headers = caller
    headers = {**headers, "Content-Type": FORM_ENCODED}

    @given(case=operation.as_strategy(media_type="application/json"))
    @settings(
        max_examples=10,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def check(case):
        if "account" in case.path_parameters:
            case.path_parameters["account"] = "Acme"
        if "va" in case.path_parameters:
            case.path_parameters["va"] = "Zoology"
        case.call_and_validate(app=app, headers=headers, checks=CHECKS)

    check()


@pytest.mark.parametrize("body", [b"limit=5", b"{not json", b"[1, 2]", b"null", b"", b'{"limit": 5', b"\xff\xfe"])
@pytest.mark.parametrize("prefix", ["/api/v1", "/backend/api/v1"])
def test_other_bodies_under_the_form_content_type(caller, prefix, body):
    """A real form body, broken JSON, a JSON value that is no object, bytes that are no text:
    the API's JSON error (415/422), never a 5xx."""
    from django.test import Client

    _app, headers = caller
    response = Client(raise_request_exception=False).post(
        f"{prefix}/accounts/Acme/devices", body, content_type=FORM_ENCODED, HTTP_AUTHORIZATION=headers["Authorization"]
    )
    assert response.status_code in (200, 415, 422), response.status_code
    assert response["Content-Type"] == "application/json"
    if response.status_code != 200:
        reply = json.loads(response.content)
        assert reply["status"] == "ERROR" and reply["statusMessage"]

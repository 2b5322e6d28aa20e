"""Every exchange of the API tests checked against the OpenAPI schema the server publishes.

``check_exchange(method, path, status, content_type, body)`` finds the schema's operation for
the request (path templates such as ``/api/v1/accounts/{account}/devices``) and checks that the
reply's status is one the operation documents, that its content type is documented for that
status, and that its JSON validates against the documented schema (OpenAPI 3.0's ``nullable``
read as JSON Schema's ``null``). A path the schema has no operation for must answer the API's
error body with a documented error status (a 404 for no such path, 405 for no such method).

``validating_client`` (tests/api/conftest.py, tests/api_auth/conftest.py) wraps Django's test
client so every request a test makes under ``/api/``, ``/backend/api/`` and the token paths is
checked this way: a reply that does not match the schema fails the test that received it.
"""

import json
import re
from functools import cache

import jsonschema

API_PREFIXES = ("/api/", "/backend/api/")
TOKEN_PATHS = ("/oauth/token", "/backend/oauth/token")
# The schema's own pages are no operations of it.
NOT_OPERATIONS = re.compile(r"^(/backend)?/api/v1/(schema|docs)(/|$)")


class SchemaMismatch(AssertionError):
    pass


@cache
def schema():
    """The schema /api/v1/schema serves (generated without a request, as tests/api/test_fuzz.py)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    generated = SchemaGenerator(urlconf="licensing.api.schema_urls").get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


@cache
def _path_patterns():
    patterns = []
    for template in schema()["paths"]:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        patterns.append((re.compile(f"^{regex}$"), template))
    return patterns


def _lookup(ref):
    node = schema()
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def to_json_schema(node):
    """An OpenAPI 3.0 schema object as JSON Schema: references inlined, ``nullable`` as null."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return to_json_schema(_lookup(node["$ref"]))
    converted = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable"):
        if "enum" in converted and None not in converted["enum"]:
            converted["enum"] = [*converted["enum"], None]
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def _operation(method, path):
    """(template, operation or None): None when the path is the schema's but not the method;
    (None, None) when no path of the schema matches."""
    for pattern, template in _path_patterns():
        if pattern.match(path):
            return template, schema()["paths"][template].get(method.lower())
    return None, None


def _validate(json_schema, body, where):
    try:
        jsonschema.validate(body, json_schema)
    except jsonschema.ValidationError as error:
        raise SchemaMismatch(
            f"{where}: the reply does not match the schema: {error.message} at {list(error.path)}"
        ) from None


def error_schema():
    return to_json_schema({"$ref": "#/components/schemas/ErrorReply"})


def check_exchange(method, path, status, content_type, body):
    """Raise ``SchemaMismatch`` unless the reply is one the schema describes for the request."""
    where = f"{method} {path} -> {status}"
    template, operation = _operation(method, path)
    if operation is None:
        # No operation: the API's error body, with an error status some operation documents.
        if status not in (404, 405, 406, 413, 415, 500):
            raise SchemaMismatch(f"{where}: no operation of the schema, and no documented error status")
        if template is None and status == 405:
            raise SchemaMismatch(f"{where}: 405 for a path the schema does not have")
        if content_type != "application/json":
            raise SchemaMismatch(f"{where}: content type {content_type!r}, not the API's JSON error")
        _validate(error_schema(), json.loads(body), where)
        return
    responses = operation["responses"]
    described = responses.get(str(status))
    if described is None:
        raise SchemaMismatch(f"{where}: status {status} is not documented for {method} {template}")
    content = described.get("content", {})
    media = (content_type or "").split(";")[0].strip()
    if media not in content:
        raise SchemaMismatch(f"{where}: content type {media!r} is not documented (documented: {sorted(content)})")
    _validate(to_json_schema(content[media]["schema"]), json.loads(body), where)


def is_checked(path):
    return (path.startswith(API_PREFIXES) and not NOT_OPERATIONS.match(path)) or path in TOKEN_PATHS


def _checked_at_the_end(chunks, check):
    """A streamed reply, still streamed (the tests that count queries while it streams see
    them as they were), checked once the test has read all of it."""
    parts = []
    for chunk in chunks:
        parts.append(chunk)
        yield chunk
    check(b"".join(parts))


def validating_request(original):
    """Django's ``Client.request`` that checks every API exchange (the token paths: POST only;
    a streamed reply when the test has read it)."""

    def request(self, **environ):
        response = original(self, **environ)
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if is_checked(path) and not (path in TOKEN_PATHS and method != "POST"):

            def check(content):
                check_exchange(method, path, response.status_code, response.get("Content-Type"), content)

            if getattr(response, "streaming", False):
                response.streaming_content = _checked_at_the_end(response.streaming_content, check)
            else:
                check(response.content)
        return response

    return request

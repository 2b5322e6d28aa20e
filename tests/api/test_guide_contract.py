"""The contract: the guide's API examples, request and reply, replayed against this server.

``fixtures/guide_examples.json`` holds, per endpoint, the guide's example request and its
example reply (where the guide's example was lost in the text, the cloud API's names, and the
entry says so). Each example is sent, at both prefixes, to an estate that has what it names,
and the reply must carry every name of the guide's reply with the same JSON type, so renaming
a field or changing its type fails here; the messages the guide gives verbatim are compared.
"""

import datetime
import json
from pathlib import Path

import pytest
from django.utils import timezone

from licensing.services.alerts import recompute_alerts

from .conftest import PREFIXES

pytestmark = pytest.mark.django_db

EXAMPLES = json.loads((Path(__file__).parent / "fixtures" / "guide_examples.json").read_text())
EXAMPLES.pop("_about")
ENDPOINTS = {
    "POST /accounts/{account}/virtual-accounts",
    "GET /accounts/{account}/virtual-accounts",
    "POST /accounts/{account}/virtual-accounts/{va}/delete",
    "POST /accounts/{account}/virtual-accounts/{va}/tokens",
    "GET /accounts/{account}/virtual-accounts/{va}/tokens",
    "POST /accounts/{account}/virtual-accounts/{va}/tokens/revoke",
    "POST /accounts/{account}/licenses",
    "POST /accounts/{account}/license-subscriptions",
    "POST /accounts/{account}/virtual-accounts/{va}/licenses/transfer",
    "POST /accounts/{account}/devices",
    "GET /accounts/{account}/virtual-accounts/{va}/devices",
    "POST /accounts/{account}/virtual-accounts/{va}/devices/transfer",
    "POST /accounts/{account}/virtual-accounts/{va}/devices/remove",
    "POST /accounts/{account}/alerts",
}

JSON_TYPES = {str: "string", bool: "boolean", int: "number", float: "number", list: "array", dict: "object"}


def _type(value):
    return "null" if value is None else JSON_TYPES[type(value)]


def conforms(actual, example, where="reply"):
    """The problems of ``actual`` against the guide's ``example`` (its names and JSON types)."""
    if example is None:  # the guide writes null: a string or null
        return [] if actual is None or isinstance(actual, str) else [f"{where}: {_type(actual)}, not a string or null"]
    if _type(actual) != _type(example):
        return [f"{where}: {_type(actual)}, the guide's is {_type(example)}"]
    problems = []
    if isinstance(example, dict):
        for name, value in example.items():
            if name not in actual:
                problems.append(f"{where}: no {name!r}")
            else:
                problems += conforms(actual[name], value, f"{where}.{name}")
    elif isinstance(example, list) and example:
        if all(isinstance(item, dict) for item in example):
            required = set.intersection(*(set(item) for item in example))
            typed = {name: item[name] for item in reversed(example) for name in item}
            for index, item in enumerate(actual):
                item_where = f"{where}[{index}]"
                if not isinstance(item, dict):
                    problems.append(f"{item_where}: {_type(item)}, not an object")
                    continue
                problems += [f"{item_where}: no {name!r}" for name in sorted(required - set(item))]
                for name in set(item) & set(typed):
                    problems += conforms(item[name], typed[name], f"{item_where}.{name}")
        else:
            for index, item in enumerate(actual):
                problems += conforms(item, example[0], f"{where}[{index}]")
    return problems


@pytest.fixture
def guide_estate(estate, acme, vas, new_va, license_def, add_line, admin_api):
    """The estate plus what the guide's examples name: VA1 with 100 term "CSR 1KV SECURITY 10M"
    licenses and VA2 (the license transfer), a VA to delete, the estate's alerts, a token."""
    today = timezone.now().date()
    va1, _ = new_va("VA1"), new_va("VA2")
    new_va("Scratch")
    add_line(
        va1,
        license_def("CSR 1KV SECURITY 10M"),
        100,
        "term",
        start=today - datetime.timedelta(days=5),
        end=today + datetime.timedelta(days=360),
    )
    add_line(
        vas["Physics"],
        estate["security"],
        10,
        "demo",
        start=today - datetime.timedelta(days=17),
        end=today + datetime.timedelta(days=43),
    )
    recompute_alerts(acme)
    status, body = admin_api.post("/accounts/Acme/virtual-accounts/Physics/tokens", {"description": "listed"})
    assert status == 200, body
    return estate


def _send(api, example, prefix):
    path = example["path"].replace("{account}", "Acme").replace("{va}", "Physics")
    request = json.loads(json.dumps(example.get("request")))
    if request and "{token}" in json.dumps(request):
        status, made = api.post("/accounts/Acme/virtual-accounts/Physics/tokens", {"description": "to revoke"})
        assert status == 200, made
        request = json.loads(json.dumps(request).replace("{token}", made["tokenInfo"]["token"]))
    if example["method"] == "GET":
        return api.get(prefix + path)
    return api.post(prefix + path, request)


def test_every_endpoint_has_an_example():
    covered = {
        f"{e['method']} "
        + e["path"]
        .split("?")[0]
        .replace("/Scratch/", "/{va}/")
        .replace("/VA1/", "/{va}/")
        .replace("/Zoology/", "/{va}/")
        for e in EXAMPLES.values()
    }
    assert covered == ENDPOINTS


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_the_guides_example(api_as, people, guide_estate, prefix, name):
    example = EXAMPLES[name]
    api = api_as(people["account_admin"])
    status, body = _send(api, example, prefix)
    assert status == example["status"], (name, status, body)
    problems = conforms(body, example["reply"])
    assert not problems, (name, problems, body)
    for field, value in example.get("exact", {}).items():
        assert body[field] == value, (name, field, body[field])
    for field, value in example.get("exact_nested", {}).items():
        assert body[field] == value, (name, field, body[field])
    # A list the guide shows with records has records here too: the check above saw some.
    for field, value in example["reply"].items():
        if isinstance(value, list) and value and example["status"] == 200:
            assert body[field], (name, field, "empty: nothing was checked")
    if "item_messages" in example:
        items = next(value for value in body.values() if isinstance(value, list))
        got = [item["statusMessage"] for item in items][: len(example["item_messages"])]
        assert [g.split(" Note")[0] for g in got] == example["item_messages"], (name, got)


def test_the_contract_check_can_fail():
    guide = EXAMPLES["list_virtual_accounts"]["reply"]
    renamed = {"status": "SUCCESS", "statusMessage": "", "virtualAccounts": [{"name": "A", "description": ""}]}
    assert conforms(renamed, guide) == ["reply.virtualAccounts[0]: no 'isDefault'"]
    retyped = {**renamed, "virtualAccounts": [{"name": "A", "description": "", "isDefault": True}]}
    assert conforms(retyped, guide) == ["reply.virtualAccounts[0].isDefault: boolean, the guide's is string"]
    assert conforms({"devices": [{"sudi": {"suvi": 5}}]}, {"devices": [{"sudi": {"suvi": None}}]}) == [
        "reply.devices[0].sudi.suvi: number, not a string or null"
    ]

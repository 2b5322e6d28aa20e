"""The fast writer of large sync requests (``CanonicalList``: each product instance one JSON flow
mapping a line) and the piecewise signature: the text must load back, with the same safe loaders
the receivers use, into exactly the data that was signed; a 5,000-instance request must go through
the CSSM emulator and back, and the watermark it leaves must make the next standard sync empty.
"""

import datetime
import random

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from core.errors import ServiceError
from licensing.models import LicenseDefinition, LicenseUsage, ProductInstance
from sync.documents.bodies import ONPREM, PRODUCT_INSTANCE, SYNC_REQUEST_BODY
from sync.documents.build import build
from sync.documents.canonical import CanonicalList, canonical_bytes, canonical_digest
from sync.documents.document import Document, OnPrem, new_id, utcnow
from sync.documents.parse import Loader, parse
from sync.documents.rejections import Modified
from sync.documents.schema import Bool, Int, List, Obj, SchemaError, Str
from sync.documents.serialize import serialize
from sync.documents.signing import sign
from sync.documents.verify import verify
from sync.models import SyncedProductInstance, SyncRecord
from sync.services import synchronization

# Every kind of string the flow writer must carry unchanged: JSON escapes (quotes, backslashes,
# C0 controls), the characters YAML reads differently or refuses (DEL, C1 controls, NEL, LS,
# PS, BOM, U+FFFE/U+FFFF), non-ASCII of every plane, YAML-looking plain words, long strings.
TRICKY = [
    "",
    " ",
    "  leading and trailing  ",
    'quote " inside',
    "single ' quote",
    "back\\slash",
    "\\\\",
    "\\n literal",
    '"\\"',
    "tab\there",
    "line\nbreak",
    "cr\rlf\r\n",
    "".join(chr(c) for c in range(0x20)),
    "\x7f\x80\x84\x85\x86\x9f",
    "\u2028 \u2029",
    "\ufeffbom",
    "\ufffe\uffff",
    "\xa0nbsp",
    "é ü ß 中文 日本語 한국어",
    "emoji 😀 𝄞 \U0010fffd",
    "null",
    "~",
    "yes",
    "No",
    "on",
    "1.5",
    "0x1f",
    "1e3",
    "2026-01-01",
    "2026-01-01T00:00:00Z",
    "12:30:00",
    "- dash",
    ": colon",
    "a: b",
    "#hash",
    "x #y",
    "{flow}",
    "[list]",
    "&anchor",
    "*alias",
    "!tag",
    "!!str x",
    "%percent",
    "@at",
    "`tick",
    "|",
    ">",
    "?",
    ",",
    "---",
    "...",
    "<<",
    "=",
    "x" * 70_000,
    "\\u0041 not an escape",
    "/slash/",
    "\x00nul",
]


def _round_trip_loaders():
    loaders = [yaml.SafeLoader]
    if hasattr(yaml, "CSafeLoader"):
        loaders.append(yaml.CSafeLoader)
    return loaders


def _document(body, kind="SyncRequest"):
    return Document(
        kind=kind,
        onprem=OnPrem(name='Ünïcode "On-Prem"', uid="u" * 32, smart_account="acme.example", virtual_account="Lab"),
        document_id=new_id(),
        created_at=utcnow().replace(microsecond=0),
        body=body,
        sync_type="full",
    )


def _loose_list(items):
    schema = Obj(
        {
            "value": Str(1_000_000),
            "n": Int(minimum=-(2**63), maximum=2**63),
            "flag": Bool(),
            "none": Str(nullable=True),
            "nested": List(Obj({"k": Str(1_000_000)})),
        }
    )
    listed = CanonicalList(schema, "body.items")
    for item in items:
        listed.append(item)
    return listed


def _items(strings):
    return [
        {
            "value": text,
            "n": (-1) ** i * i * 10**12,
            "flag": bool(i % 2),
            "none": None,
            "nested": [{"k": text[::-1]}, {"k": "ok"}],
        }
        for i, text in enumerate(strings)
    ]


@pytest.mark.parametrize("loader", _round_trip_loaders(), ids=lambda loader: loader.__name__)
def test_flow_lines_load_back_as_exactly_the_same_strings(loader):
    items = _items(TRICKY)
    document = _document({"items": _loose_list(items), "after": "kept", "empty": CanonicalList(Str(), "body.empty")})
    text = serialize(document)
    loaded = yaml.load(text, Loader=loader)  # noqa: S506 - safe loaders only
    assert loaded["body"] == {"items": items, "after": "kept", "empty": []}
    assert loaded["onprem"]["name"] == 'Ünïcode "On-Prem"'
    # one item a line, as JSON flow mappings
    assert text.count("\n  - {") == len(items)


@pytest.mark.parametrize("loader", _round_trip_loaders(), ids=lambda loader: loader.__name__)
def test_random_strings_of_every_plane_round_trip(loader):
    rng = random.Random(8)
    alphabet = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    strings = [
        "".join(chr(rng.choice(alphabet if i % 3 else range(0x00, 0x300))) for _ in range(rng.randint(0, 80)))
        for i in range(3000)
    ]
    items = _items(strings)
    loaded = yaml.load(serialize(_document({"items": _loose_list(items)})), Loader=loader)  # noqa: S506
    assert loaded["body"]["items"] == items


def test_the_new_writer_and_the_yaml_dumper_give_the_same_data_and_canonical_bytes():
    items = _items(TRICKY)
    fast = _document({"items": _loose_list(items)})
    slow = _document({"items": items})
    slow.document_id, slow.created_at = fast.document_id, fast.created_at
    assert canonical_bytes(fast.unsigned_dict()) == canonical_bytes(slow.unsigned_dict())
    assert canonical_digest(fast.unsigned_dict()) == canonical_digest(slow.unsigned_dict())
    fast_loaded = yaml.load(serialize(fast), Loader=Loader)  # noqa: S506
    slow_loaded = yaml.load(serialize(slow), Loader=Loader)  # noqa: S506
    assert fast_loaded == slow_loaded


def _entry(i, hostname):
    return {
        "identifier": f"PID:C9300 SN:{i:08d}",
        "virtual_account": "Default",
        "udi_pid": "C9300",
        "udi_serial_number": f"{i:08d}",
        "registered_at": "2026-11-23T13:04:05Z",
        "hostname": hostname,
        "last_contact_at": None,
        "licenses": [{"tag": "regid.x,1.0_y", "count": i + 1}],
    }


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: ec.generate_private_key(ec.SECP256R1()),
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    ],
    ids=["ecdsa", "rsa"],
)
def test_a_piecewise_signature_verifies_on_the_parsed_text_and_tampering_is_caught(make_key, tmp_path):
    from sync.emulator.ca import CertificateAuthority

    key = make_key()
    ca = CertificateAuthority(tmp_path / "ca").ensure()
    instances = CanonicalList(PRODUCT_INSTANCE, "body.product_instances")
    for i, host in enumerate(h for h in TRICKY if len(h) <= 255 and "\x00" not in h):
        instances.append(_entry(i, host))
    body = {
        "last_response_id": None,
        "data_privacy": {"hostname": False, "ip_address": False, "mac_address": False},
        "product_instances": instances,
        "removed_product_instances": [],
        "license_usage": [],
        "export_requests": [],
        "dlc_requests": [],
        "rum_reports": [],
    }
    onprem = OnPrem(name="Lab", uid="u" * 32, smart_account="acme.example", virtual_account="Lab")
    cert = ca.issue_id_certificate(key.public_key(), name=onprem.name, uid=onprem.uid, now=utcnow())
    document = sign(build("SyncRequest", onprem, body, sync_type="full"), key, [cert, ca.issuing_cert])
    text = serialize(document)
    parsed = parse(text, expected_kinds=("SyncRequest",))
    assert parsed.body["product_instances"] == list(instances)
    verify(parsed, trusted_roots=[ca.root_cert])  # raises on a bad signature
    tampered = text.replace('"count":1,', '"count":7,', 1)
    assert tampered != text
    with pytest.raises(Modified):
        verify(parse(tampered), trusted_roots=[ca.root_cert])


def test_a_bad_entry_is_refused_with_its_path_before_anything_is_written():
    instances = CanonicalList(PRODUCT_INSTANCE, "body.product_instances")
    instances.append(_entry(0, "ok"))
    with pytest.raises(SchemaError) as caught:
        instances.append(_entry(1, "h" * 256))
    assert str(caught.value) == "body.product_instances[1].hostname: must be at most 255 characters"
    assert len(instances) == 1
    other = CanonicalList(Str(), "body.product_instances")
    with pytest.raises(SchemaError, match="checked against another schema"):
        SYNC_REQUEST_BODY.fields["product_instances"].check(other, "body.product_instances")


def test_schema_messages_keep_their_paths():
    bad = {"product_instances": [_entry(0, "ok"), {**_entry(1, "ok"), "licenses": [{"tag": "t", "count": -1}]}]}
    with pytest.raises(SchemaError) as caught:
        SYNC_REQUEST_BODY.fields["product_instances"].check(bad["product_instances"], "body.product_instances")
    assert str(caught.value) == "body.product_instances[1].licenses[0].count: must be between 0 and 2147483647"
    with pytest.raises(SchemaError) as caught:
        ONPREM.check(
            {"name": "x", "uid": "y", "smart_account": "z", "virtual_account": "w", "extra": 1, "b": 2}, "onprem"
        )
    assert str(caught.value) == "onprem: unknown field(s): b, extra"


LARGE = 5000


@pytest.fixture
def large_account(registered_account):
    account = registered_account()
    va = account.virtual_accounts.get(is_default=True)
    licenses = [
        LicenseDefinition.objects.create(name=f"Bench {i}", entitlement_tag=f"regid.2026-01.com.example.B{i},1.0_x")
        for i in range(3)
    ]
    now = datetime.datetime.now(datetime.timezone.utc)
    hosts = [h for h in TRICKY if len(h) <= 255 and "\x00" not in h]
    pis = ProductInstance.objects.bulk_create(
        ProductInstance(
            account=account,
            virtual_account=va,
            udi_pid="C9300-24T",
            udi_serial_number=f"FBS{i:08d}",
            hostname=hosts[i % len(hosts)] if i % 7 == 0 else f"sw{i:05d}.example",
            product_name="Catalyst 9300 — 24 ports" if i % 2 else "",
            registered_at=now,
            last_contact_at=now if i % 3 else None,
            redundancy_group="ha-1" if i < 3 else "",
            redundancy_role="active" if i == 0 else ("standby" if i < 3 else "none"),
        )
        for i in range(LARGE)
    )
    LicenseUsage.objects.bulk_create(
        LicenseUsage(product_instance=pi, license=lic, count=1 + i % 4)
        for i, pi in enumerate(pis)
        for lic in licenses[: 1 + i % 3]
    )
    return account


def test_a_5000_instance_request_goes_through_cssm_and_back(large_account, sysadmin, use_cssm, tmp_path):
    account = large_account
    expected = synchronization.product_instance_entries(
        account, {"hostname": False, "ip_address": False, "mac_address": False}
    )
    name, text = synchronization.request_file(account, actor=sysadmin, full=True)
    parsed = parse(text, name=name, expected_kinds=("SyncRequest",))
    instances = parsed.body["product_instances"]
    assert len(instances) == LARGE
    assert instances == [entry for entry, _digest in expected.values()]
    assert instances[0]["redundancy"]["peers"][0]["role"] == "STANDBY"
    record = SyncRecord.objects.get(request_id=parsed.document_id)
    assert record.request_text == text
    assert record.sent["pis"] == {ident: digest for ident, (_entry, digest) in expected.items()}
    (tmp_path / name).write_text(text)
    response = use_cssm.process_file(tmp_path / name, tmp_path / "response.yml")  # CSSM parses and verifies it
    applied = synchronization.apply_response(account, response, name="response.yml", actor=sysadmin)
    assert applied.result == "success"
    assert SyncedProductInstance.objects.filter(account=account).count() == LARGE
    # exactly once: the same response again is refused and changes nothing
    with pytest.raises(synchronization.SyncFailed):
        synchronization.apply_response(account, response, name="response.yml", actor=sysadmin)
    assert SyncedProductInstance.objects.filter(account=account).count() == LARGE
    # The digests stored are the ones computed next time: a standard sync is empty...
    _doc, text, record = synchronization.create_sync_request(account, actor=sysadmin)
    body = parse(text).body
    assert body["product_instances"] == [] and body["removed_product_instances"] == []
    SyncRecord.objects.filter(pk=record.pk).delete()
    # ...until a product instance changes (and one is removed).
    ProductInstance.objects.filter(account=account, udi_serial_number="FBS00000010").update(hostname="changed\u2028")
    ProductInstance.objects.filter(account=account, udi_serial_number="FBS00000011").delete()
    _doc, text, _record = synchronization.create_sync_request(account, actor=sysadmin)
    body = parse(text).body
    assert [pi["hostname"] for pi in body["product_instances"]] == ["changed\u2028"]
    assert body["removed_product_instances"] == ["PID:C9300-24T SN:FBS00000011"]


def test_a_bad_product_instance_stops_the_request_with_its_path(registered_account, sysadmin):
    account = registered_account()
    va = account.virtual_accounts.get(is_default=True)
    ProductInstance.objects.create(
        account=account,
        virtual_account=va,
        udi_pid="P" * 255,
        udi_serial_number="S" * 255,
        registered_at=datetime.datetime.now(datetime.timezone.utc),
    )
    before = SyncRecord.objects.filter(account=account).count()
    with pytest.raises(ServiceError) as caught:
        synchronization.create_sync_request(account, actor=sysadmin, full=True)
    assert str(caught.value) == (
        "The synchronization request cannot be built: body.product_instances[0].identifier: "
        "must be at most 512 characters"
    )
    assert SyncRecord.objects.filter(account=account).count() == before


def test_a_large_request_text_is_stored_exactly_in_pieces(registered_account, sysadmin, monkeypatch):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: the piecewise large-object path is PostgreSQL's")
    monkeypatch.setattr(synchronization, "LARGE_TEXT", 1000)  # pieces of 1,000 characters, split inside UTF-8
    account = registered_account()
    va = account.virtual_accounts.get(is_default=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    ProductInstance.objects.bulk_create(
        ProductInstance(
            account=account,
            virtual_account=va,
            udi_pid="P",
            udi_serial_number=f"S{i}",
            registered_at=now,
            hostname=f"中文-é-😀-{i}",
        )
        for i in range(300)
    )
    _doc, text, record = synchronization.create_sync_request(account, actor=sysadmin, full=True)
    assert len(text) > 20 * 1000
    assert SyncRecord.objects.get(pk=record.pk).request_text == text
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_largeobject_metadata")
        assert cursor.fetchone()[0] == 0  # the temporary large object is gone

"""sync.documents: round trips, and every guide rejection provoked by a crafted document."""

import datetime
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import pki
from sync.documents import rejections
from sync.documents.build import build
from sync.documents.canonical import canonical_bytes
from sync.documents.document import new_id, utcnow
from sync.documents.parse import parse
from sync.documents.rejections import (
    MSG_ALREADY_PROCESSED,
    MSG_CERTIFICATES_MISSING,
    MSG_CORRUPTED,
    MSG_INVALID_CERTIFICATE,
    MSG_INVALID_ID_CERTIFICATE,
    MSG_INVALID_SIGNING_CERTIFICATE,
    MSG_MODIFIED,
    MSG_NET_INVALID_SIGNING_CERTIFICATE,
    MSG_NOT_YAML,
    MSG_TIMESTAMP,
    NETWORK,
    AlreadyProcessed,
    CertificatesMissing,
    Corrupted,
    InvalidCertificate,
    InvalidIdCertificate,
    InvalidSigningCertificate,
    Modified,
    NotYaml,
    TimestampSkew,
    WrongAccount,
)
from sync.documents.schema import SchemaError
from sync.documents.serialize import filename, serialize
from sync.documents.signing import sign
from sync.documents.verify import parse_and_verify, verify
from sync.emulator.ca import CertificateAuthority
from tests.sync_emulator.cssm_helpers import NW_ADV, OnPremSide, product_instance, rum_report

GUIDE = Path("/work/shared/spec/ssm-onprem-user-guide-v7.txt")


@pytest.fixture
def side(ca):
    """An On-Prem holding an ID certificate from ``ca`` (as after registration)."""
    side = OnPremSide()
    now = utcnow()
    side.id_certificate = pki.certificate_pem(
        ca.issue_id_certificate(side.id_key.public_key(), name=side.onprem.name, uid=side.onprem.uid, now=now)
    )
    side.chain = ca.chain_pems()
    return side


def entitlement(**overrides):
    line = {
        "line_id": "line-1",
        "tag": NW_ADV,
        "name": "Catalyst 9300 Network Advantage",
        "description": "",
        "product_family": "Catalyst 9300",
        "license_type": "term",
        "billing_type": "prepaid",
        "quantity": 50,
        "start_date": "2026-01-01",
        "end_date": "2027-12-31",
        "subscription_id": "Sub1",
        "sku": "C9300-DNA-A",
        "source": "order",
        "export_restricted": False,
        "parents": [],
    }
    line.update(overrides)
    return line


def response_for(
    ca,
    side,
    request,
    *,
    now=None,
    signer_key=None,
    signer_certs=None,
    id_cert=None,
    chain=None,
    onprem=None,
    created_at=None,
    **body,
):
    now = now or utcnow()
    full = {
        "in_reply_to": request.document_id,
        "onprem_name": side.onprem.name,
        "export_control_allowed": True,
        "entitlements": [entitlement()],
        "id_certificate": id_cert
        or pki.certificate_pem(
            ca.issue_id_certificate(side.id_key.public_key(), name=side.onprem.name, uid=side.onprem.uid, now=now)
        ),
        "certificate_chain": ca.chain_pems() if chain is None else chain,
        "export_decisions": [],
        "dlc_decisions": [],
        "full_sync_required": False,
        "product_instances_on_cssm": 1,
        "rum_acknowledgements": [],
    }
    full.update(body)
    response = build("SyncResponse", onprem or side.onprem, full, sync_type=request.sync_type, now=created_at or now)
    return sign(response, signer_key or ca.signer_key, ca.signer_pems() if signer_certs is None else signer_certs)


def accept(side, ca, text, request, **kwargs):
    kwargs.setdefault("name", "Acme-Lab_SyncResponse_standard_20261123T130405Z.yml")
    return side.accept(text, request, ca.root_pem, **kwargs)


# ---- round trips ---------------------------------------------------------------------------
def test_registration_request_round_trip_signed_by_its_csr(ca):
    side = OnPremSide(name="Acme Lab / Köln")
    request = side.registration_request()
    text = serialize(request)
    assert "-----BEGIN CERTIFICATE REQUEST-----" in text and "Köln" in text
    name = filename(request)
    assert re.fullmatch(r"Acme-Lab-K-ln_RegistrationRequest_\d{8}T\d{6}Z\.yml", name)
    verified = parse_and_verify(text, name=name, trusted_roots=[ca.root_cert])
    assert verified.document.to_dict() == request.to_dict()
    assert verified.document.signature["signer"] == "id_csr" and verified.signer_certificate is None
    assert verified.document.signature["algorithm"] == "ecdsa-p256-sha256"


def test_sync_request_and_rsa_signed_response_round_trip(ca, side):
    request = side.sync_request(
        "full",
        product_instances=[product_instance("FOC1", licenses=[(NW_ADV, 2)])],
        license_usage=[{"tag": NW_ADV, "virtual_account": "Default", "in_use": 2}],
        rum_reports=[rum_report("rum-1", '{"report_id":"1","usage":[]}')],
    )
    parsed = parse(serialize(request), name=filename(request))
    assert parsed.to_dict() == request.to_dict() and parsed.sync_type == "full"
    assert filename(request).startswith("Acme-Lab_SyncRequest_full_")
    verify(parsed, trusted_roots=[ca.root_pem], expected_uid=side.onprem.uid)

    response = response_for(ca, side, request)
    assert response.signature["algorithm"] == "rsa-pkcs1v15-sha256"
    document = accept(side, ca, serialize(response), request)
    assert document.body["entitlements"][0]["end_date"] == "2027-12-31"
    assert document.document_id in side.processed


def test_canonical_form_is_sorted_compact_json():
    assert canonical_bytes({"b": [1, "ü"], "a": None}) == '{"a":null,"b":[1,"ü"]}'.encode()


def test_build_refuses_an_invalid_body_with_the_path_named(side):
    with pytest.raises(SchemaError, match=r"body\.product_instances\[0\]\.licenses\[0\]\.count: must be an integer"):
        side.sync_request(product_instances=[product_instance("X", licenses=[(NW_ADV, "2")])])
    with pytest.raises(SchemaError, match="unknown field"):
        side.sync_request(surprise=True)
    with pytest.raises(ValueError):
        build("SyncRequest", side.onprem, {}, sync_type=None)


def test_sign_refuses_a_key_that_is_not_the_certificates(ca, side):
    request = build("SyncRequest", side.onprem, side.sync_request().body, sync_type="standard")
    with pytest.raises(ValueError, match="does not match"):
        sign(request, pki.new_private_key(), [side.id_certificate])


# ---- the guide's texts ----------------------------------------------------------------------
def _flat(text):
    return " ".join(text.split())


@pytest.mark.skipif(not GUIDE.exists(), reason="the vendor guide is not available")
def test_messages_are_the_guides_verbatim():
    guide = _flat(GUIDE.read_text(encoding="utf-8"))
    for name in (
        "MSG_WRONG_ACCOUNT",
        "MSG_NOT_YAML",
        "MSG_CORRUPTED",
        "MSG_MODIFIED",
        "MSG_TIMESTAMP",
        "MSG_INVALID_ID_CERTIFICATE",
        "MSG_INVALID_SIGNING_CERTIFICATE",
        "MSG_CERTIFICATES_MISSING",
        "MSG_INVALID_CERTIFICATE",
        "MSG_NET_INVALID_FILE",
        "MSG_NET_INVALID_ID_CERTIFICATE",
        "MSG_NET_INVALID_CERTIFICATE",
    ):
        assert f'"{getattr(rejections, name)}"' in guide, name
    # The two lines the guide breaks off at a page end: what it prints is our text's beginning.
    assert '"' + MSG_ALREADY_PROCESSED[: -len(" synchronization response file.")] in guide
    assert '"' + MSG_NET_INVALID_SIGNING_CERTIFICATE[: -len(" certificate.")] in guide


# ---- rejections -----------------------------------------------------------------------------
def test_wrong_account(ca, side):
    request = side.sync_request()
    other = OnPremSide(name="Other")
    other_response = response_for(ca, other, request, onprem=other.onprem)
    with pytest.raises(WrongAccount) as exc:
        accept(side, ca, serialize(other_response), request)
    assert exc.value.message == "Please ensure the file being uploaded corresponds to this On-Prem."
    # A response to another request of this On-Prem.
    stale = response_for(ca, side, side.sync_request())
    with pytest.raises(WrongAccount) as exc:
        accept(side, ca, serialize(stale), request, mode=NETWORK)
    assert exc.value.message == "The file being processed for this On-Prem is invalid."


@pytest.mark.parametrize(
    "data, name",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "response.yml"),
        (b"kind: [SyncResponse\nversion: 1", "response.yml"),
        (b"just a string", "response.yml"),
        (b"kind: SyncResponse\n", "response.txt"),
    ],
)
def test_not_yaml(data, name, ca, side):
    with pytest.raises(NotYaml) as exc:
        accept(side, ca, data, side.sync_request(), name=name)
    assert exc.value.message == MSG_NOT_YAML and "“.yml”" in exc.value.message


def _signed_dict(ca, side, request, **kwargs):
    return yaml.safe_load(serialize(response_for(ca, side, request, **kwargs)))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda doc: doc.pop("body"),
        lambda doc: doc["body"].update(surprise=1),
        lambda doc: doc["body"]["entitlements"][0].update(quantity="fifty"),
        lambda doc: doc.update(kind="SyncRequest"),
        lambda doc: doc.update(version=2),
    ],
)
def test_corrupted(mutate, ca, side):
    request = side.sync_request()
    doc = _signed_dict(ca, side, request)
    mutate(doc)
    with pytest.raises(Corrupted) as exc:
        accept(side, ca, yaml.safe_dump(doc), request)
    assert exc.value.message == MSG_CORRUPTED


def test_corrupted_unquoted_dates_aliases_truncation_and_size(ca, side):
    request = side.sync_request()
    text = serialize(response_for(ca, side, request))
    unquoted = text.replace("start_date: '2026-01-01'", "start_date: 2026-01-01")
    assert unquoted != text
    truncated = text[: len(text) // 2]
    truncated = truncated[: truncated.rfind("\n")]
    aliased = "kind: SyncResponse\na: &x [1, 2]\nb: *x\n"
    for data in (unquoted, truncated, aliased):
        with pytest.raises((Corrupted, NotYaml)) as exc:
            accept(side, ca, data, request)
        assert exc.value.code in ("corrupted", "not_yaml")
    with pytest.raises(Corrupted):
        parse(text, max_bytes=100)
    with pytest.raises(Corrupted):
        accept(side, ca, unquoted, request)


def test_modified_after_signing(ca, side):
    request = side.sync_request()
    text = serialize(response_for(ca, side, request))
    for before, after in (("quantity: 50", "quantity: 500"), ("full_sync_required: false", "full_sync_required: true")):
        assert before in text
        with pytest.raises(Modified) as exc:
            accept(side, ca, text.replace(before, after), request)
        assert exc.value.message == MSG_MODIFIED
    # Re-numbering the response (to get past the replay check) breaks the signature too.
    doc = yaml.safe_load(text)
    doc["response_id"] = new_id()
    with pytest.raises(Modified):
        accept(side, ca, yaml.safe_dump(doc), request)


def test_already_processed(ca, side):
    request = side.sync_request()
    text = serialize(response_for(ca, side, request))
    accept(side, ca, text, request)
    with pytest.raises(AlreadyProcessed) as exc:
        accept(side, ca, text, request)
    assert exc.value.message.startswith(
        "The synchronization response file you selected has already been processed by this On-Prem."
    )


def test_missing_certificates(ca, side):
    request = side.sync_request()
    doc = _signed_dict(ca, side, request)
    doc["signature"]["certificates"] = []
    with pytest.raises(CertificatesMissing) as exc:
        accept(side, ca, yaml.safe_dump(doc), request)
    assert exc.value.message == MSG_CERTIFICATES_MISSING
    doc.pop("signature")
    with pytest.raises(CertificatesMissing):
        accept(side, ca, yaml.safe_dump(doc), request)
    no_chain = response_for(ca, side, request, chain=[])
    with pytest.raises(CertificatesMissing):
        accept(side, ca, serialize(no_chain), request)


def test_invalid_signing_certificate(ca, side, tmp_path):
    request = side.sync_request()
    impostor = CertificateAuthority(tmp_path / "impostor").ensure()
    forged = response_for(ca, side, request, signer_key=impostor.signer_key, signer_certs=impostor.signer_pems())
    with pytest.raises(InvalidSigningCertificate) as exc:
        accept(side, ca, serialize(forged), request)
    assert exc.value.message == MSG_INVALID_SIGNING_CERTIFICATE
    doc = _signed_dict(ca, side, request)
    doc["signature"]["certificates"][0] = "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"
    with pytest.raises(InvalidSigningCertificate):
        accept(side, ca, yaml.safe_dump(doc), request, mode=NETWORK)


def test_invalid_id_certificate_of_another_onprem(ca, side):
    request = side.sync_request()
    stranger = pki.new_private_key()
    wrong_key = pki.certificate_pem(
        ca.issue_id_certificate(stranger.public_key(), name=side.onprem.name, uid=side.onprem.uid, now=utcnow())
    )
    with pytest.raises(InvalidIdCertificate) as exc:
        accept(side, ca, serialize(response_for(ca, side, request, id_cert=wrong_key)), request)
    assert exc.value.message == MSG_INVALID_ID_CERTIFICATE
    wrong_uid = pki.certificate_pem(
        ca.issue_id_certificate(side.id_key.public_key(), name="x", uid="another-uid", now=utcnow())
    )
    with pytest.raises(InvalidIdCertificate) as exc:
        accept(side, ca, serialize(response_for(ca, side, request, id_cert=wrong_uid)), request, mode=NETWORK)
    assert exc.value.message == "Invalid ID Certificate. The file being processed has an invalid certificate."


def test_invalid_certificate_needs_a_full_sync(ca, side, tmp_path):
    request = side.sync_request()
    other_ca = CertificateAuthority(tmp_path / "other").ensure()
    foreign = pki.certificate_pem(
        other_ca.issue_id_certificate(
            side.id_key.public_key(), name=side.onprem.name, uid=side.onprem.uid, now=utcnow()
        )
    )
    expired = pki.certificate_pem(
        ca.issue_id_certificate(
            side.id_key.public_key(),
            name=side.onprem.name,
            uid=side.onprem.uid,
            now=utcnow() - datetime.timedelta(days=400),
        )
    )
    for id_cert in (foreign, expired):
        with pytest.raises(InvalidCertificate) as exc:
            accept(side, ca, serialize(response_for(ca, side, request, id_cert=id_cert)), request)
        assert exc.value.message == MSG_INVALID_CERTIFICATE


def test_timestamp_skew(ca, side):
    request = side.sync_request()
    old = response_for(ca, side, request, created_at=utcnow() - datetime.timedelta(hours=25))
    with pytest.raises(TimestampSkew) as exc:
        accept(side, ca, serialize(old), request)
    assert exc.value.message == MSG_TIMESTAMP
    # An On-Prem clock years ahead: the CSSM signer certificate is no longer valid "now".
    future = utcnow() + datetime.timedelta(days=3 * 365)
    fresh = response_for(ca, side, request, created_at=future)
    with pytest.raises(TimestampSkew):
        accept(side, ca, serialize(fresh), request, now=future)


# ---- YAML quoting: any string survives the trip with its signature intact --------------------
_TRICKY = st.sampled_from(
    [
        "yes",
        "no",
        "on",
        "null",
        "~",
        "1e3",
        "0x1F",
        "2026-01-01",
        "12:30",
        "- a",
        "a: b",
        "#c",
        "'q'",
        '"',
        "\u2028",
        " lead",
        "trail ",
        "",
        "multi\nline\n",
        "tab\there",
    ]
)
_TEXT = st.one_of(_TRICKY, st.text(st.characters(blacklist_categories=("Cs",)), max_size=40))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostname=_TEXT, product_name=_TEXT, report=_TEXT)
def test_any_strings_round_trip_and_still_verify(ca, side, hostname, product_name, report):
    request = side.sync_request(
        product_instances=[product_instance("FOC1", hostname=hostname[:255], product_name=product_name[:255])],
        rum_reports=[rum_report("rum-1", report)],
    )
    parsed = parse(serialize(request), name="x.yml")
    assert parsed.body == request.body
    verify(parsed, trusted_roots=[ca.root_pem], expected_uid=side.onprem.uid)

"""Synchronization files under hypothesis: the sync-file parser and verifier on their own, then the
Synchronization widget's upload for a REALLY registered account (registered with the CSSM
emulator's service in this process, a real request pending), so every junk file goes all the way
through parse and verify.

What must hold for any input: the parser raises one of the guide's rejections and nothing else
(never a stray exception, i.e. never a 500); an upload never answers 5xx, shows the rejection, and
changes no license data, no acknowledged product instance and no sync state beyond the failed
history entry the guide shows; the pending request stays pending, so the right file still applies
afterwards."""

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sync.documents import rejections
from sync.documents.document import new_id, utcnow
from sync.documents.parse import parse
from sync.documents.rejections import MANUAL, InvalidSigningCertificate, Rejection
from sync.documents.serialize import serialize
from sync.documents.signing import sign
from sync.documents.verify import parse_and_verify
from tests.reliability.conftest import table_snapshot
from tests.reliability.inprocess_cssm import registered_with_emulator, sync_response_for

pytestmark = pytest.mark.django_db
PROPERTY = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
UPLOADS = settings(PROPERTY, max_examples=60)


@st.composite
def mutated(draw, original):
    """``original`` (bytes) cut, flipped, spliced or with one line replaced: close enough to pass some checks."""
    data = bytearray(original)
    how = draw(st.sampled_from(["truncate", "flip", "insert", "line", "swap-lines", "retype"]))
    if how == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if how == "flip":
        for _ in range(draw(st.integers(1, 8))):
            index = draw(st.integers(0, len(data) - 1))
            data[index] ^= draw(st.integers(1, 255))
        return bytes(data)
    if how == "insert":
        index = draw(st.integers(0, len(data)))
        return bytes(data[:index]) + draw(st.binary(min_size=1, max_size=64)) + bytes(data[index:])
    lines = bytes(data).split(b"\n")
    index = draw(st.integers(0, len(lines) - 1))
    if how == "line":
        lines[index] = draw(
            st.sampled_from(
                [
                    b"",
                    b"  x: 1",
                    b"body: null",
                    b"- [",
                    b"&a [*a]",
                    b"kind: SyncRequest",
                    b"version: 2",
                    b"!!python/object:os.system ls",
                    b"\t\t",
                ]
            )
        )
    elif how == "swap-lines":
        other = draw(st.integers(0, len(lines) - 1))
        lines[index], lines[other] = lines[other], lines[index]
    else:  # a value's type changed: a quoted scalar unquoted, a number quoted
        lines[index] = lines[index].replace(b"'", b"").replace(b": 1", b": '1'")
    return b"\n".join(lines)


JUNK = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=400).map(lambda text: text.encode("utf-8")),
    st.text(max_size=200).map(lambda text: text.encode("utf-16")),
    st.sampled_from(
        [
            b"",
            b"\xef\xbb\xbf",
            b"- 1\n- 2\n",
            b"kind: SyncResponse\n",
            b"{}",
            b"a: &x [*x]",
            b"kind: SyncResponse\nversion: 1\nbody: {}\nsignature: {}\n",
            b"x: " + b"[" * 5000,
        ]
    ),
)


def _differs(original, data):
    """False when ``data`` still loads to the same YAML as the original (then it is not a bad file)."""
    try:
        return yaml.safe_load(data) != yaml.safe_load(original)
    except Exception:  # noqa: BLE001 - not loadable at all: certainly a different file
        return True


@pytest.fixture
def pending(tmp_path, sysadmin):
    """A registered account with one manual SyncRequest waiting, and the emulator's good answer to it."""
    account, emulator = registered_with_emulator(tmp_path, sysadmin)
    good, name = sync_response_for(account, emulator, sysadmin)
    return account, good, name


def test_the_parser_rejects_junk_with_the_guides_rejections_only(pending):
    account, good, _name = pending

    @PROPERTY
    @given(data=st.one_of(JUNK, mutated(good)))
    def check(data):
        assume(_differs(good, data))
        try:
            parse(data, name="response.yml", mode=MANUAL, expected_kinds=("SyncResponse",))
        except Rejection as rejection:
            assert rejection.message in MESSAGES, rejection.message
        # A mutation that still parses must then fail verification (below), never crash here.

    check()


def test_the_verifier_rejects_every_changed_response(pending):
    from core import pki
    from sync.services.common import is_processed

    account, good, _name = pending
    state = account.sync_state
    checks = dict(
        trusted_roots=[state.root_pem],
        expected_uid=state.uid,
        is_processed=is_processed,
        expected_id_public_key=pki.load_private_key(state.id_private_key).public_key(),
    )
    assert parse_and_verify(good, name="r.yml", expected_kinds=("SyncResponse",), **checks)  # the control

    @PROPERTY
    @given(data=mutated(good))
    def check(data):
        assume(_differs(good, data))
        with pytest.raises(Rejection) as caught:
            parse_and_verify(data, name="r.yml", expected_kinds=("SyncResponse",), **checks)
        assert caught.value.message in MESSAGES

    check()


@st.composite
def resigned_outside_the_signer_role(draw, good, account):
    """``good`` changed (quantities, ids) and signed CORRECTLY, by a certificate that chains to the CSSM
    root but whose role is not to sign responses: a device's ID certificate issued by the account's
    signing authority, the On-Prem's own ID certificate, or one the authority minted with any EKU."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    from core import pki
    from licensing.models import SigningAuthority
    from sync import certificate_roles as roles

    authority = SigningAuthority.objects.get(account=account, is_current=True)
    authority_cert, authority_key = (
        pki.load_certificate(authority.certificate_pem),
        pki.load_private_key(authority.private_key),
    )
    state = account.sync_state
    how = draw(st.sampled_from(["device", "onprem-id", "minted"]))
    if how == "onprem-id":
        key, cert = pki.load_private_key(state.id_private_key), pki.load_certificate(state.id_certificate_pem)
    else:
        key = pki.new_private_key()
        now = utcnow()
        eku = draw(
            st.sampled_from(
                [
                    None,
                    ExtendedKeyUsageOID.CLIENT_AUTH,
                    roles.OID_CSSM_DOCUMENT_SIGNER,
                    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
                ]
            )
        )
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, draw(st.text("abc", min_size=1)))]))
            .issuer_name(authority_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=9))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_cert.public_key()), critical=False
            )
        )
        if eku is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
        cert = builder.sign(authority_key, hashes.SHA256())
    chain = [cert, *authority.chain()] if how != "onprem-id" else [cert, *pki.split_pem_chain(state.chain_pem)]
    presented = chain[: draw(st.integers(1, len(chain)))]
    document = parse(good)
    document.document_id = new_id()
    for line in document.body["entitlements"]:
        line["quantity"] = draw(st.integers(1, 999_999))
    return serialize(sign(document, key, presented)).encode()


def test_the_verifier_refuses_responses_signed_outside_the_signer_role(pending):
    from core import pki
    from sync.services.common import is_processed

    account, good, _name = pending
    state = account.sync_state
    checks = dict(
        trusted_roots=[state.root_pem],
        expected_uid=state.uid,
        is_processed=is_processed,
        expected_id_public_key=pki.load_private_key(state.id_private_key).public_key(),
    )

    @PROPERTY
    @given(data=resigned_outside_the_signer_role(good, account))
    def check(data):
        with pytest.raises(InvalidSigningCertificate):
            parse_and_verify(data, name="r.yml", expected_kinds=("SyncResponse",), **checks)

    check()


def test_uploads_of_junk_change_nothing_and_the_right_file_still_applies(pending, sysadmin, login):
    from django.apps import apps

    from sync.models import AccountSync, SyncRecord

    account, good, name = pending
    path = reverse("admin_sync_response", args=[account.pk])
    client = login(sysadmin)
    licensing = list(apps.get_app_config("licensing").get_models())
    untouched = [m for m in apps.get_app_config("sync").get_models() if m not in (AccountSync, SyncRecord)]
    data_before = table_snapshot(*licensing, *untouched)
    state_fields = [f.attname for f in AccountSync._meta.concrete_fields if f.attname != "last_sync_result"]
    state_before = AccountSync.objects.filter(pk=account.sync_state.pk).values(*state_fields).get()
    pending_record = SyncRecord.objects.get(
        account=account, kind=SyncRecord.Kind.SYNC, result=SyncRecord.Result.PENDING
    )
    records_before = set(SyncRecord.objects.values_list("pk", flat=True))
    seen = {"uploads": 0}

    @UPLOADS
    @given(data=st.one_of(JUNK, mutated(good)))
    def check(data):
        assume(_differs(good, data))
        response = client.post(path, {"file": SimpleUploadedFile(name, data, "application/yaml")}, follow=True)
        seen["uploads"] += 1
        assert response.status_code == 200, response.status_code  # back on the account's page, never a 5xx
        page = response.content.decode()
        assert "Synchronization Failed" in page or "errorlist" in page or "The submitted file is empty" in page, page[
            :2000
        ]
        assert table_snapshot(*licensing, *untouched) == data_before
        assert AccountSync.objects.filter(pk=account.sync_state.pk).values(*state_fields).get() == state_before
        new = SyncRecord.objects.exclude(pk__in=records_before)
        assert set(new.values_list("result", flat=True)) <= {SyncRecord.Result.FAILED}
        pending_record.refresh_from_db()
        assert pending_record.result == SyncRecord.Result.PENDING

    check()
    assert seen["uploads"] >= 30
    # The pending request was not spent by the junk: CSSM's real answer still applies.
    response = client.post(path, {"file": SimpleUploadedFile(name, good, "application/yaml")}, follow=True)
    assert response.status_code == 200
    pending_record.refresh_from_db()
    assert pending_record.result == SyncRecord.Result.SUCCESS, response.content.decode()[:2000]
    assert table_snapshot(*licensing, *untouched) != data_before  # the entitlements arrived


MESSAGES = {getattr(rejections, name) for name in dir(rejections) if name.startswith("MSG_")}

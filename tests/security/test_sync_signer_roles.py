"""Forged synchronization documents: a document is applied only when CSSM's document signer signed it.

Every certificate under the CSSM root chains to it, a device's ID certificate too (device -> local
account's signing authority -> CSSM issuing CA -> root). The attack, run against the real
services: register one device to local account A, take account B's pending SyncRequest, build a
SyncResponse from B's last genuine one answering it with 999,999 licenses, sign it with the device's
key and chain, and upload it in the Synchronization widget (or serve it as CSSM to the online
synchronization). Both accounts are really registered with the CSSM emulator (its service in this
process, the manual file exchange), the device really registered through /SmartTransport.
"""

import datetime
import http.server
import ssl
import threading

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core import pki
from licensing.models import Entitlement, SigningAuthority
from sync import certificate_roles as roles
from sync.documents.build import build
from sync.documents.document import format_timestamp, new_id, utcnow
from sync.documents.parse import parse
from sync.documents.rejections import (
    MANUAL,
    MSG_INVALID_SIGNING_CERTIFICATE,
    MSG_NET_INVALID_SIGNING_CERTIFICATE,
    InvalidSigningCertificate,
)
from sync.documents.serialize import serialize
from sync.documents.signing import sign
from sync.documents.verify import parse_and_verify
from sync.models import AccountSync, SyncRecord
from tests.devices.devicesim import Device
from tests.reliability.inprocess_cssm import register_with, seeded_emulator, sync_response_for

pytestmark = pytest.mark.django_db
FORGED_QUANTITY = 999_999


@pytest.fixture
def world(tmp_path, sysadmin, client):
    """Accounts A and B registered with one CSSM, a device registered to A, B synchronized once."""
    from licensing.services.tokens import create_token
    from sync.services.synchronization import apply_response

    emulator = seeded_emulator(tmp_path)
    account_a = register_with(emulator, sysadmin, "Account A")
    account_b = register_with(emulator, sysadmin, "Account B")
    token = create_token(actor=None, virtual_account=account_a.virtual_accounts.get(is_default=True))
    device = Device(client, "FOC2412X0AB", pid="C9300-24T")
    assert device.register(token)["status"] == "SUCCESS"
    genuine, name = sync_response_for(account_b, emulator, sysadmin, full=True)
    apply_response(account_b, genuine, name=name, actor=sysadmin, mode=MANUAL)
    return {"emulator": emulator, "a": account_a, "b": account_b, "device": device, "genuine": genuine}


def _pending_request(account, actor, mode=SyncRecord.Mode.MANUAL):
    """The account's new pending SyncRequest (a standard one: the account synchronized in full once)."""
    from sync.services.synchronization import create_sync_request

    document, _text, _record = create_sync_request(account, actor=actor, mode=mode)
    return document


def _forged_response(genuine, request, signer_key, signer_pems):
    """B's last genuine SyncResponse, answering ``request``, every quantity 999,999, re-signed."""
    document = parse(genuine)
    document.document_id = new_id()
    document.created_at = utcnow()
    document.sync_type = request.sync_type
    document.body["in_reply_to"] = request.document_id
    for line in document.body["entitlements"]:
        line["quantity"] = FORGED_QUANTITY
    return serialize(sign(document, signer_key, signer_pems)).encode()


def _device_signed(world, request):
    device = world["device"]
    return _forged_response(world["genuine"], request, device.key, [device.cert_pem, *device.chain[:-1]])


def _ledger(account):
    return sorted(
        Entitlement.objects.filter(virtual_account__account=account).values_list(
            "virtual_account__name", "license__name", "quantity"
        )
    )


def _state(account):
    return (
        AccountSync.objects.filter(account=account)
        .values("last_response_id", "last_sync_at", "id_certificate_pem")
        .get()
    )


def test_a_device_signed_sync_response_uploaded_in_the_widget_is_refused(world, sysadmin, login):
    account = world["b"]
    assert _ledger(account), "the genuine synchronization brought licenses"
    before, state_before = _ledger(account), _state(account)
    request = _pending_request(account, sysadmin)
    forged = _device_signed(world, request)

    client = login(sysadmin)
    response = client.post(
        reverse("admin_sync_response", args=[account.pk]),
        {"file": SimpleUploadedFile("response.yml", forged, "application/yaml")},
        follow=True,
    )

    assert response.status_code == 200
    assert not Entitlement.objects.filter(quantity=FORGED_QUANTITY).exists()
    assert _ledger(account) == before
    assert MSG_INVALID_SIGNING_CERTIFICATE in response.content.decode()
    assert _state(account) == state_before
    # The request stays pending: CSSM's genuine answer still applies.
    assert SyncRecord.objects.get(request_id=request.document_id).result == SyncRecord.Result.PENDING


def test_the_verifier_names_the_role_the_device_certificate_lacks(world, sysadmin):
    account = world["b"]
    state = account.sync_state
    forged = _device_signed(world, _pending_request(account, sysadmin))
    with pytest.raises(InvalidSigningCertificate) as refused:
        parse_and_verify(forged, trusted_roots=[state.root_pem], expected_uid=state.uid)
    assert "CSSM document signer" in refused.value.detail


def test_a_signer_minted_by_a_local_accounts_signing_authority_is_refused(world, sysadmin):
    """The holder of A's signing-authority key (whoever reads A's database row) mints a certificate
    carrying the CSSM signer's own extended key usage: it sits one step too deep under the root."""
    account = world["b"]
    authority = SigningAuthority.objects.get(account=world["a"], is_current=True)
    minted_key = pki.new_private_key()
    minted = _issue(
        pki.load_certificate(authority.certificate_pem),
        pki.load_private_key(authority.private_key),
        minted_key.public_key(),
        eku=roles.OID_CSSM_DOCUMENT_SIGNER,
    )
    state = account.sync_state
    forged = _forged_response(
        world["genuine"],
        _pending_request(account, sysadmin),
        minted_key,
        [pki.certificate_pem(minted), *authority.chain()[:-1]],
    )
    with pytest.raises(InvalidSigningCertificate):
        parse_and_verify(forged, trusted_roots=[state.root_pem], expected_uid=state.uid)


def test_a_device_signed_authorization_is_refused(world, sysadmin, pending_registration):
    """A forged Authorization for a pending registration: device-signed, with an "ID certificate" for
    the pending key that A's signing authority minted (it chains to the CSSM root)."""
    from sync.services.common import SyncFailed
    from sync.services.registration import apply_authorization

    account, request = pending_registration
    authority = SigningAuthority.objects.get(account=world["a"], is_current=True)
    authority_cert, authority_key = (
        pki.load_certificate(authority.certificate_pem),
        pki.load_private_key(authority.private_key),
    )
    id_key = pki.load_csr(request.body["id_csr"]).public_key()
    minted_id = _issue(authority_cert, authority_key, id_key, uid=request.onprem.uid)
    minted_signing = _issue(
        authority_cert, authority_key, pki.load_csr(request.body["signing_csr"]).public_key(), uid=request.onprem.uid
    )
    now = utcnow()
    body = {
        "in_reply_to": request.document_id,
        "onprem_name": request.onprem.name,
        "registered_at": format_timestamp(now),
        "id_certificate": pki.certificate_pem(minted_id),
        "signing_certificate": pki.certificate_pem(minted_signing),
        "certificate_chain": authority.chain(),
        "export_control_allowed": True,
        "full_sync_required": True,
    }
    device = world["device"]
    forged = sign(
        build("Authorization", request.onprem, body, now=now), device.key, [device.cert_pem, *device.chain[:-1]]
    )

    with pytest.raises(SyncFailed) as refused:
        apply_authorization(account, serialize(forged).encode(), actor=sysadmin, name="auth.yml", mode=MANUAL)
    assert refused.value.message == MSG_INVALID_SIGNING_CERTIFICATE
    account.refresh_from_db()
    assert account.status != "active"
    assert not SigningAuthority.objects.filter(account=account, source=SigningAuthority.Source.CSSM).exists()


@pytest.fixture
def pending_registration(world, sysadmin):
    from licensing.services.accounts import create_account
    from sync.services.registration import create_registration_request
    from tests.reliability.inprocess_cssm import CISCO_VA, SMART_ACCOUNT

    account = create_account(
        actor=None, name="Account C", cisco_smart_account=SMART_ACCOUNT, cisco_virtual_account=CISCO_VA
    )
    document, _text, _record = create_registration_request(account, actor=sysadmin)
    return account, document


def test_the_online_path_refuses_a_device_signed_response_from_a_false_cssm(world, sysadmin, settings, tmp_path):
    """The same forgery served over HTTPS by a server that answers as CSSM (a DNS or proxy takeover)."""
    from sync.services.common import SyncFailed
    from sync.services.synchronization import synchronize

    account = world["b"]
    before, state_before = _ledger(account), _state(account)
    with _FalseCssm(tmp_path, lambda request: _device_signed(world, parse(request))) as url:
        settings.ONPREM_CSSM_URL, settings.ONPREM_CSSM_CA_FILE = url, str(tmp_path / "cssm-tls.crt")
        with pytest.raises(SyncFailed) as refused:
            synchronize(account, actor=sysadmin)
    assert refused.value.message == MSG_NET_INVALID_SIGNING_CERTIFICATE
    assert _ledger(account) == before and _state(account) == state_before


def _issue(issuer_cert, issuer_key, public_key, *, eku=None, uid="forged"):
    """An end-entity certificate as a signing authority can make one: any subject, any EKU."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = utcnow()
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [x509.NameAttribute(NameOID.COMMON_NAME, "forged"), x509.NameAttribute(NameOID.SERIAL_NUMBER, uid)]
            )
        )
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class _FalseCssm:
    """An HTTPS server on loopback answering every POST with ``answer(request bytes)``."""

    def __init__(self, tmp_path, answer):
        from core.tls import generate_self_signed

        self.cert, self.key = tmp_path / "cssm-tls.crt", tmp_path / "cssm-tls.key"
        generate_self_signed("127.0.0.1", self.cert, self.key)
        answer_with = answer

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = answer_with(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Type", "application/yaml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_once_a_root_is_pinned_an_authorization_under_another_root_is_refused(
    world, sysadmin, pending_registration, tmp_path
):
    """Trust on first use: the first Authorization pinned the CSSM root (or ONPREM_CSSM_ROOT_FILE names
    it); a CSSM of another root, however well formed its answer, is not CSSM."""
    from sync.services.common import SyncFailed, configured_root
    from sync.services.registration import apply_authorization

    account, request = pending_registration
    impostor = seeded_emulator(tmp_path / "impostor")
    answer, name = impostor.process(
        serialize(request).encode(), name="request.yml", mode=MANUAL, require_credentials=False
    )
    assert configured_root() == world["emulator"].ca.root_pem != impostor.ca.root_pem
    with pytest.raises(SyncFailed) as refused:
        apply_authorization(account, answer.encode(), actor=sysadmin, name=name, mode=MANUAL)
    assert refused.value.message == MSG_INVALID_SIGNING_CERTIFICATE
    assert not SigningAuthority.objects.filter(account=account, source=SigningAuthority.Source.CSSM).exists()

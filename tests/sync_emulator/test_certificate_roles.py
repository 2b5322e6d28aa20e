"""sync.certificate_roles: each certificate under the CSSM root signs only what its role allows.

A matrix of signers x document kinds through ``sync.documents.verify``, then the profile checks of the
path (CA flags, path length, key usage, EKU on an issuing CA) on certificates made to break one
rule each, and the emulator's upgrade of a signer issued before roles existed.
"""

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core import pki
from sync import certificate_roles as roles
from sync.documents.build import build
from sync.documents.document import format_timestamp, utcnow
from sync.documents.rejections import InvalidIdCertificate, InvalidSigningCertificate
from sync.documents.serialize import serialize
from sync.documents.signing import sign
from sync.documents.verify import parse_and_verify
from sync.emulator.ca import CertificateAuthority
from tests.sync_emulator.cssm_helpers import OnPremSide

NOW = utcnow()  # the moment every certificate of these tests is made and checked at


@pytest.fixture
def ca(tmp_path):
    """The emulator's CA, made at NOW (the module may be imported long before a test runs)."""
    return CertificateAuthority(tmp_path / "ca").ensure(now=NOW)


def _cert(
    issuer_cert,
    issuer_key,
    public_key,
    *,
    ca=False,
    path_length=None,
    eku=None,
    key_cert_sign=None,
    digital_signature=True,
    name="test",
    uid="uid-1",
):
    builder = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.SERIAL_NUMBER, uid)])
        )
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(minutes=5))
        .not_valid_after(NOW + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=digital_signature,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca if key_cert_sign is None else key_cert_sign,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_cert.public_key()), critical=False)
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def pki_world(ca):
    """Every kind of certificate under the emulator's root, each with its key."""
    side = OnPremSide()
    world = {"ca": ca, "side": side}
    world["signer"] = (ca.signer_cert, ca.signer_key, [ca.issuing_cert])
    world["onprem_id"] = (
        ca.issue_id_certificate(side.id_key.public_key(), name="Acme", uid=side.onprem.uid, now=NOW),
        side.id_key,
        [ca.issuing_cert],
    )
    authority = ca.issue_signing_certificate(side.signing_key.public_key(), name="Acme", uid=side.onprem.uid, now=NOW)
    device_key = pki.new_private_key()
    device = pki.issue_device_certificate(
        authority_key=side.signing_key,
        authority_cert=authority,
        public_key=device_key.public_key(),
        common_name="dev",
        serial_number_attr="FOC1",
        organizational_unit="Acme",
        now=NOW,
    )
    world["device"] = (device, device_key, [authority, ca.issuing_cert])
    minted_key = pki.new_private_key()
    world["minted_signer"] = (
        _cert(authority, side.signing_key, minted_key.public_key(), eku=[roles.OID_CSSM_DOCUMENT_SIGNER]),
        minted_key,
        [authority, ca.issuing_cert],
    )
    legacy_key = pki.new_private_key()
    world["legacy_signer"] = (
        _cert(ca.issuing_cert, ca.issuing_key, legacy_key.public_key()),
        legacy_key,
        [ca.issuing_cert],
    )
    world["authority"] = authority
    return world


def _signed(world, kind, signer):
    cert, key, issuers = world[signer]
    side, ca = world["side"], world["ca"]
    if kind == "SyncRequest":
        side.id_certificate, side.chain = pki.certificate_pem(world["onprem_id"][0]), ca.chain_pems()
        return side.sync_request(key=key, certificates=[cert, *issuers])
    body = {
        "in_reply_to": "r-1",
        "onprem_name": "Acme",
        "export_control_allowed": True,
        "id_certificate": pki.certificate_pem(world["onprem_id"][0]),
        "certificate_chain": ca.chain_pems(),
        "full_sync_required": False,
    }
    if kind == "Authorization":
        body.update(registered_at=format_timestamp(NOW), signing_certificate=pki.certificate_pem(world["authority"]))
        document = build(kind, side.onprem, body)
    else:
        body.update(
            entitlements=[], export_decisions=[], dlc_decisions=[], product_instances_on_cssm=0, rum_acknowledgements=[]
        )
        document = build(kind, side.onprem, body, sync_type="standard")
    return sign(document, key, [cert, *issuers])


# An end entity with no EKU straight from the issuing CA is what an On-Prem ID certificate looked
# like before roles: accepted for a SyncRequest, where CSSM also pins the registered ID key (below).
ALLOWED = {
    ("Authorization", "signer"),
    ("SyncResponse", "signer"),
    ("SyncRequest", "onprem_id"),
    ("SyncRequest", "legacy_signer"),
}


@pytest.mark.parametrize("kind", ["Authorization", "SyncResponse", "SyncRequest"])
@pytest.mark.parametrize("signer", ["signer", "onprem_id", "device", "minted_signer", "legacy_signer"])
def test_only_the_certificate_whose_role_it_is_signs_each_kind(pki_world, kind, signer):
    text = serialize(_signed(pki_world, kind, signer))
    verify = dict(trusted_roots=[pki_world["ca"].root_cert], now=NOW, intermediates=[pki_world["ca"].issuing_cert])
    if (kind, signer) in ALLOWED:
        assert parse_and_verify(text, **verify).signer_certificate == pki_world[signer][0]
    else:
        with pytest.raises(InvalidSigningCertificate):
            parse_and_verify(text, **verify)


def _refused(role, leaf, issuers, roots):
    with pytest.raises(roles.NotInRole) as refused:
        roles.validate(role, leaf, issuers, roots, at=NOW)
    return refused.value


def test_the_path_profile_is_checked_at_every_step(ca):
    key = pki.new_private_key()
    signer_eku = [roles.OID_CSSM_DOCUMENT_SIGNER]
    good = _cert(ca.issuing_cert, ca.issuing_key, key.public_key(), eku=signer_eku)
    assert (
        roles.validate(roles.CSSM_DOCUMENT_SIGNER, good, [ca.issuing_cert], [ca.root_cert], at=NOW)[-1] == ca.root_cert
    )
    # An end entity acting as an issuer (the CA flag checked on the issuer).
    by_leaf = _cert(ca.signer_cert, ca.signer_key, pki.new_private_key().public_key(), eku=signer_eku)
    _refused(roles.CSSM_DOCUMENT_SIGNER, by_leaf, [ca.signer_cert, ca.issuing_cert], [ca.root_cert])
    # A leaf that is a CA, or may sign certificates, is not a document signer.
    _refused(
        roles.CSSM_DOCUMENT_SIGNER,
        _cert(ca.issuing_cert, ca.issuing_key, key.public_key(), ca=True, path_length=0, eku=signer_eku),
        [ca.issuing_cert],
        [ca.root_cert],
    )
    _refused(
        roles.CSSM_DOCUMENT_SIGNER,
        _cert(ca.issuing_cert, ca.issuing_key, key.public_key(), eku=signer_eku, digital_signature=False),
        [ca.issuing_cert],
        [ca.root_cert],
    )
    # Path length: a CA under a pathLen-0 CA may not issue.
    side = OnPremSide()
    authority = ca.issue_signing_certificate(side.signing_key.public_key(), name="A", uid="u", now=NOW)
    sub_ca_key = pki.new_private_key()
    sub_ca = _cert(authority, side.signing_key, sub_ca_key.public_key(), ca=True, path_length=0)
    below = _cert(sub_ca, sub_ca_key, key.public_key(), eku=[ExtendedKeyUsageOID.CLIENT_AUTH])
    _refused(roles.DEVICE_ID, below, [sub_ca, authority, ca.issuing_cert], [ca.root_cert])
    # An issuing CA whose EKU excludes the role confines what it certifies.
    confined_key = pki.new_private_key()
    confined = _cert(
        ca.root_cert,
        ca.root_key,
        confined_key.public_key(),
        ca=True,
        path_length=0,
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )
    assert "excludes" in str(
        _refused(
            roles.CSSM_DOCUMENT_SIGNER,
            _cert(confined, confined_key, key.public_key(), eku=signer_eku),
            [confined],
            [ca.root_cert],
        )
    )
    # Another root is not the root.
    other = CertificateAuthority(ca.directory.parent / "other").ensure()
    _refused(roles.CSSM_DOCUMENT_SIGNER, good, [ca.issuing_cert], [other.root_cert])


def test_a_signing_authority_is_a_path_length_zero_ca_in_the_device_role(ca):
    side = OnPremSide()
    authority = ca.issue_signing_certificate(side.signing_key.public_key(), name="A", uid="u", now=NOW)
    roles.validate(roles.DEVICE_SIGNING_AUTHORITY, authority, [ca.issuing_cert], [ca.root_cert], at=NOW)
    wider = _cert(ca.issuing_cert, ca.issuing_key, side.signing_key.public_key(), ca=True, path_length=1)
    _refused(roles.DEVICE_SIGNING_AUTHORITY, wider, [ca.issuing_cert], [ca.root_cert])
    as_signer = _cert(
        ca.issuing_cert,
        ca.issuing_key,
        side.signing_key.public_key(),
        ca=True,
        path_length=0,
        eku=[roles.OID_CSSM_DOCUMENT_SIGNER],
    )
    _refused(roles.DEVICE_SIGNING_AUTHORITY, as_signer, [ca.issuing_cert], [ca.root_cert])


def test_the_emulator_replaces_a_signer_issued_before_roles_under_the_same_root(tmp_path):
    ca = CertificateAuthority(tmp_path / "ca").ensure()
    legacy_key = pki.new_private_key()
    legacy = _cert(ca.issuing_cert, ca.issuing_key, legacy_key.public_key())
    (tmp_path / "ca" / "signer.crt").write_text(pki.certificate_pem(legacy))
    (tmp_path / "ca" / "signer.key").write_text(pki.private_key_pem(legacy_key))
    root_before = ca.root_pem

    upgraded = CertificateAuthority(tmp_path / "ca").ensure()

    assert upgraded.root_pem == root_before
    assert upgraded.signer_cert != legacy
    roles.validate(
        roles.CSSM_DOCUMENT_SIGNER, upgraded.signer_cert, [upgraded.issuing_cert], [upgraded.root_cert], at=utcnow()
    )


def test_cssm_takes_a_sync_request_only_from_the_registered_id_key(registered, emulator):
    """The key pin behind the legacy allowance: another certificate of the right shape is refused."""
    from sync.emulator.service import EmulatorError

    impostor_key = pki.new_private_key()
    impostor = emulator.ca.issue_id_certificate(
        impostor_key.public_key(), name=registered.onprem.name, uid=registered.onprem.uid, now=utcnow()
    )
    request = registered.sync_request(key=impostor_key, certificates=[impostor, emulator.ca.issuing_cert])
    with pytest.raises(EmulatorError) as refused:
        emulator.process(serialize(request).encode())
    assert refused.value.code == InvalidIdCertificate.code

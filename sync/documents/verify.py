"""Checks of a parsed document, in the guide's order, each failure the guide's ``Rejection``:
the signer in its role under a trusted root, the signature, the account, the time, replays,
and the certificates a response brings."""

from __future__ import annotations

import dataclasses
import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from core import pki

from .. import certificate_roles as roles
from .canonical import canonical_bytes
from .document import Document, OnPrem, utcnow
from .parse import parse
from .rejections import (
    MANUAL,
    AlreadyProcessed,
    CertificatesMissing,
    InvalidCertificate,
    InvalidIdCertificate,
    InvalidSigningCertificate,
    Modified,
    TimestampSkew,
    WrongAccount,
)
from .signing import signature_verifies

# "A product registration time must fall within 24-hours of the current SSM On-Prem server
# time": the same tolerance for documents.
MAX_SKEW = datetime.timedelta(hours=24)


@dataclasses.dataclass
class Verified:
    """What ``verify`` established: the signer and, for responses, the certificates they bring."""

    document: Document
    signer_certificate: x509.Certificate | None
    chain: list


def _load_pems(pems, mode, error):
    certs = []
    for pem in pems:
        try:
            certs.append(pki.load_certificate(pem))
        except (pki.PkiError, ValueError):
            raise error("a certificate is not valid PEM", mode=mode) from None
    return certs


def _roots(trusted_roots):
    return [pki.load_certificate(r) if isinstance(r, (str, bytes)) else r for r in trusted_roots]


def _directly_issued(child, parent):
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_validity(cert, now):
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def _validated_signer(document, chain, trusted_roots, intermediates, mode, now):
    """The signer's validated path ``[signer, issuing CA, root]`` in the role that signs this kind.

    The path's shape is checked at a time when its certificates overlap; whether they are valid
    *now* is the later timestamp check (the guide's "Invalid Certificate timestamp").
    """
    role = roles.SIGNER_OF[document.kind]
    roots = _roots(trusted_roots)
    untrusted = [*chain[1:], *_roots(intermediates)]
    at = roles.common_validity_time([*chain, *roots], now)
    try:
        return roles.validate(role, chain[0], untrusted, roots, at=at)
    except roles.NotInRole as exc:
        raise InvalidSigningCertificate(str(exc), mode=mode) from None


def verify(
    document: Document,
    *,
    trusted_roots,
    mode=MANUAL,
    now=None,
    expected_uid=None,
    expected_onprem: OnPrem | None = None,
    in_reply_to=None,
    is_processed=None,
    expected_id_public_key=None,
    max_skew=MAX_SKEW,
    intermediates=(),
) -> Verified:
    """Check a parsed document; return ``Verified`` or raise the guide's ``Rejection``.

    Order (first failure wins): the signer certificate is, under ``trusted_roots``, the one whose
    role is to sign this kind of document (``certificate_roles.SIGNER_OF``;
    InvalidSigningCertificate) -> signature over the canonical form (Modified) -> the document
    is about this On-Prem: ``expected_uid`` / ``expected_onprem`` uid and smart account, and
    answers ``in_reply_to`` (WrongAccount) -> ``created_at`` within ``max_skew`` of ``now`` and
    the signer certificate valid at ``now`` (TimestampSkew) -> not seen before:
    ``is_processed(document_id)`` (AlreadyProcessed) -> for Authorization / SyncResponse, the
    ID certificate in the body: an On-Prem ID certificate under the roots, valid now
    (InvalidCertificate), certifying ``expected_id_public_key`` for this uid
    (InvalidIdCertificate); for an Authorization also the signing certificate, a signing
    authority for this uid (InvalidSigningCertificate).
    """
    now = now or utcnow()
    signature = document.signature or {}
    data = canonical_bytes(document.unsigned_dict())
    signer_cert = None
    chain = []
    if signature.get("signer") == "id_csr":
        if document.kind != "RegistrationRequest":
            raise CertificatesMissing("only a registration request may be signed by its CSR", mode=mode)
        try:
            public_key = pki.load_csr(document.body["id_csr"]).public_key()
        except pki.PkiError:
            raise InvalidIdCertificate("the id_csr is not a valid P-256 CSR", mode=mode) from None
    else:
        if not signature.get("certificates"):
            raise CertificatesMissing("no signature certificates", mode=mode)
        presented = _load_pems(signature["certificates"], mode, InvalidSigningCertificate)
        chain = _validated_signer(document, presented, trusted_roots, intermediates, mode, now)
        signer_cert = chain[0]
        public_key = signer_cert.public_key()
    if not signature_verifies(public_key, signature.get("algorithm"), data, signature.get("value", "")):
        raise Modified("the signature does not verify", mode=mode)

    if expected_onprem is not None:
        if document.onprem.uid != expected_onprem.uid or document.onprem.smart_account != expected_onprem.smart_account:
            raise WrongAccount("the document is for another On-Prem", mode=mode)
    if expected_uid is not None and document.onprem.uid != expected_uid:
        raise WrongAccount("the document is for another On-Prem", mode=mode)
    if in_reply_to is not None and document.in_reply_to != in_reply_to:
        raise WrongAccount("the response answers another request", mode=mode)

    if abs(now - document.created_at) > max_skew:
        raise TimestampSkew("created_at is too far from now", mode=mode)
    if signer_cert is not None and not all(check_validity(cert, now) for cert in chain):
        raise TimestampSkew("a signature certificate is not valid now", mode=mode)

    if is_processed is not None and is_processed(document.document_id):
        raise AlreadyProcessed(f"{document.id_field} {document.document_id} was seen before", mode=mode)

    if document.kind in ("Authorization", "SyncResponse"):
        _verify_issued_certificates(document, trusted_roots, mode, now, expected_id_public_key)
    return Verified(document=document, signer_certificate=signer_cert, chain=chain)


def _verify_issued_certificates(document, trusted_roots, mode, now, expected_id_public_key):
    """The certificates CSSM hands the On-Prem: each in its role, under the root, valid now."""
    body = document.body
    issuers = _load_pems(body["certificate_chain"], mode, InvalidCertificate)
    if not issuers:
        raise CertificatesMissing("the certificate chain is empty", mode=mode)
    roots = _roots(trusted_roots)
    try:
        id_cert = pki.load_certificate(body["id_certificate"])
        roles.validate(roles.ONPREM_ID, id_cert, issuers, roots, at=now)
    except (pki.PkiError, roles.NotInRole) as exc:
        raise InvalidCertificate(f"the ID certificate: {exc}", mode=mode) from None
    if certificate_uid(id_cert) != document.onprem.uid or (
        expected_id_public_key is not None
        and pki.public_key_fingerprint(id_cert.public_key()) != pki.public_key_fingerprint(expected_id_public_key)
    ):
        raise InvalidIdCertificate("the ID certificate is not this On-Prem's", mode=mode)
    if document.kind == "Authorization":
        try:
            signing = pki.load_certificate(body["signing_certificate"])
            roles.validate(roles.DEVICE_SIGNING_AUTHORITY, signing, issuers, roots, at=now)
        except (pki.PkiError, roles.NotInRole) as exc:
            raise InvalidSigningCertificate(f"the signing certificate: {exc}", mode=mode) from None
        if certificate_uid(signing) != document.onprem.uid:
            raise InvalidSigningCertificate("the signing certificate is not this On-Prem's", mode=mode)


def certificate_uid(cert) -> str | None:
    """The On-Prem UID a CSSM-issued certificate names (its subject serialNumber)."""
    attrs = cert.subject.get_attributes_for_oid(x509.oid.NameOID.SERIAL_NUMBER)
    return attrs[0].value if attrs else None


def chain_root(document: Document) -> str | None:
    """The self-signed root at the end of an Authorization's / SyncResponse's ``certificate_chain``.

    For an On-Prem with no CSSM root configured: pin this one from the first Authorization
    (trust on first use) and pass it as ``trusted_roots`` from then on. Never trust the root a
    later response brings without comparing it to the pinned one.
    """
    chain = document.body.get("certificate_chain") or []
    if not chain:
        return None
    try:
        cert = pki.load_certificate(chain[-1])
    except pki.PkiError:
        return None
    return chain[-1] if cert.subject == cert.issuer and _directly_issued(cert, cert) else None


def parse_and_verify(data, *, name=None, expected_kinds=None, mode=MANUAL, **checks) -> Verified:
    """``parse`` then ``verify``: the one call a receiver makes."""
    return verify(parse(data, name=name, mode=mode, expected_kinds=expected_kinds), mode=mode, **checks)

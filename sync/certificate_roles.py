"""Which certificate may sign what: the roles of the certificates CSSM issues, and path validation.

Every certificate under the CSSM root chains to it, a device's ID certificate included, so
chaining to the root says nothing about what a certificate may do; its *role* does: the extended
key usage naming it, whether it is a CA, and that it is issued by the CSSM issuing CA itself.
Path validation is ``cryptography.x509.verification`` with an end-entity policy per role. The
roles and what they rule out: docs/sync-protocol.md, "Certificate roles"; the emulator
(``sync.emulator.ca``) issues certificates to that profile.
"""

from __future__ import annotations

import dataclasses
import datetime

from cryptography import x509
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

OID_CSSM_DOCUMENT_SIGNER = x509.ObjectIdentifier("2.25.66923167894502028040866192735784064328")
OID_ONPREM_ID = x509.ObjectIdentifier("2.25.247201646659090108617421807365023879409")
OID_DEVICE_ID = ExtendedKeyUsageOID.CLIENT_AUTH

# A signature chain is short: signer, issuing CA, root. Anything much longer is not ours.
MAX_PRESENTED = 4


class NotInRole(Exception):
    """The certificate does not chain to a trusted root in the role asked of it (``str`` says why)."""


@dataclasses.dataclass(frozen=True)
class Role:
    name: str
    eku: x509.ObjectIdentifier
    ca: bool = False
    # Certificates issued before roles existed carry no EKU. Accepted only for roles whose
    # holder the verifier pins by key as well (an On-Prem's own ID key, its signing key).
    eku_may_be_absent: bool = False
    intermediates: int = 1  # issued by the CSSM issuing CA, itself issued by the root


CSSM_DOCUMENT_SIGNER = Role("CSSM document signer", OID_CSSM_DOCUMENT_SIGNER)
ONPREM_ID = Role("On-Prem ID certificate", OID_ONPREM_ID, eku_may_be_absent=True)
DEVICE_SIGNING_AUTHORITY = Role("local account signing authority", OID_DEVICE_ID, ca=True, eku_may_be_absent=True)
# Issued by a local account's signing authority (one step below the issuing CA). It signs the
# device's own messages on the device channel, and nothing of synchronization.
DEVICE_ID = Role("device ID certificate", OID_DEVICE_ID, intermediates=2)

# The certificate whose role is to sign each kind of document (a RegistrationRequest is signed
# with the key of its own CSR, before any certificate exists).
SIGNER_OF = {
    "Authorization": CSSM_DOCUMENT_SIGNER,
    "SyncResponse": CSSM_DOCUMENT_SIGNER,
    "SyncRequest": ONPREM_ID,
}


def extended_key_usage(role: Role) -> x509.ExtendedKeyUsage:
    """The EKU extension a certificate in ``role`` is issued with."""
    return x509.ExtendedKeyUsage([role.eku])


def _refuse(reason):
    raise ValueError(reason)


def _leaf_policy(role: Role):
    def key_usage(_policy, _cert, usage):
        if not usage.digital_signature:
            _refuse("keyUsage lacks digitalSignature")
        if usage.key_cert_sign != role.ca:
            _refuse("keyUsage keyCertSign does not match the role")

    def basic_constraints(_policy, _cert, constraints):
        if constraints is None:
            if role.ca:
                _refuse("a signing authority must carry basicConstraints")
            return
        if constraints.ca != role.ca:
            _refuse("basicConstraints CA flag does not match the role")
        if role.ca and constraints.path_length != 0:
            _refuse("a signing authority must have pathLenConstraint 0")

    def eku(_policy, _cert, usage):
        if usage is None:
            if not role.eku_may_be_absent:
                _refuse(f"no extended key usage: not a {role.name}")
            return
        if role.eku not in usage:
            _refuse(f"extended key usage does not name the {role.name}")

    criticality = verification.Criticality
    return (
        verification.ExtensionPolicy.webpki_defaults_ee()
        # Our certificates name no host: the WebPKI requirement of a subjectAltName does not apply.
        .may_be_present(x509.SubjectAlternativeName, criticality.AGNOSTIC, None)
        .require_present(x509.KeyUsage, criticality.AGNOSTIC, key_usage)
        .may_be_present(x509.BasicConstraints, criticality.AGNOSTIC, basic_constraints)
        .may_be_present(x509.ExtendedKeyUsage, criticality.AGNOSTIC, eku)
    )


def _ca_policy(role: Role):
    def eku(_policy, _cert, usage):
        # A CA that names purposes confines what it certifies (as the WebPKI treats EKU on CAs).
        if usage is not None and role.eku not in usage and ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in usage:
            _refuse(f"an issuing CA's extended key usage excludes the {role.name}")

    return verification.ExtensionPolicy.webpki_defaults_ca().may_be_present(
        x509.ExtendedKeyUsage, verification.Criticality.AGNOSTIC, eku
    )


def validate(role: Role, leaf, untrusted, roots, *, at: datetime.datetime) -> list:
    """The validated path ``[leaf, ..., root]`` of ``leaf`` in ``role`` at time ``at``; else NotInRole.

    ``untrusted``: certificates that may serve as intermediates (what the document brought, and
    issuing CAs the verifier knows); ``roots``: the only trust anchors.
    """
    if len(untrusted) > MAX_PRESENTED * 2:
        raise NotInRole("too many certificates")
    if not roots:
        raise NotInRole("no trusted root")
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(list(roots)))
        .time(at)
        .max_chain_depth(role.intermediates)
        .extension_policies(ca_policy=_ca_policy(role), ee_policy=_leaf_policy(role))
        .build_client_verifier()
    )
    try:
        return verifier.verify(leaf, list(untrusted)).chain
    except verification.VerificationError as exc:
        raise NotInRole(f"not a {role.name} under the trusted root: {exc}") from None


def common_validity_time(certs, fallback):
    """A moment at which every one of ``certs`` is valid, or ``fallback`` if there is none.

    Path validation needs a time; the sync documents report an expired or not-yet-valid signer as
    the guide's timestamp error, checked after the signature. So the path's *shape* is checked at
    a time when the certificates overlap, and their validity at "now" separately.
    """
    start = max(cert.not_valid_before_utc for cert in certs)
    end = min(cert.not_valid_after_utc for cert in certs)
    return start if start <= end else fallback


__all__ = [
    "OID_CSSM_DOCUMENT_SIGNER",
    "OID_ONPREM_ID",
    "OID_DEVICE_ID",
    "NotInRole",
    "Role",
    "CSSM_DOCUMENT_SIGNER",
    "ONPREM_ID",
    "DEVICE_SIGNING_AUTHORITY",
    "DEVICE_ID",
    "SIGNER_OF",
    "extended_key_usage",
    "validate",
    "common_validity_time",
]

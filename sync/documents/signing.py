"""Signatures over the canonical form, both ways (``sign``, ``signature_verifies``), and the CSRs
of the On-Prem's keys.

ECDSA P-256 or RSA PKCS#1 v1.5, SHA-256 (``document.ALGORITHMS``). The signer hashes the
canonical form piece by piece and signs the digest (``Prehashed``): for the verifier it is the
usual signature over ``canonical_bytes(document without signature)``.
"""

import base64
import binascii

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from core import pki

from .canonical import canonical_digest
from .document import Document


def _algorithm_for(private_key):
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and isinstance(private_key.curve, ec.SECP256R1):
        return "ecdsa-p256-sha256"
    if isinstance(private_key, rsa.RSAPrivateKey) and private_key.key_size >= 2048:
        return "rsa-pkcs1v15-sha256"
    raise ValueError("signing keys must be ECDSA P-256 or RSA of 2048 bits or more")


def _sign_digest(private_key, digest):
    """The signature of the data whose SHA-256 is ``digest`` (the same as signing the data)."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    return private_key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def sign(document: Document, private_key, certificates) -> Document:
    """Sign with ``private_key``; ``certificates``: the signer's certificate first, then its issuers.

    With ``certificates`` empty the document must be a RegistrationRequest, signed with the key
    of its ``id_csr`` (the On-Prem has no certificate yet).
    """
    certificates = [c if isinstance(c, str) else pki.certificate_pem(c) for c in certificates]
    if certificates:
        signer_key = pki.load_certificate(certificates[0]).public_key()
        signer = "certificate"
    elif document.kind == "RegistrationRequest":
        signer_key = x509.load_pem_x509_csr(document.body["id_csr"].encode()).public_key()
        signer = "id_csr"
    else:
        raise ValueError("only a RegistrationRequest may be signed without a certificate")
    if pki.public_key_fingerprint(signer_key) != pki.public_key_fingerprint(private_key.public_key()):
        raise ValueError("the private key does not match the signer's certificate")
    algorithm = _algorithm_for(private_key)
    # Hashed piecewise: verify() checks the same signature over canonical_bytes() of the parsed data.
    value = base64.b64encode(_sign_digest(private_key, canonical_digest(document.unsigned_dict()))).decode()
    document.signature = {"algorithm": algorithm, "signer": signer, "value": value, "certificates": certificates}
    return document


def signature_verifies(public_key, algorithm, data, value):
    """Whether ``value`` (base64) signs ``data`` with ``public_key`` in ``algorithm``; never raises."""
    try:
        raw = base64.b64decode(value, validate=True)
        if algorithm == "ecdsa-p256-sha256" and pki.is_p256(public_key):
            public_key.verify(raw, data, ec.ECDSA(hashes.SHA256()))
        elif algorithm == "rsa-pkcs1v15-sha256" and isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(raw, data, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def new_csr(private_key, *, common_name, uid):
    """A CSR (PEM) for an On-Prem key: CN the On-Prem name, serialNumber its UID."""
    name = x509.Name(
        [
            pki.name_attribute(x509.oid.NameOID.COMMON_NAME, common_name),
            pki.name_attribute(x509.oid.NameOID.SERIAL_NUMBER, uid),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(private_key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()

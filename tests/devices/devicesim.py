"""A small simulated device for the tests: builds and signs envelopes with ``cryptography``.

Deliberately independent of ``smart_agent`` (a second implementation of the same contract):
only ``cryptography`` and the Django test client, following docs/protocol.md.
"""

import base64
import json
import secrets
import time
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SMART_TRANSPORT = "/SmartTransport"
CALL_HOME = "/Transportgateway/services/DeviceRequestHandler"


def sign(key, data: bytes) -> str:
    return base64.b64encode(key.sign(data, ec.ECDSA(hashes.SHA256()))).decode()


def make_csr(key, cn="device"):
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def rum(key, report_id, usage, **extra):
    """One SLP RUM report (docs/protocol.md, REPORT_USAGE) listing ``usage`` ([{tag, count}]);
    ``extra`` goes in its payload too (``utility_mode=True``)."""
    payload = json.dumps(
        {"report_id": report_id, "start_time": 1, "end_time": 2, "usage": usage, **extra}, separators=(", ", ": ")
    )
    return {
        "header": {"type": "rum", "version": "1"},
        "payload": payload,
        "signature": {"signing_type": "ecdsa-p256-sha256", "key": "device-trust", "value": sign(key, payload.encode())},
    }


def cslu_path(account):
    """The CSLU push URL of a local account: ``/cslu/v1/pi/{LocalAccountName}-{n}``."""
    return f"/cslu/v1/pi/{quote(account.name, safe='')}-{account.pk}"


def verify_reply(envelope, chain_pems=None, *, use_db=True):
    """Check a reply's signature: with the device's chain, or the server authority in the database."""
    from licensing.models import SigningAuthority

    key_serial = envelope["signature"]["key"]
    # Refusals of unknown devices are signed by the server's authority, which no chain holds.
    pems = list(chain_pems or [])
    if use_db:
        pems += [a.certificate_pem for a in SigningAuthority.objects.filter(account=None)]
    if use_db and not chain_pems:
        pems += [a.certificate_pem for a in SigningAuthority.objects.exclude(account=None)]
    for pem in pems:
        cert = x509.load_pem_x509_certificate(pem.encode())
        if format(cert.serial_number, "x") == key_serial:
            der = base64.b64decode(envelope["signature"]["value"])
            cert.public_key().verify(der, envelope["payload"].encode(), ec.ECDSA(hashes.SHA256()))
            return True
    raise AssertionError(f"no certificate with serial {key_serial} to verify the reply")


class Device:
    """A simulated product instance: its key, UDI, and (after REGISTER) its ID certificate."""

    def __init__(self, client, serial_number=None, pid="CSR1000V"):
        self.client = client
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.sudi = {"udi_pid": pid, "udi_serial_number": serial_number or secrets.token_hex(5).upper()}
        self.software_tag = "regid.2014-05.com.cisco.CSR1000V,1.0_9a4f-7e1c"
        self.cert_pem = None
        self.cert_serial = None
        self.chain = None
        self.last_response = None
        self.environ = {}  # extra WSGI environ for every request (REMOTE_ADDR, HTTP_X_FORWARDED_FOR)

    def payload(self, **fields):
        body = {
            "timestamp": int(time.time() * 1000),
            "nonce": secrets.token_urlsafe(16),
            "sudi": dict(self.sudi),
            "software_tag": self.software_tag,
        }
        body.update(fields)
        return body

    def envelope(self, message_type, payload, *, key=None, signing_key=None):
        text = payload if isinstance(payload, str) else json.dumps(payload)
        key = key or (self.cert_serial if self.cert_serial and message_type != "REGISTER" else "csr")
        return {
            "header": {"type": message_type, "version": "1"},
            "payload": text,
            "signature": {
                "signing_type": "ecdsa-p256-sha256",
                "key": key,
                "value": sign(signing_key or self.key, text.encode()),
            },
        }

    def post(self, envelope, path=SMART_TRANSPORT):
        body = envelope if isinstance(envelope, (bytes, str)) else json.dumps(envelope)
        self.last_response = self.client.post(path, data=body, content_type="application/json", **self.environ)
        return self.last_response

    def send(self, message_type, path=SMART_TRANSPORT, **fields):
        """Send a message; returns the reply payload (dict), after checking the reply signature."""
        response = self.post(self.envelope(message_type, self.payload(**fields)), path)
        assert response.status_code == 200, response.content[:500]
        reply = json.loads(response.content)
        assert reply["header"]["type"] == f"{message_type}_RESPONSE"
        verify_reply(reply, self.chain)
        return json.loads(reply["payload"])

    def register(self, token, **fields):
        fields.setdefault("csr", make_csr(self.key))
        reply = self.send("REGISTER", id_token=token if isinstance(token, str) else token.token, **fields)
        if reply["status"] == "SUCCESS":
            self.cert_pem, self.cert_serial = reply["id_certificate"], reply["id_certificate_serial"]
            self.chain = reply["certificate_chain"]
        return reply

    def third_party_keys(self, tags=None, **fields):
        """GET_THIRD_PARTY_KEY (all the keys of its virtual account, or those of ``tags``): the reply payload."""
        if tags is not None:
            fields["tags"] = tags
        return self.send("GET_THIRD_PARTY_KEY", **fields)


def row_counts():
    """Rows of every table a device message could write, for "nothing was written" checks."""
    from core.models import Event
    from licensing.models import (
        DeviceCertificate,
        DeviceIdentity,
        DeviceNonce,
        DeviceRequest,
        LicenseUsage,
        ProductInstance,
        RegistrationToken,
        RumReport,
        ThirdPartyKeyDelivery,
    )

    counts = {
        model.__name__: model.objects.count()
        for model in (
            DeviceCertificate,
            DeviceIdentity,
            DeviceNonce,
            DeviceRequest,
            LicenseUsage,
            ProductInstance,
            RumReport,
            ThirdPartyKeyDelivery,
            Event,
        )
    }
    counts["token_uses"] = sum(RegistrationToken.objects.values_list("uses", flat=True))
    counts["last_contacts"] = sorted(str(v) for v in ProductInstance.objects.values_list("last_contact_at", flat=True))
    return counts

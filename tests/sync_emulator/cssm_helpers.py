"""Helpers for the sync-emulator tests.

``OnPremSide`` plays a minimal On-Prem with the documents module only (keys, registration,
sync requests, verifying answers), so these tests do not depend on the sync engine.
"""

import datetime
import uuid
from pathlib import Path

from core import pki
from sync.documents.build import build
from sync.documents.document import OnPrem
from sync.documents.rejections import MANUAL
from sync.documents.signing import new_csr, sign
from sync.documents.verify import parse_and_verify

BASE_DIR = Path(__file__).resolve().parents[2]
SEED = BASE_DIR / "sync" / "emulator" / "seed-example.yml"
ACME_USER = ("admin@acme.example", "acme-cssm-demo-1")
GLOBEX_USER = ("ops@globex.example", "globex-cssm-demo-1")
HSEC = "regid.2019-03.com.cisco.DNA_HSEC,1.0_509c41ab-05a8-431f-95fe-ec28086e8844"
NW_ADV = "regid.2017-07.com.cisco.DNA_NWStack,1.0_e7244e71-3ad5-4608-8bf0-d12f67c80896"


class OnPremSide:
    def __init__(self, name="Acme Lab", smart_account="acme.example", virtual_account="Lab", uid=None):
        self.id_key = pki.new_private_key()
        self.signing_key = pki.new_private_key()
        self.onprem = OnPrem(
            name=name, uid=uid or str(uuid.uuid4()), smart_account=smart_account, virtual_account=virtual_account
        )
        self.id_certificate = None
        self.chain = []
        self.last_response_id = None
        self.processed = set()
        self.authorization = None

    def registration_request(self, *, reregistration=False, now=None):
        body = {
            "account_name": self.onprem.name,
            "reregistration": reregistration,
            "id_csr": new_csr(self.id_key, common_name=self.onprem.name, uid=self.onprem.uid),
            "signing_csr": new_csr(self.signing_key, common_name=self.onprem.name, uid=self.onprem.uid),
            "requested_by": "sysadmin",
        }
        return sign(build("RegistrationRequest", self.onprem, body, now=now), self.id_key, [])

    def accept(self, text, request, root, *, mode=MANUAL, name=None, now=None):
        kinds = ("Authorization",) if request.kind == "RegistrationRequest" else ("SyncResponse",)
        verified = parse_and_verify(
            text,
            name=name,
            mode=mode,
            expected_kinds=kinds,
            trusted_roots=[root],
            expected_uid=self.onprem.uid,
            in_reply_to=request.document_id,
            is_processed=self.processed.__contains__,
            expected_id_public_key=self.id_key.public_key(),
            now=now,
        )
        document = verified.document
        self.processed.add(document.document_id)
        self.id_certificate = document.body["id_certificate"]
        self.chain = document.body["certificate_chain"]
        self.last_response_id = document.document_id
        if document.kind == "Authorization":
            self.authorization = document
        return document

    def sync_request(self, sync_type="standard", *, now=None, key=None, certificates=None, **body):
        full = {
            "last_response_id": self.last_response_id,
            "data_privacy": {"hostname": False, "ip_address": True, "mac_address": True},
            "product_instances": [],
            "removed_product_instances": [],
            "license_usage": [],
            "export_requests": [],
            "dlc_requests": [],
            "rum_reports": [],
        }
        full.update(body)
        document = build("SyncRequest", self.onprem, full, sync_type=sync_type, now=now)
        signer_chain = certificates if certificates is not None else [self.id_certificate, self.chain[0]]
        return sign(document, key or self.id_key, signer_chain)


def product_instance(serial, *, licenses=(), virtual_account="Default", **extra):
    return {
        "identifier": f"C9300-48P:{serial}",
        "virtual_account": virtual_account,
        "udi_pid": "C9300-48P",
        "udi_serial_number": serial,
        "product_name": "Catalyst 9300",
        "hostname": f"sw-{serial.lower()}",
        "registered_at": "2026-11-01T10:00:00Z",
        "last_contact_at": None,
        "licenses": [{"tag": tag, "count": count} for tag, count in licenses],
        **extra,
    }


def utc(*args):
    return datetime.datetime(*args, tzinfo=datetime.timezone.utc)


def rum_report(ref, payload, *, utility_mode=False):
    """One ``rum_reports`` entry of a SyncRequest: a device's signed usage report as the On-Prem holds it."""
    return {
        "ref": ref,
        "report_id": "1",
        "product_instance": "PID:C9300-48P SN:FOC1",
        "virtual_account": "Default",
        "received_at": "2026-11-01T10:00:00Z",
        "utility_mode": utility_mode,
        "payload": payload,
        "signature": {"signing_type": "ecdsa-p256-sha256", "key": "device-trust", "value": "c2lnbmF0dXJl"},
    }

"""The schema of each kind of document: its body (``BODIES``), the ``onprem`` header, the
signature, and the envelope around them (``envelope_schema``)."""

from .document import ALGORITHMS, KINDS, REQUEST_KINDS, SYNC_TYPES, VERSION
from .schema import Bool, Date, Int, List, Name, Obj, Pem, Str, Timestamp

_TAG = Name(512)
_SHA256 = Str(64, pattern=r"[0-9a-f]{64}")
# What CSSM tells an On-Prem besides licenses (docs/sync-protocol.md, "What CSSM says"). Every
# one is optional: a document from before they existed still parses, and CSSM leaves each out
# when it has nothing to say, so an older On-Prem still reads what it gets.
NOTICE_CODES = ("version_compatibility",)
_NOTICES = List(Obj({"code": Str(64, choices=NOTICE_CODES), "text": Name(2000)}), max_items=16, optional=True)
AGREEMENT = Obj(
    {
        "version": Int(minimum=1),
        "title": Name(255),
        "text": Name(200_000),
        # SHA-256 (hex) of the UTF-8 text: what an acceptance names, so it is the text that was shown.
        "digest": _SHA256,
        "published_on": Date(),
        # CSSM holds this local account's acceptance of this version.
        "accepted": Bool(),
    },
    optional=True,
)
AGREEMENT_ACCEPTANCE = Obj(
    {"version": Int(minimum=1), "digest": _SHA256, "accepted_by": Name(255), "accepted_at": Timestamp()},
    optional=True,
)
ONPREM_STATUSES = ("registered", "removed")
_LICENSE_COUNT = List(Obj({"tag": _TAG, "count": Int()}), max_items=10_000)

REGISTRATION_BODY = Obj(
    {
        "account_name": Name(100),
        "reregistration": Bool(),
        # The On-Prem's ID key (signs its sync requests) and the local account's signing authority
        # key (signs device certificates): CSSM certifies both.
        "id_csr": Pem("CERTIFICATE REQUEST"),
        "signing_csr": Pem("CERTIFICATE REQUEST"),
        "requested_by": Str(255, optional=True),
        "message_to_approver": Str(2000, optional=True),
        "product_version": Str(100, optional=True),
    }
)

AUTHORIZATION_BODY = Obj(
    {
        "in_reply_to": Name(64),
        "onprem_name": Name(),
        "registered_at": Timestamp(),
        "id_certificate": Pem(),
        "signing_certificate": Pem(),
        "certificate_chain": List(Pem(), max_items=8),
        "export_control_allowed": Bool(),
        "full_sync_required": Bool(),
        "notices": _NOTICES,
    }
)

_REDUNDANCY = Obj(
    {
        "application": Str(255),
        "role": Str(16, choices=("ACTIVE", "STANDBY")),
        "peers": List(
            Obj(
                {
                    "name": Str(255),
                    "role": Str(16),
                    "id": Str(255),
                    "product_instance_identifier": Str(512, optional=True),
                }
            ),
            max_items=64,
        ),
    },
    optional=True,
)

PRODUCT_INSTANCE = Obj(
    {
        "identifier": Name(512),
        "virtual_account": Name(100),
        "udi_pid": Str(255),
        "udi_serial_number": Str(255),
        "product_name": Str(255, optional=True),
        "product_type": Str(255, optional=True),
        "software_tag": Str(512, optional=True),
        # Absent when the data-privacy settings exclude them.
        "hostname": Str(255, optional=True),
        "ip_address": Str(64, optional=True),
        "mac_address": Str(64, optional=True),
        "registered_at": Timestamp(optional=True),
        "last_contact_at": Timestamp(optional=True, nullable=True),
        "licenses": _LICENSE_COUNT,
        "redundancy": _REDUNDANCY,
    }
)

# A Smart Licensing Using Policy usage (RUM) report as the product instance signed it: CSSM can
# verify ``signature`` over ``payload`` (byte-for-byte) and acknowledges it by ``ref``.
RUM_REPORT = Obj(
    {
        # The On-Prem's name for this report (unique per On-Prem), named again in the response.
        "ref": Name(64),
        "report_id": Name(128),
        # The reporting product instance (``PID:… SN:…``); null once it was removed.
        "product_instance": Name(512, nullable=True),
        "virtual_account": Name(100, nullable=True),
        "received_at": Timestamp(),
        "utility_mode": Bool(),
        "payload": Str(1_000_000),
        "signature": Obj({"signing_type": Str(32), "key": Str(4096), "value": Str(4096)}),
    }
)

# Licenses reserved for one product instance (Specific License Reservation): one entry per license
# and term (``end_date`` null for perpetual licenses). The request carries the complete list; it is
# left out when nothing is reserved (docs/sync-protocol.md, "Reservations").
RESERVATION = Obj(
    {
        "product_instance": Name(512),
        "virtual_account": Name(100),
        "tag": _TAG,
        "count": Int(minimum=1),
        "end_date": Date(nullable=True),
    }
)

# The licenses an upgrade replaces, as the On-Prem knows a purchase (it does not keep CSSM's line
# ids): the same fields that identify an entitlement line, and how many of it are replaced.
REPLACED_LINE = Obj(
    {
        "tag": _TAG,
        "license_type": Str(12, choices=("perpetual", "term", "demo", "subscription")),
        "start_date": Date(nullable=True),
        "end_date": Date(nullable=True),
        "subscription_id": Str(100),
        "sku": Str(100),
        "source": Str(16, choices=("pak", "ea", "order", "device_migration", "other")),
        "quantity": Int(minimum=1),
    }
)
UPGRADE_COMPLETION = Obj({"upgrade_id": Name(64), "replaced": List(REPLACED_LINE, max_items=1000)})
# Licenses ported on the On-Prem (Inventory > Licenses > Port): the lines taken, with their terms
# and how many of each, and the license they became (same terms, same quantities).
PORT_COMPLETION = Obj({"port_id": Name(64), "target": _TAG, "ported": List(REPLACED_LINE, max_items=1000)})

SYNC_REQUEST_BODY = Obj(
    {
        # The watermark: the last response the On-Prem applied (None before the first sync).
        "last_response_id": Str(64, nullable=True),
        "data_privacy": Obj({"hostname": Bool(), "ip_address": Bool(), "mac_address": Bool()}),
        # Far beyond the guide's 25,000 per account: the benchmark builds full requests of 250,000.
        "product_instances": List(PRODUCT_INSTANCE, max_items=1_000_000),
        "removed_product_instances": List(Name(512), max_items=1_000_000),
        "license_usage": List(Obj({"tag": _TAG, "virtual_account": Name(100), "in_use": Int()}), max_items=100_000),
        "export_requests": List(
            Obj(
                {
                    "request_id": Name(64),
                    "product_instance": Name(512),
                    "tag": _TAG,
                    "count": Int(minimum=1),
                    "action": Str(16, choices=("authorize", "return")),
                }
            ),
            max_items=100_000,
        ),
        "dlc_requests": List(
            Obj(
                {
                    "request_id": Name(64),
                    "product_instance": Name(512),
                    "device_identifier": Name(512),
                    "product_family": Str(255),
                    "virtual_account": Name(100),
                    "licenses": List(
                        Obj({"name": Str(255), "tag": _TAG, "count": Int(minimum=1), "pak": Str(255, optional=True)}),
                        max_items=1000,
                    ),
                }
            ),
            max_items=100_000,
        ),
        # SLP RUM reports not yet acknowledged by CSSM (sent again until they are).
        "rum_reports": List(RUM_REPORT, max_items=100_000),
        # Upgrades completed on the On-Prem ("Upgrade Pending" > the licenses being replaced),
        # sent until CSSM no longer lists the upgrade as pending. Left out when there are none.
        "upgrade_completions": List(UPGRADE_COMPLETION, max_items=100_000, optional=True),
        # Ports made on the On-Prem, sent until the response answers them in ``port_results``.
        # Left out when there are none.
        "port_completions": List(PORT_COMPLETION, max_items=100_000, optional=True),
        # The local account accepted the Smart Licensing Agreement CSSM published.
        "agreement_acceptance": AGREEMENT_ACCEPTANCE,
        "reservations": List(RESERVATION, max_items=1_000_000, optional=True),
    }
)

ENTITLEMENT = Obj(
    {
        "line_id": Name(64),
        "tag": _TAG,
        "name": Name(),
        "description": Str(2000),
        "product_family": Str(255),
        "license_type": Str(12, choices=("perpetual", "term", "demo", "subscription")),
        "billing_type": Str(10, choices=("prepaid", "usage")),
        "quantity": Int(minimum=1),
        "start_date": Date(nullable=True),
        "end_date": Date(nullable=True),
        "subscription_id": Str(100),
        "sku": Str(100),
        "source": Str(16, choices=("pak", "ea", "order", "device_migration", "other")),
        "export_restricted": Bool(),
        # Tier hierarchy: the licenses that can stand in for this one (its higher tiers).
        "parents": List(_TAG, max_items=64),
    }
)

# Third-party keys (TPL) CSSM grants the local account, one per license and service. When present it
# is the complete set (the On-Prem replaces its own); left out, the On-Prem keeps what it has.
THIRD_PARTY_KEY = Obj(
    {
        "key_id": Name(64),
        "tag": _TAG,
        "service": Name(255),
        "key": Name(8192),
        "expires_on": Date(nullable=True),
    }
)

# An upgrade: ``quantity`` licenses of ``tag`` that become available once the On-Prem names as
# many licenses of ``replaces`` to be replaced by them (an entitlement line otherwise).
UPGRADE = Obj({**ENTITLEMENT.fields, "upgrade_id": Name(64), "replaces": _TAG})

SYNC_RESPONSE_BODY = Obj(
    {
        "in_reply_to": Name(64),
        "onprem_name": Name(),
        "export_control_allowed": Bool(),
        # The complete list for the account's Default local virtual account (CSSM is the source
        # of truth for entitlements), whatever the sync type.
        "entitlements": List(ENTITLEMENT, max_items=100_000),
        "id_certificate": Pem(),
        "certificate_chain": List(Pem(), max_items=8),
        "export_decisions": List(
            Obj(
                {
                    "request_id": Name(64),
                    "status": Str(12, choices=("authorized", "denied")),
                    "reason": Str(2000),
                }
            ),
            max_items=100_000,
        ),
        "dlc_decisions": List(
            Obj(
                {
                    "request_id": Name(64),
                    "status": Str(20, choices=("migrate-success", "migrate-failed", "already-converted")),
                    "reason": Str(2000),
                }
            ),
            max_items=100_000,
        ),
        "full_sync_required": Bool(),
        "product_instances_on_cssm": Int(),
        # "removed": CSSM removed this On-Prem (90 days without synchronization, or by hand); the
        # rest of the body is then not applied. Left out while it is registered.
        "onprem_status": Str(16, choices=ONPREM_STATUSES, optional=True),
        "agreement": AGREEMENT,
        "notices": _NOTICES,
        # The ``ref`` of every RUM report of the request that CSSM now holds (left out by a CSSM
        # that acknowledges none: the reports are then sent again).
        "rum_acknowledgements": List(Name(64), max_items=100_000, optional=True),
        # Product instances whose reserved licenses CSSM returned (the instance connected to another
        # Smart Account): their reservations end and "Reserved Licenses Returned to Smart Account"
        # opens. Left out when there is none.
        "returned_reservations": List(Obj({"product_instance": Name(512)}), max_items=100_000, optional=True),
        "third_party_keys": List(THIRD_PARTY_KEY, max_items=10_000, optional=True),
        # Upgrade licenses bought on CSSM and not yet completed ("Upgrade Pending"): every one
        # still pending, whatever the sync type; an upgrade left out is completed or withdrawn.
        "upgrades": List(UPGRADE, max_items=100_000, optional=True),
        # License portability: the licenses of the account that may be ported, and to which
        # licenses. When present it is the complete set; left out, the On-Prem keeps what it has.
        "portable_licenses": List(
            Obj({"tag": _TAG, "targets": List(_TAG, max_items=64)}), max_items=100_000, optional=True
        ),
        # CSSM's answer to each ``port_completions`` entry of the request: ``completed`` (its
        # entitlements now hold the port) or ``refused`` (with the reason; they do not).
        "port_results": List(
            Obj(
                {
                    "port_id": Name(64),
                    "status": Str(12, choices=("completed", "refused")),
                    "reason": Str(2000),
                }
            ),
            max_items=100_000,
            optional=True,
        ),
    }
)

BODIES = {
    "RegistrationRequest": REGISTRATION_BODY,
    "Authorization": AUTHORIZATION_BODY,
    "SyncRequest": SYNC_REQUEST_BODY,
    "SyncResponse": SYNC_RESPONSE_BODY,
}

ONPREM = Obj({"name": Name(100), "uid": Name(64), "smart_account": Name(), "virtual_account": Name()})
SIGNATURE = Obj(
    {
        "algorithm": Str(32, choices=ALGORITHMS),
        "signer": Str(16, choices=("certificate", "id_csr")),
        "value": Str(2048),
        "certificates": List(Str(16384), max_items=8),
    }
)


def envelope_schema(kind):
    fields = {
        "kind": Str(32, choices=KINDS),
        "version": Int(minimum=VERSION, maximum=VERSION),
        "onprem": ONPREM,
        ("request_id" if kind in REQUEST_KINDS else "response_id"): Name(64),
        "created_at": Timestamp(),
        "body": BODIES[kind],
    }
    if kind in ("SyncRequest", "SyncResponse"):
        fields["type"] = Str(8, choices=SYNC_TYPES)
    return Obj(fields)


def validate_body(kind, body):
    """Raise SchemaError if ``body`` is not a valid body of ``kind``."""
    BODIES[kind].check(body, "body")

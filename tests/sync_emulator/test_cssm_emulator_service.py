"""The emulated CSSM's decisions, in process: registration, sync, export, DLC, full-sync demand."""

import datetime
import sqlite3

import pytest

from core import pki
from sync import certificate_roles as roles
from sync.documents.document import utcnow
from sync.documents.parse import parse
from sync.documents.rejections import (
    MANUAL,
    MSG_NET_INVALID_FILE,
    MSG_NET_INVALID_SIGNING_CERTIFICATE,
    MSG_NOT_YAML,
    MSG_TIMESTAMP,
    NETWORK,
    AlreadyProcessed,
)
from sync.documents.serialize import serialize
from sync.documents.signing import sign
from sync.documents.verify import certificate_uid, chain_root
from sync.emulator.service import Emulator, EmulatorError
from sync.emulator.store import SeedError, Store
from tests.sync_emulator.cssm_helpers import (
    ACME_USER,
    GLOBEX_USER,
    HSEC,
    NW_ADV,
    SEED,
    OnPremSide,
    product_instance,
    rum_report,
)


def process(emulator, document, **kwargs):
    return emulator.process(serialize(document).encode(), **kwargs)


def sync(side, emulator, sync_type="standard", **body):
    request = side.sync_request(sync_type, **body)
    text, name = process(emulator, request)
    return side.accept(text, request, emulator.ca.root_pem, mode=NETWORK), request, text


def test_registration_issues_id_and_signing_certificates(emulator):
    side = OnPremSide(virtual_account="Brand New VA")
    request = side.registration_request()
    text, name = process(emulator, request, credentials=ACME_USER)
    assert name.startswith("Acme-Lab_Authorization_") and name.endswith(".yml")
    auth = side.accept(text, request, emulator.ca.root_pem)
    body = auth.body
    id_cert = pki.load_certificate(body["id_certificate"])
    assert (id_cert.not_valid_after_utc - id_cert.not_valid_before_utc).days == 364
    assert certificate_uid(id_cert) == side.onprem.uid
    signing = pki.load_certificate(body["signing_certificate"])
    constraints = signing.extensions.get_extension_for_class(pki.x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert pki.public_key_fingerprint(signing.public_key()) == pki.public_key_fingerprint(side.signing_key.public_key())
    assert body["full_sync_required"] is True and body["export_control_allowed"] is True
    # The signing certificate can sign device certificates (the device protocol's helper).
    device_key = pki.new_private_key()
    device_cert = pki.issue_device_certificate(
        authority_key=side.signing_key,
        authority_cert=signing,
        public_key=device_key.public_key(),
        common_name="dev",
        serial_number_attr="FOC1",
        organizational_unit="Acme Lab",
        now=utcnow(),
    )
    issuers = [signing, pki.load_certificate(body["certificate_chain"][0])]
    path = roles.validate(roles.DEVICE_ID, device_cert, issuers, [emulator.ca.root_cert], at=utcnow())
    assert path[-1] == emulator.ca.root_cert
    # ...and its certificate, though it chains to the CSSM root, signs no synchronization document.
    with pytest.raises(roles.NotInRole):
        roles.validate(roles.CSSM_DOCUMENT_SIGNER, device_cert, issuers, [emulator.ca.root_cert], at=utcnow())
    # "If the Cisco Virtual Account does not exist, Cisco Smart Software Manager creates it."
    with emulator.store.connect() as db:
        assert db.execute(
            "SELECT 1 FROM virtual_accounts WHERE smart_account='acme.example' AND name=?", ("Brand New VA",)
        ).fetchone()


@pytest.mark.parametrize(
    "credentials, status, code",
    [
        (None, 401, "credentials_required"),
        (("admin@acme.example", "wrong"), 401, "bad_credentials"),
        (("nobody@acme.example", "acme-cssm-demo-1"), 401, "bad_credentials"),
        (GLOBEX_USER, 403, "smart_account_denied"),
    ],
)
def test_registration_needs_the_smart_accounts_credentials(emulator, credentials, status, code):
    with pytest.raises(EmulatorError) as exc:
        process(emulator, OnPremSide().registration_request(), credentials=credentials)
    assert (exc.value.status, exc.value.code) == (status, code)
    with emulator.store.connect() as db:
        assert db.execute("SELECT COUNT(*) FROM onprems").fetchone()[0] == 0


def test_registration_refusals(emulator, registered):
    with pytest.raises(EmulatorError) as exc:
        process(emulator, OnPremSide(smart_account="nowhere.example").registration_request(), require_credentials=False)
    assert exc.value.code == "unknown_smart_account"
    again = OnPremSide(uid=registered.onprem.uid)
    with pytest.raises(EmulatorError) as exc:
        process(emulator, again.registration_request(), credentials=ACME_USER)
    assert exc.value.code == "already_registered"
    with pytest.raises(EmulatorError) as exc:
        process(emulator, OnPremSide().registration_request(), credentials=ACME_USER)
    assert exc.value.code == "name_taken"


def test_reregistration_with_product_instances_is_refused_then_allowed_once_removed(emulator, registered):
    sync(registered, emulator, "full", product_instances=[product_instance("FOC1")])
    fresh = OnPremSide(uid=registered.onprem.uid)
    with pytest.raises(EmulatorError) as exc:
        process(emulator, fresh.registration_request(reregistration=True), credentials=ACME_USER)
    assert exc.value.code == "has_product_instances"
    sync(registered, emulator, "full", product_instances=[])
    request = fresh.registration_request(reregistration=True)
    text, _ = process(emulator, request, credentials=ACME_USER)
    fresh.accept(text, request, emulator.ca.root_pem)
    # The old ID key no longer syncs.
    with pytest.raises(EmulatorError) as exc:
        process(emulator, registered.sync_request())
    assert exc.value.code == "invalid_id_certificate"


def test_sync_carries_entitlements_and_renews_the_id_certificate(emulator, registered):
    old_id = registered.id_certificate
    response, request, _ = sync(
        registered,
        emulator,
        "full",
        product_instances=[product_instance("FOC1", licenses=[(NW_ADV, 1)]), product_instance("FOC2")],
    )
    body = response.body
    assert response.sync_type == "full" and body["in_reply_to"] == request.document_id
    assert body["id_certificate"] != old_id and body["full_sync_required"] is False
    assert body["product_instances_on_cssm"] == 2
    by_tag = {line["tag"]: line for line in body["entitlements"]}
    assert by_tag[NW_ADV]["license_type"] == "perpetual" and by_tag[NW_ADV]["end_date"] is None
    assert by_tag[HSEC]["export_restricted"] is True
    essentials = next(line for line in body["entitlements"] if line["name"] == "Catalyst 9300 Network Essentials")
    assert essentials["parents"] == [NW_ADV]
    demo = next(line for line in body["entitlements"] if line["license_type"] == "demo")
    assert (datetime.date.fromisoformat(demo["end_date"]) - datetime.date.fromisoformat(demo["start_date"])).days == 60
    # Only the Lab virtual account's lines, not Production's.
    assert not any(line["name"].startswith("ISR 4331") for line in body["entitlements"])
    # Standard: delta.
    response, _, _ = sync(registered, emulator, removed_product_instances=["C9300-48P:FOC1"])
    assert response.body["product_instances_on_cssm"] == 1 and response.body["full_sync_required"] is False


def test_rum_reports_are_kept_once_and_acknowledged_by_ref(emulator, registered):
    response, _, _ = sync(registered, emulator, "full")
    assert response.body["rum_acknowledgements"] == []
    reports = [rum_report("rum-1", '{"report_id":"1","usage":[]}'), rum_report("rum-2", "{}", utility_mode=True)]
    response, _, _ = sync(registered, emulator, rum_reports=reports)
    assert response.body["rum_acknowledgements"] == ["rum-1", "rum-2"]
    # sent again (its acknowledgement was lost): acknowledged again, kept once
    response, _, _ = sync(registered, emulator, rum_reports=reports[:1])
    assert response.body["rum_acknowledgements"] == ["rum-1"]
    with sqlite3.connect(emulator.store.path) as db:
        rows = db.execute("SELECT ref FROM rum_reports WHERE uid = ? ORDER BY ref", (registered.onprem.uid,)).fetchall()
    assert rows == [("rum-1",), ("rum-2",)]


def test_full_sync_demanded_when_the_watermark_does_not_match(emulator, registered):
    sync(registered, emulator)
    registered.last_response_id = "restored-from-an-old-backup"
    response, _, _ = sync(registered, emulator)
    assert response.body["full_sync_required"] is True
    response, _, _ = sync(registered, emulator, "full")
    assert response.body["full_sync_required"] is False


def test_export_control_decisions_follow_the_smart_account(emulator, registered):
    requests = [
        {"request_id": "e1", "product_instance": "C9300-48P:FOC1", "tag": HSEC, "count": 1, "action": "authorize"},
        {
            "request_id": "e2",
            "product_instance": "C9300-48P:FOC1",
            "tag": "regid.unknown,1.0_x",
            "count": 1,
            "action": "authorize",
        },
    ]
    response, _, _ = sync(registered, emulator, export_requests=requests)
    assert [(x["request_id"], x["status"]) for x in response.body["export_decisions"]] == [
        ("e1", "authorized"),
        ("e2", "denied"),
    ]

    globex = OnPremSide(name="Globex", smart_account="globex.example", virtual_account="Default")
    request = globex.registration_request()
    text, _ = process(emulator, request, credentials=GLOBEX_USER)
    assert globex.accept(text, request, emulator.ca.root_pem).body["export_control_allowed"] is False
    response, _, _ = sync(globex, emulator, export_requests=requests[:1])
    assert response.body["export_decisions"][0]["status"] == "denied"
    assert response.body["export_control_allowed"] is False


def test_dlc_conversions(emulator, registered):
    def dlc(request_id, tag, device="PID:C9300 SN:FOC9"):
        return {
            "request_id": request_id,
            "product_instance": "C9300-48P:FOC9",
            "device_identifier": device,
            "product_family": "Catalyst 9300",
            "virtual_account": "Default",
            "licenses": [{"name": "NA", "tag": tag, "count": 3, "pak": "PAK123"}],
        }

    before, _, _ = sync(registered, emulator)
    response, _, _ = sync(registered, emulator, dlc_requests=[dlc("c1", NW_ADV), dlc("c2", "regid.nope,1.0_0")])
    assert [(x["request_id"], x["status"]) for x in response.body["dlc_decisions"]] == [
        ("c1", "migrate-success"),
        ("c2", "migrate-failed"),
    ]
    converted = [line for line in response.body["entitlements"] if line["source"] == "device_migration"]
    assert len(converted) == 1 and converted[0]["quantity"] == 3 and converted[0]["license_type"] == "perpetual"
    assert len(response.body["entitlements"]) == len(before.body["entitlements"]) + 1
    response, _, _ = sync(registered, emulator, dlc_requests=[dlc("c3", NW_ADV)])
    assert response.body["dlc_decisions"][0]["status"] == "already-converted"


def test_rename_and_a_repeated_request_gets_the_same_answer(emulator, registered):
    emulator.store.rename_onprem(registered.onprem.uid, "Acme Lab (renamed in CSSM)")
    request = registered.sync_request()
    first, _ = process(emulator, request)
    second, _ = process(emulator, request)
    assert first == second
    assert registered.accept(first, request, emulator.ca.root_pem).body["onprem_name"] == "Acme Lab (renamed in CSSM)"
    with pytest.raises(AlreadyProcessed):
        registered.accept(second, request, emulator.ca.root_pem)


def test_sync_rejections_use_the_guides_network_texts(emulator, registered, tmp_path):
    # Unknown On-Prem.
    stranger = OnPremSide()
    stranger.id_certificate, stranger.chain = registered.id_certificate, registered.chain
    with pytest.raises(EmulatorError) as exc:
        process(emulator, stranger.sync_request(key=registered.id_key))
    assert exc.value.message == MSG_NET_INVALID_FILE
    # Modified in transit.
    text = serialize(registered.sync_request()).replace("mac_address: true", "mac_address: false")
    with pytest.raises(EmulatorError) as exc:
        emulator.process(text.encode())
    assert exc.value.message == MSG_NET_INVALID_FILE and exc.value.code == "modified"
    # Signed by a certificate the emulator never issued.
    other = Emulator(tmp_path / "other")
    rogue_key = pki.new_private_key()
    rogue = pki.certificate_pem(
        other.ca.issue_id_certificate(rogue_key.public_key(), name="x", uid=registered.onprem.uid, now=utcnow())
    )
    with pytest.raises(EmulatorError) as exc:
        process(emulator, registered.sync_request(key=rogue_key, certificates=[rogue]))
    assert exc.value.message == MSG_NET_INVALID_SIGNING_CERTIFICATE
    # A clock a day and a half off.
    with pytest.raises(EmulatorError) as exc:
        process(emulator, registered.sync_request(now=utcnow() - datetime.timedelta(hours=36)))
    assert exc.value.message == MSG_TIMESTAMP
    # Manual mode: the file texts.
    with pytest.raises(EmulatorError) as exc:
        emulator.process(b"\x00\x01", name="request.yml", mode=MANUAL)
    assert exc.value.message == MSG_NOT_YAML


def test_state_is_the_emulators_own_sqlite_file(emulator, tmp_path):
    assert (tmp_path / "cssm" / "cssm.sqlite3").exists()
    with sqlite3.connect(tmp_path / "cssm" / "cssm.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM licenses").fetchone()[0] >= 10


def test_seed_errors_are_clear_and_change_nothing(tmp_path):
    store = Store(tmp_path / "s")
    bad = tmp_path / "bad.yml"
    bad.write_text(SEED.read_text().replace("quantity: 50", "quantity: -1"))
    with pytest.raises(SeedError, match="quantity must be a positive integer"):
        store.apply_seed(bad)
    assert store.is_empty()
    bad.write_text("licenses: [unclosed")
    with pytest.raises(SeedError, match="cannot read seed"):
        store.apply_seed(bad)
    store.apply_seed(SEED)
    store.apply_seed(SEED)  # idempotent: lines keep their ids
    with store.connect() as db:
        assert db.execute("SELECT COUNT(*) FROM entitlements").fetchone()[0] == 13


def test_chain_root_is_what_an_onprem_pins_at_registration(emulator):
    side = OnPremSide()
    request = side.registration_request()
    text, _ = process(emulator, request, credentials=ACME_USER)
    unverified = parse(text, name="auth.yml")
    pinned = chain_root(unverified)
    assert pinned == emulator.ca.root_pem
    side.accept(text, request, pinned)


def test_a_request_id_answered_for_another_onprem_is_refused(emulator, registered):
    request = registered.sync_request()
    process(emulator, request)
    thief = OnPremSide(name="Thief")
    stolen = thief.registration_request()
    stolen.document_id = request.document_id
    sign(stolen, thief.id_key, [])
    with pytest.raises(EmulatorError) as exc:
        process(emulator, stolen, credentials=ACME_USER)
    assert (exc.value.status, exc.value.code) == (409, "already_processed")


def test_a_request_signed_with_the_id_certificate_alone_is_accepted(emulator, registered):
    # The emulator knows its issuing CA, so the sender may leave it out of the certificates.
    request = registered.sync_request(certificates=[registered.id_certificate])
    text, _ = process(emulator, request)
    assert registered.accept(text, request, emulator.ca.root_pem).body["in_reply_to"] == request.document_id


def test_a_state_directory_from_before_report_refs_is_upgraded(tmp_path):
    """Its rum_reports table had no ref column: the emulator keeps the reports and gives them one."""
    from sync.emulator.store import Store

    state = tmp_path / "old-cssm"
    state.mkdir()
    with sqlite3.connect(state / "cssm.sqlite3") as db:
        db.execute(
            "CREATE TABLE rum_reports (id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL, "
            "report TEXT NOT NULL, received_at TEXT NOT NULL)"
        )
        db.execute("INSERT INTO rum_reports (uid, report, received_at) VALUES ('u1', '{}', '2026-01-01')")
    store = Store(state)
    with sqlite3.connect(store.path) as db:
        rows = db.execute("SELECT uid, ref, report FROM rum_reports").fetchall()
    assert rows == [("u1", "legacy-1", "{}")]

"""Synchronization with the CSSM emulator (a separate process): standard and full, online and with
files, entitlements, deltas, data privacy, export-control and DLC requests, renames, restores."""

import datetime
import json
import sqlite3
from pathlib import Path

import pytest
import yaml
from django.utils import timezone

from core.errors import ServiceError
from core.models import Event
from licensing.models import DeviceRequest, Entitlement, LicenseDefinition, RumReport
from licensing.services.conversion import set_conversion_settings
from licensing.services.tokens import create_token
from sync.documents.verify import parse_and_verify
from sync.models import AccountSync, SyncedProductInstance, SyncRecord
from sync.services import sync_settings as settings_service
from sync.services import synchronization
from tests.devices.devicesim import Device, cslu_path, make_csr, rum

pytestmark = pytest.mark.django_db
HSEC = "regid.2019-03.com.cisco.DNA_HSEC,1.0_509c41ab-05a8-431f-95fe-ec28086e8844"
CSR_AX = "regid.2014-12.com.cisco.csr1000v_ax,1.0_9a4bc6f3-2d5e-4c8a-b1f0-7e3d2c1b0a99"


def _default_va(account):
    return account.virtual_accounts.get(is_default=True)


def _register_device(client, account, serial=None, hostname="edge-1.example"):
    token = create_token(actor=None, virtual_account=_default_va(account), export_controlled=True)
    device = Device(client, serial)
    reply = device.register(token, hostname=hostname)
    assert reply["status"] == "SUCCESS", reply
    return device


def _request_body(text):
    return yaml.safe_load(text)["body"]


def test_full_then_standard_online_sync_applies_entitlements_to_the_default_va(registered_account, sysadmin):
    account = registered_account()
    record = synchronization.synchronize(account, actor=sysadmin)
    assert record.sync_type == "full"  # CSSM asks for a full one after registering
    assert record.result == SyncRecord.Result.SUCCESS
    lines = Entitlement.objects.filter(virtual_account__account=account)
    assert lines.count() == 10 and all(line.virtual_account.is_default for line in lines)
    hsec = LicenseDefinition.objects.get(entitlement_tag=HSEC)
    assert hsec.export_restricted and lines.get(license=hsec).quantity == 20
    ipbase = LicenseDefinition.objects.get(entitlement_tag__startswith="regid.2014-12.com.cisco.csr1000v_ipbase")
    assert list(ipbase.substituted_by.values_list("entitlement_tag", flat=True)) == [CSR_AX]
    state = AccountSync.objects.get(account=account)
    assert not state.full_sync_required and state.last_sync_result == "success" and state.last_sync_at
    assert state.last_response_id == record.response_id
    # the second one is standard and leaves the entitlements as they are
    record = synchronization.synchronize(account, actor=sysadmin)
    assert record.sync_type == "standard" and lines.count() == 10
    assert Event.objects.filter(account=account, event_type="sync.succeeded").count() == 2


def test_cssm_removals_come_out_of_the_default_va_first(registered_account, sysadmin):
    from licensing.services.transfers import transfer_licenses
    from licensing.services.virtual_accounts import create_virtual_account

    account = registered_account()
    synchronization.synchronize(account, actor=sysadmin)
    hsec = LicenseDefinition.objects.get(entitlement_tag=HSEC)
    other = create_virtual_account(actor=None, account=account, name="Branch")
    transfer_licenses(actor=None, from_va=_default_va(account), to_va=other, license=hsec, quantity=5)
    # CSSM now says 20 - 17 = 3 remain: 17 come out of the Default VA (15 there) then Branch (2 of 5)
    line = Entitlement.objects.get(virtual_account=_default_va(account), license=hsec)
    answer = [
        {
            "line_id": "x",
            "tag": HSEC,
            "name": hsec.name,
            "description": "",
            "product_family": "",
            "license_type": "perpetual",
            "billing_type": "prepaid",
            "quantity": 3,
            "start_date": None,
            "end_date": None,
            "subscription_id": line.subscription_id,
            "sku": line.sku,
            "source": line.source,
            "export_restricted": True,
            "parents": [],
        }
    ]
    synchronization.apply_entitlements(account, answer)
    assert not Entitlement.objects.filter(virtual_account=_default_va(account), license=hsec).exists()
    assert Entitlement.objects.get(virtual_account=other, license=hsec).quantity == 3


def test_delta_sends_only_changes_and_removals(registered_account, sysadmin, client):
    from licensing.services.product_instances import remove_product_instance

    account = registered_account()
    first = _register_device(client, account, "SN1")
    _register_device(client, account, "SN2")
    synchronization.synchronize(account, actor=sysadmin)  # full: both
    assert SyncedProductInstance.objects.filter(account=account).count() == 2
    _doc, text, record = synchronization.create_sync_request(account, actor=sysadmin)
    body = _request_body(text)
    assert body["product_instances"] == [] and body["removed_product_instances"] == []
    SyncRecord.objects.filter(pk=record.pk).delete()
    from licensing.models import ProductInstance

    pi = ProductInstance.objects.get(account=account, udi_serial_number=first.sudi["udi_serial_number"])
    remove_product_instance(actor=None, pi=pi)
    _doc, text, _record = synchronization.create_sync_request(account, actor=sysadmin)
    body = _request_body(text)
    assert body["removed_product_instances"] == ["PID:CSR1000V SN:SN1"] and body["product_instances"] == []


def test_manual_standard_and_full_sync_with_files(registered_account, sysadmin, use_cssm, tmp_path):
    account = registered_account()
    for full in (False, True):
        name, text = synchronization.request_file(account, actor=sysadmin, full=full)
        assert name.endswith(".yml") and ("_full_" in name) == (full or "full" in name)
        (tmp_path / name).write_text(text)
        response = use_cssm.process_file(tmp_path / name, tmp_path / f"response-{full}.yml")
        record = synchronization.apply_response(account, response, name=f"response-{full}.yml", actor=sysadmin)
        assert record.result == "success" and record.mode == "manual"
    assert Entitlement.objects.filter(virtual_account__account=account).count() == 10
    assert Event.objects.filter(account=account, event_type="sync.request_file").count() == 2


def test_data_privacy_exclusions_are_visible_in_the_request_file(registered_account, sysadmin, client):
    account = registered_account()
    _register_device(client, account, "SNP", hostname="secret-host.example")
    _name, text = synchronization.request_file(account, actor=sysadmin, full=True)
    assert "secret-host.example" in text
    settings_service.update_global_privacy(
        actor=sysadmin, privacy_hostname=True, privacy_ip_address=True, privacy_mac_address=True
    )
    _name, text = synchronization.request_file(account, actor=sysadmin, full=True)
    body = _request_body(text)
    assert "secret-host.example" not in text
    assert body["data_privacy"] == {"hostname": True, "ip_address": True, "mac_address": True}
    assert not {"hostname", "ip_address", "mac_address"} & set(body["product_instances"][0])
    # the account's override wins over the global settings
    settings_service.update_account_privacy(actor=sysadmin, account=account, override=True)
    _name, text = synchronization.request_file(account, actor=sysadmin, full=True)
    assert "secret-host.example" in text


def test_export_and_dlc_requests_are_resolved_by_a_sync(registered_account, sysadmin, client):
    account = registered_account()
    synchronization.synchronize(account, actor=sysadmin)  # the licenses are known now
    device = _register_device(client, account, "SNX")
    reply = device.send("EXPORT_AUTHORIZE", entitlements=[{"tag": HSEC, "count": 1}])
    poll_id = reply["poll_id"]
    set_conversion_settings(actor=None, account=account, mode="all")
    dlc = device.send("CONVERT", licenses=[{"name": "CSR AX", "tag": CSR_AX, "count": 2}])
    assert device.send("POLL", poll_id=poll_id)["status"] == "OK_POLL"
    _doc, text, record = synchronization.create_sync_request(account, actor=sysadmin)
    body = _request_body(text)
    assert body["export_requests"][0]["request_id"] == f"{poll_id}#0"
    assert body["dlc_requests"][0]["licenses"][0]["tag"] == CSR_AX
    SyncRecord.objects.filter(pk=record.pk).delete()

    synchronization.synchronize(account, actor=sysadmin)
    done = device.send("POLL", poll_id=poll_id)
    assert (done["status"], done["result"]) == ("COMPLETE", "authorization-granted")
    assert DeviceRequest.objects.get(poll_id=poll_id).status == "complete"
    converted = device.send("POLL", poll_id=dlc["poll_id"])
    assert (converted["status"], converted["result"]) == ("COMPLETE", "migrate-success")
    # the converted licenses arrive as a device_migration line in the Default VA
    assert Entitlement.objects.filter(
        virtual_account=_default_va(account), source="device_migration", license__entitlement_tag=CSR_AX, quantity=2
    ).exists()


def _cslu_push(client, account, serial, report_id, **extra):
    """An SLP device's first CSLU push through the real endpoint (it adds the product instance)."""
    device = Device(client, serial)
    reply = device.send(
        "REPORT_USAGE",
        path=cslu_path(account),
        csr=make_csr(device.key),
        reports=[rum(device.key, report_id, [], **extra)],
    )
    assert reply["status"] == "SUCCESS", reply
    return RumReport.objects.get(account=account, product_instance__udi_serial_number=serial, report_id=report_id)


def test_rum_reports_go_to_cssm_signed_and_are_acknowledged_by_name(registered_account, sysadmin, client, use_cssm):
    account = registered_account()
    report = _cslu_push(client, account, "SLP-1", "r1", utility_mode=True)
    _doc, text, record = synchronization.create_sync_request(account, actor=sysadmin, mode="online")
    [entry] = _request_body(text)["rum_reports"]
    assert entry["ref"] == f"rum-{report.pk}" and entry["report_id"] == "r1"
    assert entry["product_instance"] == "PID:CSR1000V SN:SLP-1" and entry["virtual_account"] == "Default"
    assert entry["utility_mode"] is True
    # the payload byte-for-byte, with the device's signature over it: CSSM can verify the report
    assert entry["payload"] == report.payload
    assert entry["signature"] == {
        "signing_type": report.signing_type,
        "key": report.signature_key,
        "value": report.signature_value,
    }
    report.refresh_from_db()
    assert report.sent_at is not None and report.synced_at is None and report.sync_status == "sent"
    SyncRecord.objects.filter(pk=record.pk).delete()  # that request never reached CSSM
    synchronization.synchronize(account, actor=sysadmin)
    report.refresh_from_db()
    assert report.synced_at is not None and report.sync_status == "acknowledged"
    # CSSM holds it once, as sent, with its signature
    with sqlite3.connect(Path(use_cssm.state_dir) / "cssm.sqlite3") as db:
        held = db.execute("SELECT ref, report FROM rum_reports WHERE ref = ?", (f"rum-{report.pk}",)).fetchall()
    assert len(held) == 1 and json.loads(held[0][1])["signature"]["value"] == report.signature_value
    _doc, text, _record = synchronization.create_sync_request(account, actor=sysadmin)
    assert _request_body(text)["rum_reports"] == []


def test_a_report_not_acknowledged_is_sent_again(registered_account, sysadmin, client, use_cssm, tmp_path):
    account = registered_account()
    synchronization.synchronize(account, actor=sysadmin)  # the full one CSSM asks for first
    report = _cslu_push(client, account, "SLP-2", "r2")
    # a request file whose response is never uploaded: the report stays "sent", not acknowledged
    synchronization.request_file(account, actor=sysadmin)
    report.refresh_from_db()
    assert report.sync_status == "sent"
    # the next synchronization carries it again, and CSSM's acknowledgement lands
    name, text = synchronization.request_file(account, actor=sysadmin)
    assert [e["ref"] for e in _request_body(text)["rum_reports"]] == [f"rum-{report.pk}"]
    (tmp_path / name).write_text(text)
    response = use_cssm.process_file(tmp_path / name, tmp_path / "response.yml")
    synchronization.apply_response(account, response, name="response.yml", actor=sysadmin)
    report.refresh_from_db()
    assert report.sync_status == "acknowledged"


def test_an_acknowledgement_of_a_report_the_request_did_not_carry_is_ignored(registered_account, sysadmin, client):
    from sync.services.synchronization import _acknowledge_rum_reports

    account = registered_account()
    carried = _cslu_push(client, account, "SLP-3", "a")
    other = _cslu_push(client, account, "SLP-4", "b")
    record = SyncRecord(sent={"rum": [carried.pk]})
    _acknowledge_rum_reports(record, [f"rum-{carried.pk}", f"rum-{other.pk}", "rum-x", "other-1"], timezone.now())
    carried.refresh_from_db()
    other.refresh_from_db()
    assert carried.synced_at is not None and other.synced_at is None


def test_synchronize_usage_information_makes_the_account_due_once(
    registered_account, sysadmin, client, use_cssm, monkeypatch
):
    """The SL Using Policy action, then the scheduled task: one synchronization, the reports acknowledged."""
    from licensing.services.slp_usage import request_usage_sync
    from sync import tasks
    from sync.services.common import sync_settings
    from sync.services.schedule import due_states

    account = registered_account()
    synchronization.synchronize(account, actor=sysadmin)
    report = _cslu_push(client, account, "SLP-5", "r5")
    now = timezone.now()
    assert account.pk not in [s.account_id for s in due_states(sync_settings(), now)]
    request_usage_sync(actor=sysadmin, virtual_account=_default_va(account))
    later = timezone.now() + datetime.timedelta(minutes=2)
    assert account.pk in [s.account_id for s in due_states(sync_settings(), later)]
    # the scheduled task hands it to the worker (run inline here)
    monkeypatch.setattr(tasks.synchronize_account, "delay", lambda pk, full=False: tasks.synchronize_account(pk, full))
    assert account.pk in tasks.run_scheduled()
    report.refresh_from_db()
    assert report.sync_status == "acknowledged" and report.sent_at and report.synced_at
    # once per request: not due again
    assert account.pk not in [
        s.account_id for s in due_states(sync_settings(), timezone.now() + datetime.timedelta(minutes=5))
    ]


def test_a_rename_on_cssm_shows_as_the_onprem_name(registered_account, sysadmin, use_cssm):
    account = registered_account()
    state = AccountSync.objects.get(account=account)
    use_cssm.rename(state.uid, "Renamed On CSSM")
    synchronization.synchronize(account, actor=sysadmin)
    state.refresh_from_db()
    assert state.onprem_name == "Renamed On CSSM"
    assert Event.objects.filter(account=account, event_type="sync.onprem_renamed").exists()


def test_a_restored_database_recovers_by_a_full_sync(registered_account, sysadmin):
    account = registered_account()
    synchronization.synchronize(account, actor=sysadmin)
    state = AccountSync.objects.get(account=account)
    old_watermark = state.last_response_id
    synchronization.synchronize(account, actor=sysadmin)
    # "restore" the sync state from before the last synchronization
    AccountSync.objects.filter(pk=state.pk).update(last_response_id=old_watermark)
    record = synchronization.synchronize(account, actor=sysadmin)
    assert record.sync_type == "standard"
    state.refresh_from_db()
    assert state.full_sync_required  # CSSM lost track: it demands a full one
    assert synchronization.synchronize(account, actor=sysadmin).sync_type == "full"
    state.refresh_from_db()
    assert not state.full_sync_required


def test_an_unregistered_account_cannot_sync(pending_account, sysadmin):
    with pytest.raises(ServiceError, match="not registered"):
        synchronization.synchronize(pending_account(), actor=sysadmin)


def test_cssm_unreachable_is_a_failed_sync_with_event(registered_account, sysadmin, settings):
    from sync.models import SyncSettings

    account = registered_account()
    settings.ONPREM_CSSM_URL = "https://127.0.0.1:9"
    SyncSettings.objects.filter(pk=1).update(cssm_url="")
    with pytest.raises(ServiceError, match="cannot be reached"):
        synchronization.synchronize(account, actor=sysadmin)
    assert Event.objects.filter(account=account, event_type="sync.failed").exists()
    assert SyncRecord.objects.filter(account=account, kind="sync").latest("started_at").result == "failed"


def test_documents_signed_by_the_onprem_verify_with_its_id_certificate(registered_account, sysadmin):
    account = registered_account()
    _doc, text, _record = synchronization.create_sync_request(account, actor=sysadmin)
    state = AccountSync.objects.get(account=account)
    verified = parse_and_verify(text.encode(), trusted_roots=[state.root_pem], expected_uid=state.uid)
    assert verified.document.kind == "SyncRequest"


def test_a_response_without_acknowledgements_leaves_the_reports_to_be_sent_again(registered_account, sysadmin, client):
    """A CSSM (or an older response file) that says nothing of the RUM reports: they stay "sent"."""
    from sync.services.synchronization import _acknowledge_rum_reports

    account = registered_account()
    report = _cslu_push(client, account, "SLP-6", "r6")
    record = SyncRecord(sent={"rum": [report.pk]})
    _acknowledge_rum_reports(record, [], timezone.now())
    report.refresh_from_db()
    assert report.synced_at is None

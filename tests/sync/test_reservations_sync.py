"""Reservations travel to CSSM in the synchronization and CSSM can return them, end to end: the
CSSM emulator (in process, driven by its ``manage.py cssm_emulator`` command) and the On-Prem's
real services exchanging the real documents. No reservation or alert row is written by the test
beyond what the services write (docs/sync-protocol.md, "Reservations")."""

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from core.models import Event
from licensing.models import Alert, LicenseReservation
from licensing.services import alerts as alert_service
from licensing.services import reservations
from licensing.services.compliance import virtual_account_positions
from sync.documents.rejections import MANUAL
from sync.models import AccountSync
from sync.services.synchronization import apply_response, create_sync_request
from tests.reliability.inprocess_cssm import register_with, seeded_emulator

pytestmark = pytest.mark.django_db


@pytest.fixture
def cssm(tmp_path):
    return seeded_emulator(tmp_path)


def sync(account, cssm, actor):
    _document, text, _record = create_sync_request(account, actor=actor)
    response, name = cssm.process(text.encode(), name="request.yml", mode=MANUAL, require_credentials=False)
    apply_response(account, response.encode(), actor=actor, name=name, mode=MANUAL)
    return yaml.safe_load(text)["body"], yaml.safe_load(response)["body"]


@pytest.fixture
def estate(cssm, sysadmin, add_pi):
    account = register_with(cssm, sysadmin, "Acme Lab")
    sync(account, cssm, sysadmin)  # the licenses of the seed arrive in the Default VA
    va = account.virtual_accounts.get(is_default=True)
    position = next(p for p in virtual_account_positions(va) if p.available >= 2)
    pi = add_pi(va, "FOC1234X")
    return account, va, position, pi


def test_reservations_go_to_cssm_and_a_return_comes_back(estate, cssm, sysadmin):
    account, va, position, pi = estate
    uid = AccountSync.objects.get(account=account).uid
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=position.license_id, quantity=2)
    reserved_terms = list(LicenseReservation.objects.values_list("end_date", "quantity"))

    request, response = sync(account, cssm, sysadmin)
    assert [(r["product_instance"], r["virtual_account"], r["tag"]) for r in request["reservations"]] == [
        ("PID:CSR1000V SN:FOC1234X", va.name, position.entitlement_tag)
    ] * len(reserved_terms)
    assert sum(r["count"] for r in request["reservations"]) == 2
    assert "returned_reservations" not in response
    with cssm.store.connect() as db:
        assert cssm.store.reservations(db, uid) == request["reservations"]  # CSSM holds them

    # CSSM returns them (the device connected to another Smart Account)
    call_command(
        "cssm_emulator",
        "--state-dir",
        str(cssm.store.state_dir),
        "--return-reservations",
        uid,
        "PID:CSR1000V SN:FOC1234X",
    )
    assert LicenseReservation.objects.exists()  # nothing happens before the next synchronization
    _request, response = sync(account, cssm, sysadmin)
    assert response["returned_reservations"] == [{"product_instance": "PID:CSR1000V SN:FOC1234X"}]
    assert not LicenseReservation.objects.exists()
    after = next(p for p in virtual_account_positions(va) if p.license_id == position.license_id)
    assert after.reserved == 0 and after.available == position.available
    [alert] = Alert.objects.filter(account=account, alert_type=Alert.Type.RESERVED_RETURNED).live()
    assert alert.message == (
        "The product instance “foc1234x”, which had licenses reserved, has been moved to another Smart Account. "
        "The licenses it was reserving will be returned to the original virtual account "
        f"“{va.name}”. Licenses reserved: “{position.license}”."
    )
    assert alert.severity == Alert.Severity.MINOR and alert.product_instance == pi
    assert Event.objects.filter(event_type="reservation.returned_to_smart_account", account=account).count() == 1

    # the next request lists nothing reserved: the return is done at CSSM, nothing more comes back
    request, response = sync(account, cssm, sysadmin)
    assert "reservations" not in request and "returned_reservations" not in response
    [alert] = Alert.objects.filter(account=account, alert_type=Alert.Type.RESERVED_RETURNED).live()  # kept
    alert_service.dismiss_alert(actor=sysadmin, alert=alert)
    assert Event.objects.filter(event_type="reservation.returned_to_smart_account").count() == 1


def test_a_response_carrying_a_return_twice_changes_nothing_the_second_time(estate, cssm, sysadmin):
    account, _va, position, pi = estate
    uid = AccountSync.objects.get(account=account).uid
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=position.license_id, quantity=1)
    sync(account, cssm, sysadmin)
    call_command(
        "cssm_emulator",
        "--state-dir",
        str(cssm.store.state_dir),
        "--return-reservations",
        uid,
        "PID:CSR1000V SN:FOC1234X",
    )
    # the product instance reserves again before the return arrives: the return ends that reservation
    sync(account, cssm, sysadmin)
    assert not LicenseReservation.objects.exists()
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=position.license_id, quantity=1)
    _request, response = sync(account, cssm, sysadmin)
    assert "returned_reservations" not in response  # CSSM's return was done by the previous exchange
    assert LicenseReservation.objects.count() == 1


def test_returning_what_cssm_does_not_hold_is_refused(estate, cssm, sysadmin):
    account, *_ = estate
    uid = AccountSync.objects.get(account=account).uid
    state = ["--state-dir", str(cssm.store.state_dir)]
    with pytest.raises(CommandError, match="reported no reserved licenses"):
        call_command("cssm_emulator", *state, "--return-reservations", uid, "PID:CSR1000V SN:FOC1234X")
    with pytest.raises(CommandError, match="No SSM On-Prem"):
        call_command("cssm_emulator", *state, "--return-reservations", "nope", "PID:X SN:Y")

"""Port licenses end to end: CSSM (the in-process emulator, driven by ``manage.py cssm_emulator
--mark-portable``) makes a license portable, the synchronization brings it (Inventory shows Port,
the API says isPortable), the On-Prem ports licenses, and the next synchronization tells CSSM,
whose lines then agree with the On-Prem's; a port CSSM refuses is undone by CSSM's lines."""

import pytest
from django.core.management.base import CommandError

from core.models import Event
from licensing.models import LicenseDefinition, PortableLicense, PortCompletion
from licensing.services import ports
from sync.services.synchronization import apply_response, create_sync_request
from tests.sync.test_cssm_alerts import emulator_command, sync, uid_of
from tests.sync.test_cssm_upgrades import cssm_held, held

pytestmark = pytest.mark.django_db

ESSENTIALS = "regid.2017-07.com.cisco.DNA_NWStack_Essentials,1.0_5b9f4c2a-1c61-4a55-a8a1-0c7b6c6f2a11"
C9300_ESSENTIALS = "regid.2017-07.com.cisco.C9300_DNA_Essentials,1.0_0c2d8e44-7a93-4e0e-bc5b-6a1f3c9d7e02"
ASAV = "regid.2016-10.com.cisco.ASAv10,1.0_7d2c9e4f-1b3a-4c5d-8e6f-0a1b2c3d4e5f"


@pytest.fixture
def cssm(tmp_path):
    from tests.reliability.inprocess_cssm import seeded_emulator

    return seeded_emulator(tmp_path)


@pytest.fixture
def account(cssm, sysadmin):
    from tests.reliability.inprocess_cssm import register_with

    account = register_with(cssm, sysadmin, "Acme Lab")
    sync(account, cssm, sysadmin)
    return account


def port(account, actor, quantity, target=C9300_ESSENTIALS):
    default = account.virtual_accounts.get(is_default=True)
    return ports.port_licenses(
        actor=actor,
        virtual_account=default,
        license=LicenseDefinition.objects.get(entitlement_tag=ESSENTIALS),
        target=LicenseDefinition.objects.get(entitlement_tag=target),
        quantity=quantity,
    )


def test_portability_from_cssm_a_port_and_cssm_agrees(account, cssm, sysadmin):
    assert held(account, ESSENTIALS) == (120, 0) and held(account, C9300_ESSENTIALS) == (120, 0)
    emulator_command(cssm, "--mark-portable", uid_of(account), ESSENTIALS, C9300_ESSENTIALS, ASAV)
    _request, response = sync(account, cssm, sysadmin)
    assert response["portable_licenses"] == [{"tag": ESSENTIALS, "targets": sorted([C9300_ESSENTIALS, ASAV])}]
    essentials = LicenseDefinition.objects.get(entitlement_tag=ESSENTIALS)
    assert sorted(t.entitlement_tag for t in ports.portable_targets(account)[essentials.pk]) == sorted(
        [C9300_ESSENTIALS, ASAV]
    )
    assert Event.objects.filter(account=account, event_type="sync.portable_licenses").count() == 1
    sync(account, cssm, sysadmin)  # the same set again: nothing changes, no second event
    assert Event.objects.filter(account=account, event_type="sync.portable_licenses").count() == 1

    port(account, sysadmin, 10)
    assert held(account, ESSENTIALS) == (110, 0) and held(account, C9300_ESSENTIALS) == (130, 0)
    request, response = sync(account, cssm, sysadmin)
    [sent] = request["port_completions"]
    assert sent["target"] == C9300_ESSENTIALS and sent["ported"][0]["quantity"] == 10
    assert response["port_results"] == [{"port_id": sent["port_id"], "status": "completed", "reason": ""}]
    # CSSM ported the same licenses; the ledger did not move.
    assert cssm_held(cssm, ESSENTIALS) == 110 and cssm_held(cssm, C9300_ESSENTIALS) == 130
    assert held(account, ESSENTIALS) == (110, 0) and held(account, C9300_ESSENTIALS) == (130, 0)
    assert PortCompletion.objects.get(account=account).acknowledged_at is not None
    request, _response = sync(account, cssm, sysadmin)
    assert "port_completions" not in request
    assert held(account, ESSENTIALS) == (110, 0) and held(account, C9300_ESSENTIALS) == (130, 0)

    # CSSM withdraws the portability: Port is gone.
    emulator_command(cssm, "--mark-portable", uid_of(account), ESSENTIALS)
    _request, response = sync(account, cssm, sysadmin)
    assert response["portable_licenses"] == []
    assert not PortableLicense.objects.filter(account=account).exists()


def test_a_response_to_a_request_made_before_the_port_does_not_undo_it(account, cssm, sysadmin):
    emulator_command(cssm, "--mark-portable", uid_of(account), ESSENTIALS, C9300_ESSENTIALS)
    sync(account, cssm, sysadmin)
    _document, text, _record = create_sync_request(account, actor=sysadmin)
    port(account, sysadmin, 7)
    response, name = cssm.process(text.encode(), name="request.yml", mode="manual", require_credentials=False)
    apply_response(account, response.encode(), actor=sysadmin, name=name, mode="manual")
    assert held(account, ESSENTIALS) == (113, 0) and held(account, C9300_ESSENTIALS) == (127, 0)
    sync(account, cssm, sysadmin)  # the port reaches CSSM now
    assert cssm_held(cssm, ESSENTIALS) == 113 and cssm_held(cssm, C9300_ESSENTIALS) == 127
    assert held(account, ESSENTIALS) == (113, 0) and held(account, C9300_ESSENTIALS) == (127, 0)


def test_a_port_cssm_refuses_is_undone_by_cssms_lines(account, cssm, sysadmin):
    emulator_command(cssm, "--mark-portable", uid_of(account), ESSENTIALS, C9300_ESSENTIALS)
    sync(account, cssm, sysadmin)
    port(account, sysadmin, 5)
    # Meanwhile CSSM withdrew the portability: it refuses the port.
    emulator_command(cssm, "--mark-portable", uid_of(account), ESSENTIALS)
    request, response = sync(account, cssm, sysadmin)
    [result] = response["port_results"]
    assert result["status"] == "refused" and "not portable" in result["reason"]
    assert held(account, ESSENTIALS) == (120, 0) and held(account, C9300_ESSENTIALS) == (120, 0)
    completion = PortCompletion.objects.get(account=account)
    assert completion.acknowledged_at is not None and "not portable" in completion.refused
    event = Event.objects.get(account=account, event_type="license.port_refused")
    assert "refused the port of 5 “Catalyst 9300 Network Essentials” licenses" in event.message
    # Sent again (a lost response), the port gets the same answer and changes nothing on CSSM.
    _document, text, _record = create_sync_request(account, actor=sysadmin)
    assert "port_completions" not in text
    assert cssm_held(cssm, ESSENTIALS) == 120


def test_mark_portable_refuses_bad_input(account, cssm):
    with pytest.raises(CommandError, match="No SSM On-Prem"):
        emulator_command(cssm, "--mark-portable", "nope", ESSENTIALS, C9300_ESSENTIALS)
    with pytest.raises(CommandError, match="Unknown license"):
        emulator_command(cssm, "--mark-portable", uid_of(account), ESSENTIALS, "no-such-tag")
    with pytest.raises(CommandError, match="not ported to itself"):
        emulator_command(cssm, "--mark-portable", uid_of(account), ESSENTIALS, ESSENTIALS)
    with pytest.raises(CommandError, match="needs UID TAG"):
        emulator_command(cssm, "--mark-portable", uid_of(account))
    with cssm.store.connect() as db:
        assert db.execute("SELECT COUNT(*) FROM portable_licenses").fetchone()[0] == 0

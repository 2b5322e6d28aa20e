"""Upgrade licenses end to end: CSSM (the in-process emulator, driven by its ``manage.py
cssm_emulator --grant-upgrade`` command) grants an upgrade, the synchronization brings it as
Upgrade Pending, the On-Prem completes it by naming the licenses it replaces, and the next
synchronization tells CSSM, whose lines then agree with the On-Prem's."""

import pytest
from django.core.management.base import CommandError
from django.db.models import Sum

from core.models import Event
from licensing.models import Entitlement, UpgradeCompletion
from licensing.services import compliance, upgrades
from sync.services.synchronization import apply_response, create_sync_request
from tests.sync.test_cssm_alerts import emulator_command, sync, uid_of

pytestmark = pytest.mark.django_db

ADVANTAGE = "regid.2017-07.com.cisco.DNA_NWStack,1.0_e7244e71-3ad5-4608-8bf0-d12f67c80896"
ESSENTIALS = "regid.2017-07.com.cisco.DNA_NWStack_Essentials,1.0_5b9f4c2a-1c61-4a55-a8a1-0c7b6c6f2a11"


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


def held(account, tag):
    """(quantity, pending) of ``tag`` over the account's lines."""
    totals = Entitlement.objects.filter(
        virtual_account__account=account, license__entitlement_tag=tag, copied_from__isnull=True
    ).aggregate(q=Sum("quantity"), p=Sum("pending_quantity"))
    return totals["q"] or 0, totals["p"] or 0


def cssm_held(cssm, tag):
    with cssm.store.connect() as db:
        return db.execute(
            "SELECT COALESCE(SUM(quantity), 0) FROM entitlements WHERE tag = ? AND smart_account = 'acme.example'"
            " AND virtual_account = 'Lab'",
            (tag,),
        ).fetchone()[0]


def test_an_upgrade_granted_on_cssm_is_pending_then_completed_and_cssm_agrees(account, cssm, sysadmin):
    assert held(account, ADVANTAGE) == (50, 0) and held(account, ESSENTIALS) == (120, 0)
    emulator_command(cssm, "--grant-upgrade", uid_of(account), ADVANTAGE, ESSENTIALS, "5")
    _request, response = sync(account, cssm, sysadmin)
    [listed] = response["upgrades"]
    assert listed["replaces"] == ESSENTIALS and listed["quantity"] == 5
    # Upgrade Pending: "10 (+5 pending)"; the pending licenses are not available yet.
    assert held(account, ADVANTAGE) == (50, 5)
    default = account.virtual_accounts.get(is_default=True)
    position = next(p for p in compliance.virtual_account_positions(default) if p.entitlement_tag == ADVANTAGE)
    assert (position.purchased, position.pending_quantity) == (50, 5)
    event = Event.objects.get(account=account, event_type="license.upgrade")
    assert "5 new “Catalyst 9300 Network Advantage” perpetual licenses were added" in event.message
    # A second synchronization adds nothing (the upgrade is known by its id).
    sync(account, cssm, sysadmin)
    assert held(account, ADVANTAGE) == (50, 5)

    [pending] = upgrades.pending_upgrades(default)
    [essentials] = upgrades.replaceable_lines(pending, [default])
    upgrades.complete_upgrade(actor=sysadmin, upgrade=pending, replacements={essentials.pk: 5})
    assert held(account, ADVANTAGE) == (55, 0) and held(account, ESSENTIALS) == (115, 0)

    request, response = sync(account, cssm, sysadmin)
    assert request["upgrade_completions"][0]["upgrade_id"] == listed["upgrade_id"]
    assert request["upgrade_completions"][0]["replaced"][0]["quantity"] == 5
    assert "upgrades" not in response
    # CSSM replaced the same licenses; the ledger did not move.
    assert cssm_held(cssm, ADVANTAGE) == 55 and cssm_held(cssm, ESSENTIALS) == 115
    assert held(account, ADVANTAGE) == (55, 0) and held(account, ESSENTIALS) == (115, 0)
    assert UpgradeCompletion.objects.get(account=account).acknowledged_at is not None
    request, _response = sync(account, cssm, sysadmin)
    assert "upgrade_completions" not in request
    assert held(account, ADVANTAGE) == (55, 0) and held(account, ESSENTIALS) == (115, 0)


def test_a_response_to_a_request_made_before_the_completion_does_not_undo_it(account, cssm, sysadmin):
    emulator_command(cssm, "--grant-upgrade", uid_of(account), ADVANTAGE, ESSENTIALS, "3")
    sync(account, cssm, sysadmin)
    default = account.virtual_accounts.get(is_default=True)
    # The operator carries a request file to CSSM; meanwhile the upgrade is completed here.
    _document, text, _record = create_sync_request(account, actor=sysadmin)
    [pending] = upgrades.pending_upgrades(default)
    [essentials] = upgrades.replaceable_lines(pending, [default])
    upgrades.complete_upgrade(actor=sysadmin, upgrade=pending, replacements={essentials.pk: 3})
    response, name = cssm.process(text.encode(), name="request.yml", mode="manual", require_credentials=False)
    apply_response(account, response.encode(), actor=sysadmin, name=name, mode="manual")
    assert held(account, ADVANTAGE) == (53, 0) and held(account, ESSENTIALS) == (117, 0)
    sync(account, cssm, sysadmin)  # the completion reaches CSSM now
    assert cssm_held(cssm, ESSENTIALS) == 117
    assert held(account, ADVANTAGE) == (53, 0) and held(account, ESSENTIALS) == (117, 0)


def test_an_upgrade_cssm_withdraws_leaves_the_on_prem(account, cssm, sysadmin):
    emulator_command(cssm, "--grant-upgrade", uid_of(account), ADVANTAGE, ESSENTIALS, "2")
    sync(account, cssm, sysadmin)
    with cssm.store.connect() as db:
        db.execute("DELETE FROM upgrades")
    sync(account, cssm, sysadmin)
    assert held(account, ADVANTAGE) == (50, 0)
    assert Event.objects.filter(account=account, event_type="license.upgrade_withdrawn").count() == 1


def test_grant_upgrade_refuses_bad_input(account, cssm):
    with pytest.raises(CommandError, match="No SSM On-Prem"):
        emulator_command(cssm, "--grant-upgrade", "nope", ADVANTAGE, ESSENTIALS, "2")
    with pytest.raises(CommandError, match="Unknown license"):
        emulator_command(cssm, "--grant-upgrade", uid_of(account), "no-such-tag", ESSENTIALS, "2")
    with pytest.raises(CommandError, match="at least 1"):
        emulator_command(cssm, "--grant-upgrade", uid_of(account), ADVANTAGE, ESSENTIALS, "0")
    with cssm.store.connect() as db:
        assert db.execute("SELECT COUNT(*) FROM upgrades").fetchone()[0] == 0

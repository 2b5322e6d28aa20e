"""Applying a synchronization recomputes the account's alerts with the lines it brought: a device
that used a license before the account held any (Insufficient Licenses, opened by the device's
hook) is back in compliance as soon as the synchronization that brings the lines commits."""

import pytest

from licensing.models import Alert, Entitlement
from licensing.services.tokens import create_token
from sync.services import synchronization
from tests.devices.devicesim import Device

pytestmark = pytest.mark.django_db(transaction=True)
CSR_AX = "regid.2014-12.com.cisco.csr1000v_ax,1.0_9a4bc6f3-2d5e-4c8a-b1f0-7e3d2c1b0a99"


def test_a_synchronization_that_brings_the_lines_clears_the_shortage(registered_account, sysadmin, client):
    from licensing.models import LicenseDefinition

    account = registered_account()
    va = account.virtual_accounts.get(is_default=True)
    LicenseDefinition.objects.get_or_create(entitlement_tag=CSR_AX, defaults={"name": "CSR AX"})
    device = Device(client)
    assert device.register(create_token(actor=None, virtual_account=va))["status"] == "SUCCESS"
    reply = device.send("AUTHORIZE", entitlements=[{"tag": CSR_AX, "count": 1}])
    assert reply["compliance"] == "OUT_OF_COMPLIANCE"
    shortages = Alert.objects.filter(account=account, alert_type=Alert.Type.INSUFFICIENT_LICENSES)
    assert shortages.live().count() == 1  # the device's hook
    synchronization.synchronize(account, actor=sysadmin)
    assert Entitlement.objects.filter(virtual_account=va, license__entitlement_tag=CSR_AX).exists()
    assert shortages.live().count() == 0  # the synchronization's recompute

"""``last_contact_at`` is rewritten only when it moves by more than ONPREM_CONTACT_WRITE_SECONDS
(default 5 minutes): the indexed column is not rewritten by every message, while the Failed to
Connect / Renew alerts, which count days, and the Last Contact column stay right."""

import datetime

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.models import Alert, ProductInstance
from tests.devices.devicesim import rum

pytestmark = pytest.mark.django_db


def _pi(dev):
    return ProductInstance.objects.get(udi_serial_number=dev.sudi["udi_serial_number"])


def _set_last_contact(pi, ago):
    moment = timezone.now() - ago
    ProductInstance.objects.filter(pk=pi.pk).update(last_contact_at=moment)
    return moment


def _writes(context):
    return [
        q["sql"]
        for q in context.captured_queries
        if q["sql"].startswith('UPDATE "licensing_productinstance"') and "last_contact_at" in q["sql"]
    ]


def test_the_default_interval_is_five_minutes_far_below_the_alerts_days():
    assert settings.ONPREM_CONTACT_WRITE_SECONDS == 300
    from licensing.services.product_instances import CONNECT_WARNING_DAYS

    assert datetime.timedelta(seconds=settings.ONPREM_CONTACT_WRITE_SECONDS) * 100 < datetime.timedelta(
        days=min(CONNECT_WARNING_DAYS)
    )


def test_two_messages_within_the_interval_write_once_and_one_after_it_writes_again(registered):
    dev = registered()
    pi = _pi(dev)
    # The REGISTER wrote it; a message a minute later leaves it.
    earlier = _set_last_contact(pi, datetime.timedelta(minutes=1))
    with CaptureQueriesContext(connection) as seen:
        assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
        assert dev.send("REPORT_USAGE", reports=[rum(dev.key, "r1", [])])["status"] == "SUCCESS"
    assert _writes(seen) == []
    assert _pi(dev).last_contact_at == earlier
    # Six minutes since the recorded contact: the next message writes it, once.
    _set_last_contact(pi, datetime.timedelta(minutes=6))
    before = timezone.now()
    with CaptureQueriesContext(connection) as seen:
        assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
        assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
    assert len(_writes(seen)) == 1
    assert _pi(dev).last_contact_at >= before


def test_a_recorded_contact_in_the_future_is_corrected(registered):
    dev = registered()
    pi = _pi(dev)
    _set_last_contact(pi, -datetime.timedelta(minutes=2))  # a clock that was ahead
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
    assert _pi(dev).last_contact_at <= timezone.now()


def test_a_redundancy_change_is_written_within_the_interval(registered):
    dev = registered()
    earlier = _set_last_contact(_pi(dev), datetime.timedelta(minutes=1))
    redundancy = {"app_id": "app-1", "app_role": "ACTIVE", "peers": []}
    assert dev.send("AUTHORIZE", entitlements=[], app_redundancy=redundancy)["status"] == "SUCCESS"
    pi = _pi(dev)
    assert pi.redundancy_role == ProductInstance.RedundancyRole.ACTIVE and pi.redundancy_group
    assert pi.last_contact_at > earlier


def test_the_interval_is_a_setting(registered, settings):
    settings.ONPREM_CONTACT_WRITE_SECONDS = 0
    dev = registered()
    earlier = _set_last_contact(_pi(dev), datetime.timedelta(seconds=1))
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
    assert _pi(dev).last_contact_at > earlier


def test_failed_to_connect_still_clears_when_the_device_calls_in(acme, registered, default_va):
    from licensing.services.alerts import recompute_alerts

    dev = registered()
    _set_last_contact(_pi(dev), datetime.timedelta(days=40))
    recompute_alerts(acme)
    assert Alert.objects.filter(alert_type=Alert.Type.PI_FAILED_TO_CONNECT).live().count() == 1
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
    assert _pi(dev).last_contact_at > timezone.now() - datetime.timedelta(minutes=1)
    recompute_alerts(acme)  # the safety net agrees: the instance is in contact
    assert Alert.objects.filter(alert_type=Alert.Type.PI_FAILED_TO_CONNECT).live().count() == 0


def test_an_instance_in_contact_within_the_interval_raises_no_alert(acme, registered, default_va):
    from licensing.services.alerts import recompute_alerts

    dev = registered()
    _set_last_contact(_pi(dev), datetime.timedelta(minutes=4))
    assert dev.send("AUTHORIZE", entitlements=[])["status"] == "SUCCESS"
    recompute_alerts(acme)
    assert not Alert.objects.filter(alert_type=Alert.Type.PI_FAILED_TO_CONNECT).live().exists()

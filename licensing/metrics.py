"""The licensing engine's metrics: device messages counted as they are handled, and the stored
state (accounts, product instances, open alerts, license compliance) read at scrape time.
Registered with ``core.metrics`` from ``LicensingConfig.ready``."""

from django.db.models import Count
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

DEVICE_MESSAGES = Counter("onprem_device_messages_total", "Device protocol messages handled", ["type", "result"])


def device_message(message_type, result):
    DEVICE_MESSAGES.labels(type=str(message_type)[:32], result=str(result)[:32]).inc()


class StateCollector:
    """Gauges read from the database at scrape time."""

    def collect(self):
        # The models are imported here, not at the top: the logging configuration imports the
        # admission middleware, and with it this module, before the apps are loaded.
        from licensing.models import Alert, LocalAccount, ProductInstance

        accounts = GaugeMetricFamily("onprem_local_accounts", "Local accounts by status", labels=["status"])
        for status, count in LocalAccount.objects.values_list("status").annotate(n=Count("pk")).order_by():
            accounts.add_metric([status], count)
        yield accounts
        yield GaugeMetricFamily(
            "onprem_product_instances", "Registered product instances", value=ProductInstance.objects.count()
        )
        alerts = GaugeMetricFamily(
            "onprem_open_alerts", "Open alerts by type and severity", labels=["type", "severity"]
        )
        open_alerts = Alert.objects.exclude(status=Alert.Status.CLEARED).values_list("alert_type", "severity")
        for alert_type, severity, count in open_alerts.annotate(n=Count("pk")).order_by():
            alerts.add_metric([alert_type, severity], count)
        yield alerts
        yield from compliance_gauges()


def compliance_gauges():
    """License compliance of every active local account, as the Licenses tab computes it.

    ``onprem_license_positions{status}`` counts (local virtual account, license) positions in and
    out of compliance, ``onprem_license_shortage`` the licenses missing over all of them, and
    ``onprem_local_accounts_compliance{status}`` the accounts with at least one position out of
    compliance. ``license_positions`` answers in a fixed number of aggregate queries per account,
    whatever the number of product instances, so a scrape costs a few queries per account.
    """
    from licensing.models import LocalAccount
    from licensing.services import compliance

    positions = {"in_compliance": 0, "out_of_compliance": 0}
    accounts = {"in_compliance": 0, "out_of_compliance": 0}
    shortage = 0
    for account in LocalAccount.objects.filter(status=LocalAccount.Status.ACTIVE).order_by():
        out = 0
        for position in compliance.license_positions(account):
            bad = position.status == compliance.OUT_OF_COMPLIANCE
            positions["out_of_compliance" if bad else "in_compliance"] += 1
            shortage += position.shortage
            out += bad
        accounts["out_of_compliance" if out else "in_compliance"] += 1
    gauge = GaugeMetricFamily(
        "onprem_license_positions",
        "License positions (virtual account x license) of active local accounts by compliance",
        labels=["status"],
    )
    for status, count in positions.items():
        gauge.add_metric([status], count)
    yield gauge
    yield GaugeMetricFamily(
        "onprem_license_shortage", "Licenses missing over all out-of-compliance positions", value=shortage
    )
    gauge = GaugeMetricFamily(
        "onprem_local_accounts_compliance", "Active local accounts by compliance", labels=["status"]
    )
    for status, count in accounts.items():
        gauge.add_metric([status], count)
    yield gauge

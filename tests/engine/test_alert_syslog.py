"""Alerts in syslog (Settings widget, Syslog tab): the events an alert records when it opens reach a
real UDP collector with the guide's "Related SYSLOG Message Text", and an event can carry its
alert's weight ("WARN: Minor alerts, ALERT: Major alerts") into the syslog severity."""

import datetime
import socket

import pytest

from core import events, system_settings
from core.events.messages import ALERT, ALERT_SEVERITY, WARN
from core.models import Event
from licensing.services.alerts import recompute_alerts

pytestmark = pytest.mark.django_db
D = datetime.date
NOW = datetime.datetime(2025, 3, 1, 9, 0, tzinfo=datetime.timezone.utc)


@pytest.fixture
def collector():
    """A real UDP socket on 127.0.0.1 that remote logging is pointed at."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    system_settings.update(
        "syslog", actor=None, syslog_enabled=True, syslog_host="127.0.0.1", syslog_port=sock.getsockname()[1]
    )
    yield sock
    sock.close()


def datagrams(sock):
    """Every datagram waiting on ``sock``, decoded."""
    found = []
    sock.settimeout(0.5)
    try:
        while True:
            found.append(sock.recvfrom(9000)[0].decode("utf-8"))
    except socket.timeout:
        return found


def test_an_insufficient_licenses_alert_reaches_syslog_with_the_guide_text(
    acme, default_va, license_def, add_line, use_many, collector, django_capture_on_commit_callbacks
):
    dna = license_def("DNA Advantage")
    add_line(default_va, dna, 2)
    use_many(default_va, dna, 5)
    with django_capture_on_commit_callbacks(execute=True):
        opened, _ = recompute_alerts(acme, NOW)
    assert [alert.alert_type for alert in opened] == ["insufficient_licenses"]
    (line,) = [text for text in datagrams(collector) if " license.insufficient " in text]
    assert line.startswith("<129>")  # local0, and ALERT: Insufficient Licenses is a Major alert
    assert " - license.insufficient - ALERT: " in line
    assert Event.objects.get(event_type="license.insufficient").severity == ALERT
    assert (
        "The Virtual Account “Default” has a shortage of “DNA Advantage” licenses. "
        "3 licenses are required to return to compliance." in line
    )
    assert 'account="Acme"' in line


def test_a_licenses_expiring_alert_reaches_syslog_with_the_guide_text(
    acme, default_va, license_def, add_line, collector, django_capture_on_commit_callbacks
):
    dna = license_def("DNA Advantage")
    add_line(default_va, dna, 4, "term", D(2025, 1, 1), D(2025, 3, 31))
    with django_capture_on_commit_callbacks(execute=True):
        opened, _ = recompute_alerts(acme, NOW)
    assert [alert.alert_type for alert in opened] == ["licenses_expiring"]
    lines = [text for text in datagrams(collector) if " license.expiring" in text]
    assert len(lines) == 1
    assert "WARN: 4 “DNA Advantage” term licenses in the Virtual Account “Default” are set to expire in" in lines[0]


@pytest.mark.parametrize(("alert_severity", "word", "pri"), [("major", ALERT, "<129>"), ("minor", WARN, "<132>")])
def test_an_alert_event_goes_out_with_its_alerts_weight(
    acme, collector, django_capture_on_commit_callbacks, alert_severity, word, pri
):
    """``record(..., severity=ALERT_SEVERITY[alert.severity])``: the hook for events whose weight is
    the alert's (a raised or cleared alert), whatever the catalogue says for the type."""
    with django_capture_on_commit_callbacks(execute=True):
        event = events.record(
            "license.insufficient",
            account=acme,
            severity=ALERT_SEVERITY[alert_severity],
            pool_name="Default",
            tag="DNA Advantage",
            count=3,
        )
    assert Event.objects.get(pk=event.pk).severity == word
    (line,) = datagrams(collector)
    assert line.startswith(f"{pri}1 ") and f" - license.insufficient - {word}: The Virtual Account" in line

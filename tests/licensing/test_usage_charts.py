"""Usage charts: the usage history from RUM reports, the bar and line geometry, and the pages that draw them."""

import datetime
import json
import re

import pytest
from django.utils import timezone

from licensing.models import RumReport
from licensing.services import compliance
from licensing.services.usage_history import clamp_days, reported_usage
from licensing.views.charts import history_chart, usage_bars, usage_segments
from tests.licensing.test_details import license_url, section

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("steady_session")]


def report(pi, received_at, usage, *, report_id=None, payload=None):
    """A stored RUM report of ``pi`` as device_usage.store_reports keeps it ([(license, count)])."""
    report_id = report_id or f"{pi.pk}-{received_at.timestamp():.0f}"
    if payload is None:
        payload = json.dumps(
            {"report_id": report_id, "usage": [{"tag": lic.entitlement_tag, "count": count} for lic, count in usage]}
        )
    return RumReport.objects.create(
        account_id=pi.account_id,
        product_instance=pi,
        device_key=f"dev-{pi.pk}",
        report_id=report_id,
        header={"type": "rum"},
        payload=payload,
        signing_type="SHA256",
        signature_key="k",
        signature_value="v",
        received_at=received_at,
    )


def at(days_ago, hour=12):
    """Noon (local time) ``days_ago`` days before today."""
    day = timezone.localdate() - datetime.timedelta(days=days_ago)
    return datetime.datetime.combine(day, datetime.time(hour), tzinfo=timezone.get_current_timezone())


def position(**figures):
    return compliance.LicensePosition(
        virtual_account_id=1, virtual_account="V", license_id=1, license="L", entitlement_tag="t", **figures
    )


# --- The history --------------------------------------------------------------------------------------


def test_reported_usage_carries_each_instances_last_report_forward(data):
    default, advantage = data["default"], data["advantage"]
    first, second = [pi for pi in default.product_instances.order_by("pk") if pi.udi_serial_number.startswith("ADV")]
    report(first, at(40), [(advantage, 9)])  # before the window: its count is where the window starts
    report(first, at(5), [(advantage, 3)])
    report(second, at(3), [(advantage, 2)])
    report(second, at(3, 15), [(advantage, 4)])  # the same day: the later report wins
    report(first, at(1), [(data["essentials"], 1)])  # does not name Advantage: Advantage's count stays
    history = reported_usage(default, advantage, days=7)
    values = [value for _day, value in history.points]
    assert [day for day, _v in history.points][-1] == timezone.localdate() and len(values) == 7
    # 6 and 5 days ago: 9 (carried in); from 5 days ago: 3; from 3 days ago: 3 + 4.
    assert values == [9, 3, 3, 7, 7, 7, 7]
    assert history.reports == 4 and history.reporting_instances == 2
    # The 5 Essentials instances and nobody else use licenses without reports; for Advantage, none.
    assert history.unreported_instances == 0


def test_reported_usage_before_the_first_report_is_unknown_not_zero(data):
    default, essentials = data["default"], data["essentials"]
    pi = default.product_instances.filter(udi_serial_number__startswith="ESS").first()
    report(pi, at(2), [(essentials, 1)])
    history = reported_usage(default, essentials, days=7)
    assert [value for _d, value in history.points] == [None, None, None, None, 1, 1, 1]
    assert history.has_data
    # Five Essentials users, one of which reported: four are not in the chart, and it says so.
    assert history.unreported_instances == 4


def test_reported_usage_reads_only_the_virtual_accounts_instances_and_survives_bad_payloads(data):
    sales, default, essentials = data["sales"], data["default"], data["essentials"]
    pi = sales.product_instances.first()
    report(pi, at(1), [(essentials, 5)])
    report(pi, at(0), [], payload="not json " + essentials.entitlement_tag)  # stored byte-for-byte
    assert not reported_usage(default, essentials, days=7).has_data
    history = reported_usage(sales, essentials, days=7)
    assert [v for _d, v in history.points][-2:] == [5, 5] and history.reports == 1


def test_no_report_means_no_history(data):
    history = reported_usage(data["default"], data["advantage"])
    assert history.days == 30 and not history.has_data and history.reports == 0
    assert history.unreported_instances == 2


def test_days_are_one_of_the_offered_periods():
    assert [clamp_days(v) for v in ("7", "90", "30", "31", "-1", None, "x")] == [7, 90, 30, 30, 30, 30, 30]


# --- Geometry -----------------------------------------------------------------------------------------


def test_segments_add_up_to_what_the_bar_spans():
    assert usage_segments(position(purchased=10, in_use=4, lent=3)) == {
        "in_use": 4,
        "reserved": 0,
        "lent": 3,
        "available": 3,
        "shortage": 0,
    }
    # Lent licenses cannot cover usage here: 10 held, 5 lent, 8 used -> 5 covered, 3 short.
    assert usage_segments(position(purchased=10, in_use=8, lent=5)) == {
        "in_use": 5,
        "reserved": 0,
        "lent": 5,
        "available": 0,
        "shortage": 3,
    }
    assert usage_segments(position(purchased=2, borrowed=3, in_use=5)) == {
        "in_use": 5,
        "reserved": 0,
        "lent": 0,
        "available": 0,
        "shortage": 0,
    }
    # Reservations take what usage leaves: 10 held, 4 used, 9 reserved -> 6 reserved covered, 3 short.
    assert usage_segments(position(purchased=10, in_use=4, reserved=9)) == {
        "in_use": 4,
        "reserved": 6,
        "lent": 0,
        "available": 0,
        "shortage": 3,
    }


def test_bars_share_one_scale():
    chart = usage_bars([("A", None, position(purchased=10, in_use=5)), ("B", "/b", position(in_use=20))])
    a, b = chart["bars"]
    assert chart["scale"] == 20
    assert [(p["key"], p["x"], p["width"]) for p in a["parts"]] == [
        ("in_use", "0.00", "25.00"),
        ("available", "25.00", "25.00"),
    ]
    assert [(p["key"], p["width"]) for p in b["parts"]] == [("shortage", "100.00")]


def test_history_chart_draws_a_step_line_with_gaps_and_the_held_line():
    class History:
        points = [(datetime.date(2026, 1, d), v) for d, v in [(1, None), (2, 2), (3, 2), (4, 6)]]
        values = [2, 2, 6]

    chart = history_chart(History(), held_today=8)
    # 4 days over 498 px: 124.5 each; the first day has no data, so the line starts on day 2.
    assert chart["line"].startswith("M172.5,") and chart["line"].count("M") == 1
    assert chart["area"].endswith("Z")
    assert [t["value"] for t in chart["y_ticks"]] == [0, 5, 10]  # 8 held: the axis ends on 10
    assert chart["held"]["value"] == 8 and chart["minimum"] == 2 and chart["maximum"] == 6
    assert [(d.day, v) for d, v in chart["changes"]] == [(1, None), (2, 2), (4, 6)]


# --- Pages ----------------------------------------------------------------------------------------------


def test_license_detail_draws_the_bars_per_virtual_account_and_the_history(acme, acme_user, browser, data):
    default, essentials = data["default"], data["essentials"]
    for pi in default.product_instances.filter(udi_serial_number__startswith="ESS")[:3]:
        report(pi, at(4), [(essentials, 1)])
    html = section(browser(acme_user).get(license_url(acme, default, essentials) + "?days=7"))
    # Essentials is held or used in Default and in Sales (1 used, none bought): a bar for each.
    bars = html[html.index('id="va-usage"') : html.index('id="usage-history"')]
    assert bars.count('<svg class="chart-bar"') == 2
    assert "Sales: Shortage 1</title>" in bars and "Default: In Use 5</title>" in bars
    assert '<th scope="row">Sales</th>' in bars  # the data table
    history = html[html.index('id="usage-history"') :]
    assert '<svg class="chart-history-svg" role="img" aria-labelledby="uh-title uh-desc"' in history
    assert "last 7 days</title>" in history and "3 on the last day, lowest 3, highest 3." in history
    assert "2 product instances use this license now without having reported it" in history
    assert re.search(r'<a href="[^"]*days=7[^"]*" aria-current="true">Last 7 days</a>', history)


def test_a_history_from_fewer_reporting_than_silent_instances_is_not_drawn(acme, acme_user, browser, data):
    """2 of the 5 instances using the license report: a line of their share would sit near zero."""
    default, essentials = data["default"], data["essentials"]
    for pi in default.product_instances.filter(udi_serial_number__startswith="ESS")[:2]:
        report(pi, at(4), [(essentials, 1)])
    history = section(browser(acme_user).get(license_url(acme, default, essentials) + "?days=7"))
    history = history[history.index('id="usage-history"') :]
    assert "chart-history-svg" not in history
    assert "Too few of the product instances using this license report their usage" in history
    assert "3 product instances use this license now without having reported it" in history


def test_license_detail_without_reports_says_where_history_comes_from(acme, acme_user, browser, data):
    html = section(browser(acme_user).get(license_url(acme, data["default"], data["advantage"])))
    assert "chart-history-svg" not in html
    assert "only product instances that send Smart Licensing Using Policy usage reports" in html


def test_licenses_tab_draws_a_bar_per_license_of_the_page(acme, acme_user, browser, data):
    client = browser(acme_user)
    html = client.get(f"/accounts/{acme.pk}/inventory/licenses/?va={data['default'].pk}").content.decode()
    chart = html[html.index('id="inv-usage"') : html.index("</figure>", html.index('id="inv-usage"'))]
    assert chart.count('<svg class="chart-bar"') == 2
    assert "Network Advantage: In Use 4, Lent to lower tiers 3, Available 9</title>" in chart
    assert "<script" not in chart and " style=" not in chart  # the CSP allows neither
    # The bars follow the table's search.
    html = client.get(f"/accounts/{acme.pk}/inventory/licenses/?va={data['default'].pk}&q=essentials").content.decode()
    assert html[html.index('id="inv-usage"') :].count('<svg class="chart-bar"') == 1

"""Smart Licensing > Alerts in real headless Chromium: the Major / Minor counts, a virtual
account's toggles and Hide Alerts (kept across a reload), the CSV download, and the Actions
menu's Remove Instance, Transfer Licenses and Remind Later. See docs/e2e.md."""

import csv
import io
import json

import pytest

from tests.e2e.harness import account_id, messages, shoot

pytestmark = [pytest.mark.live, pytest.mark.e2e]

# In the server's Django: a product instance of the virtual account with an Insufficient Licenses
# alert stops connecting (40 days: Failed to Connect), the alerts are recomputed, and what the
# database says the tab should show is printed.
SETUP = """
import datetime, json
from django.utils import timezone
from licensing.models import Alert, LocalAccount, ProductInstance
from licensing.services.alerts import recompute_alerts
account = LocalAccount.objects.get(pk={account})
recompute_alerts(account)
shortages = Alert.objects.filter(account=account, alert_type="insufficient_licenses", status="open")
shortage = shortages.order_by("pk").first()
va = shortage.virtual_account
pi = ProductInstance.objects.filter(virtual_account=va).order_by("pk").last()
pi.last_contact_at = timezone.now() - datetime.timedelta(days=40)
pi.save(update_fields=["last_contact_at"])
recompute_alerts(account)
now = timezone.now()
live = Alert.objects.filter(account=account).visible(now)
connect = live.get(product_instance=pi, alert_type="pi_failed_to_connect")
print(json.dumps({{
    "major": live.filter(severity="major").count(), "minor": live.filter(severity="minor").count(),
    "va": va.pk, "va_name": va.name,
    "va_major": live.filter(virtual_account=va, severity="major").count(),
    "va_minor": live.filter(virtual_account=va, severity="minor").count(),
    "shortage": shortage.pk, "connect": connect.pk, "pi": pi.display_name,
}}))
"""


def count(page, severity):
    return int(page.locator(f'.al-count[data-severity="{severity}"]').inner_text())


def rows(page, severity=None):
    found = page.locator("table.al-table tbody tr[data-alert]")
    if severity:
        found = found.filter(has=page.locator("td .badge", has_text=severity))
    return found.count()


def open_menu(page, alert_id):
    row = page.locator(f'tr[data-alert="{alert_id}"]')
    row.locator("summary").click()
    return row


def test_alerts_tab_counts_toggles_csv_and_actions(server, admin_page):
    page = admin_page
    account = account_id(page)
    facts = json.loads(server.shell(SETUP.format(account=account)).strip().splitlines()[-1])
    alerts_url = f"/accounts/{account}/alerts/"

    # The local account view: the number of Major and Minor alerts, as the database has them.
    page.goto(alerts_url)
    assert (count(page, "major"), count(page, "minor")) == (facts["major"], facts["minor"])
    assert page.locator("button.al-toggle").count() == 0  # a summary here, not toggles
    shoot(page, "licensing-alerts")

    # The virtual account view: the icons become toggles.
    page.locator("select[name=va]").select_option(str(facts["va"]))
    with page.expect_navigation():
        page.get_by_role("button", name="Filter", exact=True).click()
    assert (count(page, "major"), count(page, "minor")) == (facts["va_major"], facts["va_minor"])
    assert rows(page, "Minor") == min(facts["va_minor"], 50) and rows(page, "Major") >= 1
    minor = page.locator("button.al-toggle.al-minor")
    assert minor.get_attribute("aria-pressed") == "true"
    with page.expect_navigation():
        minor.click()
    assert page.locator("button.al-toggle.al-minor").get_attribute("aria-pressed") == "false"
    assert rows(page, "Minor") == 0 and rows(page, "Major") >= 1
    assert count(page, "minor") == facts["va_minor"]  # the number stays

    # CSV of what is listed: the Major alerts of this virtual account.
    with page.expect_download() as info:
        page.get_by_role("link", name="Export to CSV").click()
    header, *lines = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert header[:4] == ["Message", "Severity", "Virtual Account", "Action Due"]
    assert len(lines) == facts["va_major"] and {line[1] for line in lines} == {"Major"}
    assert {line[2] for line in lines} == {facts["va_name"]}

    # Hide Alerts collapses the list, the numbers stay, and it is still hidden after a reload.
    with page.expect_navigation():
        page.get_by_role("button", name="Hide Alerts").click()
    assert page.locator("table.al-table").count() == 0 and count(page, "major") == facts["va_major"]
    page.reload()
    assert page.locator("table.al-table").count() == 0
    shoot(page, "licensing-alerts-hidden")
    with page.expect_navigation():
        page.get_by_role("button", name="Show Alerts").click()
    with page.expect_navigation():
        page.locator("button.al-toggle.al-minor").click()
    assert rows(page, "Minor") == min(facts["va_minor"], 50)
    shoot(page, "licensing-alerts-va")

    # Remove Instance from the Failed to Connect alert: asks first, then back here, alert gone.
    row = open_menu(page, facts["connect"])
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.get_by_role("button", name="Remove Instance").click()
    assert f"The product instance “{facts['pi']}” was removed" in messages(page)
    assert "/alerts/" in page.url and page.locator(f'tr[data-alert="{facts["connect"]}"]').count() == 0

    # Transfer Licenses from the Insufficient Licenses alert: the licenses in overage, then the
    # Inventory's transfer form pre-filled with the short virtual account and the quantity.
    page.goto(alerts_url)
    row = open_menu(page, facts["shortage"])
    with page.expect_navigation():
        row.get_by_role("link", name="Transfer Licenses").click()
    overage = page.locator("table.al-overage tbody tr")
    if overage.first.get_by_role("link").count():
        with page.expect_navigation():
            overage.first.get_by_role("link").click()
        destination = page.get_by_label("Transfer to Local Virtual Account")
        assert destination.locator("option:checked").inner_text() == facts["va_name"]
        assert int(page.get_by_label("Quantity").input_value()) >= 1
        shoot(page, "licensing-alert-transfer")
        with page.expect_navigation():
            page.get_by_role("button", name="Transfer", exact=True).click()
        assert "were transferred" in messages(page) and "/alerts/" in page.url
    else:  # no other pool has this license in overage: the page says so
        assert "in overage" in page.locator("table.al-overage").inner_text()

    # Remind Later hides an alert until its next warning period.
    page.goto(alerts_url + "?severity=minor")
    remindable = page.locator("tr[data-alert]").filter(has=page.locator("summary")).first
    remindable.locator("summary").click()
    if remindable.get_by_role("button", name="Remind Later").count():
        alert_id = remindable.get_attribute("data-alert")
        with page.expect_navigation():
            remindable.get_by_role("button", name="Remind Later").click()
        assert "The alert is hidden until" in messages(page)
        assert page.locator(f'tr[data-alert="{alert_id}"]').count() == 0

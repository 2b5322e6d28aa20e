"""Upgrade Pending and Change Virtual Account Assignment in real headless Chromium (docs/e2e.md).

The lines are made inside the server's Django (an upgrade as the synchronization leaves it, two
subscriptions of one license as CSSM would send them); everything after is what a person clicks
on Inventory > Licenses, and what the pages and the alerts then say.
"""

import json

import pytest

from tests.e2e.harness import account_id, choose_virtual_account, messages, shoot

pytestmark = [pytest.mark.live, pytest.mark.e2e]

SETUP = """
import datetime, json
from licensing.models import Alert, Entitlement, LicenseDefinition, VirtualAccount
from licensing.services import alerts
vas = {{va.name: va for va in VirtualAccount.objects.filter(account_id={account})}}
def known(tag, name):
    return LicenseDefinition.objects.get_or_create(entitlement_tag=tag, defaults={{"name": name}})[0]
old, new = known("regid.e2e.ucm11", "E2E UCM 11.x"), known("regid.e2e.ucm12", "E2E UCM 12.x")
dup = known("regid.e2e.dup", "E2E Duplicate License")
Entitlement.objects.filter(license__in=[old, new, dup]).delete()
Entitlement.objects.create(virtual_account=vas["Campus"], license=old, license_type="perpetual", quantity=8)
Entitlement.objects.create(virtual_account=vas["Campus"], license=new, license_type="perpetual", quantity=0,
    pending_quantity=5, upgrade_id="UPG-E2E", upgrade_from=old, sku="UPG-E2E")
end = datetime.date(2099, 12, 31)
for sub, n in (("Sub-E2E-A", 10), ("Sub-E2E-B", 4)):
    Entitlement.objects.create(virtual_account=vas["Branch Offices"], license=dup, license_type="term",
        quantity=n, end_date=end, subscription_id=sub)
alerts.recompute_alerts(vas["Campus"].account)
print(json.dumps({{"dup": dup.pk}}))
"""

DUPLICATE_ALERTS = """
from licensing.models import Alert
print(Alert.objects.filter(account_id={account}, alert_type="duplicate_licenses", license_id={license})
      .live().count())
"""


def license_row(page, name):
    return page.locator("table.inv-licenses > tbody > tr").filter(has=page.get_by_role("link", name=name, exact=True))


def test_upgrade_pending_is_completed_by_naming_the_replaced_licenses(server, admin_page):
    page = admin_page
    account = account_id(page)
    server.shell(SETUP.format(account=account))
    page.goto(f"/accounts/{account}/inventory/")
    campus = choose_virtual_account(page, "Campus")
    page.goto(f"/accounts/{account}/inventory/licenses/?va={campus}&q=E2E+UCM")
    row = license_row(page, "E2E UCM 12.x")
    assert "0 (+5 pending)" in " ".join(row.locator("td").nth(2).inner_text().split())
    row.get_by_role("link", name="Upgrade Pending").click()
    assert page.get_by_role("heading", name="Upgrade Pending").is_visible()
    replace = page.get_by_label("Licenses replaced from this line of “Campus”")
    replace.fill("4")
    page.get_by_role("button", name="Complete Upgrade").click()
    assert "Identify exactly 5" in page.locator("body").inner_text()  # refused, nothing written
    page.get_by_label("Licenses replaced from this line of “Campus”").fill("5")
    shoot(page, "inventory-upgrade-pending")
    with page.expect_navigation():
        page.get_by_role("button", name="Complete Upgrade").click()
    assert "The upgrade was completed" in messages(page)
    page.goto(f"/accounts/{account}/inventory/licenses/?va={campus}&q=E2E+UCM")
    new_row = license_row(page, "E2E UCM 12.x")
    assert new_row.locator("td").nth(2).inner_text().strip() == "5"
    assert license_row(page, "E2E UCM 11.x").locator("td").nth(2).inner_text().strip() == "3"


def test_change_virtual_account_assignment_moves_the_duplicate_and_the_alert_clears(server, admin_page):
    page = admin_page
    account = account_id(page)
    facts = json.loads(server.shell(SETUP.format(account=account)).strip().splitlines()[-1])
    alerts_of = DUPLICATE_ALERTS.format(account=account, license=facts["dup"])
    assert server.shell(alerts_of).strip().splitlines()[-1] == "1"
    page.goto(f"/accounts/{account}/inventory/")
    branch = choose_virtual_account(page, "Branch Offices")
    page.goto(f"/accounts/{account}/inventory/licenses/?va={branch}&q=E2E+Duplicate")
    license_row(page, "E2E Duplicate License").get_by_role("link", name="Change Virtual Account Assignment").click()
    subscription = page.get_by_label("Subscription ID")
    assert "Sub-E2E-A — Enabled" in subscription.inner_text() and "Sub-E2E-B — Duplicate" in subscription.inner_text()
    subscription.select_option("Sub-E2E-B")
    with page.expect_navigation():
        page.get_by_role("button", name="Select").click()
    boxes = page.locator("input[name=virtual_accounts]")
    with page.expect_navigation():
        page.get_by_role("button", name="Check All").click()
    assert all(box.is_checked() for box in boxes.all())  # checked, nothing written yet
    for box in page.locator("input[name=virtual_accounts]").all():
        box.uncheck()
    page.get_by_label("Data Center", exact=True).check()
    shoot(page, "inventory-change-va-assignment")
    with page.expect_navigation():
        page.get_by_role("button", name="OK", exact=True).click()
    assert "The licenses were moved to: Data Center (4)." in messages(page)
    assert server.shell(alerts_of).strip().splitlines()[-1] == "0"

"""Port licenses in real headless Chromium (docs/e2e.md): a license CSSM made portable (as the
synchronization leaves it: a PortableLicense row) shows Port on Inventory > Licenses; the form
refuses more than can be ported, previews the before/after of both licenses, and ports; the
Licenses tab and Activity > License Transactions then show the result."""

import pytest

from tests.e2e.harness import account_id, choose_virtual_account, messages, shoot

pytestmark = [pytest.mark.live, pytest.mark.e2e]

SETUP = """
from licensing.models import Entitlement, LicenseDefinition, PortableLicense, PortCompletion, VirtualAccount
va = VirtualAccount.objects.get(account_id={account}, name="Campus")
def known(tag, name):
    return LicenseDefinition.objects.get_or_create(entitlement_tag=tag, defaults={{"name": name}})[0]
onprem, cloud = known("regid.e2e.port.onprem", "E2E Port On-Prem"), known("regid.e2e.port.cloud", "E2E Port Cloud")
Entitlement.objects.filter(license__in=[onprem, cloud]).delete()
PortCompletion.objects.filter(account_id={account}, target_tag=cloud.entitlement_tag).delete()
Entitlement.objects.create(virtual_account=va, license=onprem, license_type="perpetual", quantity=6, sku="E2E-PORT")
PortableLicense.objects.get_or_create(account_id={account}, license=onprem, target=cloud)
print("ok")
"""

PORTED = """
from licensing.models import PortCompletion
c = PortCompletion.objects.get(account_id={account}, target_tag="regid.e2e.port.cloud")
print(sum(p["quantity"] for p in c.ported), c.acknowledged_at is None)
"""


def license_row(page, name):
    return page.locator("table.inv-licenses > tbody > tr").filter(has=page.get_by_role("link", name=name, exact=True))


def test_port_a_portable_license_with_a_preview(server, admin_page):
    page = admin_page
    account = account_id(page)
    assert server.shell(SETUP.format(account=account)).strip().endswith("ok")
    page.goto(f"/accounts/{account}/inventory/")
    campus = choose_virtual_account(page, "Campus")
    page.goto(f"/accounts/{account}/inventory/licenses/?va={campus}&q=E2E+Port")
    assert license_row(page, "E2E Port On-Prem").get_by_role("link", name="Port", exact=True).count() == 1
    license_row(page, "E2E Port On-Prem").get_by_role("link", name="Port", exact=True).click()
    page.get_by_role("heading", name="Port Licenses").wait_for()
    assert page.locator('[data-figure="portable"]').inner_text().strip() == "6"
    page.get_by_label("Port to License").select_option(label="E2E Port Cloud")
    page.get_by_label("Quantity").fill("7")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    assert "Only 6 “E2E Port On-Prem” licenses can be ported" in page.locator("main").inner_text()
    page.get_by_label("Quantity").fill("4")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview").click()
    rows = page.locator(".inv-port-preview tbody tr")
    assert " ".join(rows.nth(0).inner_text().split()) == "E2E Port On-Prem 6 → 2 0 6 → 2"
    assert " ".join(rows.nth(1).inner_text().split()) == "E2E Port Cloud 0 → 4 0 0 → 4"
    shoot(page, "inventory-port-licenses")
    with page.expect_navigation():
        page.get_by_role("button", name="Port", exact=True).click()
    assert "4 “E2E Port On-Prem” licenses were ported to “E2E Port Cloud”" in messages(page)
    page.goto(f"/accounts/{account}/inventory/licenses/?va={campus}&q=E2E+Port")
    assert license_row(page, "E2E Port On-Prem").locator("td").nth(2).inner_text().strip() == "2"
    assert license_row(page, "E2E Port Cloud").locator("td").nth(2).inner_text().strip() == "4"
    # The port waits for the next synchronization to tell CSSM.
    assert server.shell(PORTED.format(account=account)).strip().splitlines()[-1] == "4 True"
    page.goto(f"/accounts/{account}/activity/?q=E2E+Port")
    assert "Ported from “E2E Port On-Prem”" in page.locator("main").inner_text()

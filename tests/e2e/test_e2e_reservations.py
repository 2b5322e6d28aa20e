"""Reserve Licenses on a product instance, in Chromium: from the Product Instances tab to the
reservation form, the reserved counts in the Product Instances and Licenses tabs, an update of
the quantity, and the return (which leaves the demo data as it was for the other tests)."""

import re

import pytest

from tests.e2e.harness import account_id, login, messages, shoot

pytestmark = [pytest.mark.live, pytest.mark.e2e]


def test_reserve_update_and_return_licenses(server, new_page):
    page = login(new_page(), "e2e-admin")
    account = account_id(page)
    page.goto(f"/accounts/{account}/inventory/product-instances/")
    row = page.locator("table.data tbody tr").filter(has=page.get_by_role("link", name="Reserve Licenses")).first
    instance = row.locator("td").first.inner_text().strip()
    row.get_by_role("link", name="Reserve Licenses").click()
    page.wait_for_url("**/reservations/")
    page.get_by_role("heading", name=f"Reserved Licenses of “{instance}”").wait_for()

    choice = page.locator("#id_license")
    option = choice.locator("option").filter(has_text=re.compile(r"\(\d+ available\)")).first
    label = option.inner_text()
    license_name, available = re.fullmatch(r"(.+) \((\d+) available\)", label).groups()
    choice.select_option(label=label)
    # more than available: refused on the form, nothing reserved
    page.locator("#id_quantity").fill(str(int(available) + 1))
    page.get_by_role("button", name="Reserve Licenses").click()
    page.get_by_text(f"Only {available} “{license_name}” licenses are available").wait_for()

    page.locator("#id_license").select_option(label=label)
    page.locator("#id_quantity").fill("1")
    with page.expect_navigation():
        page.get_by_role("button", name="Reserve Licenses").click()
    assert f"1 licenses were reserved on the product instance “{instance}”." in messages(page)
    reserved = page.locator("table.resv-table tbody tr").filter(has_text=license_name).first
    assert reserved.locator("td.inv-num").inner_text().strip() == "1"
    shoot(page, "inventory-reserve-licenses")

    if int(available) >= 2:
        reserved.get_by_label(f"New quantity of “{license_name}”").fill("2")
        with page.expect_navigation():
            reserved.get_by_role("button", name="Update").click()
        assert "was updated to 2" in messages(page)
        reserved = page.locator("table.resv-table tbody tr").filter(has_text=license_name).first
        assert reserved.locator("td.inv-num").inner_text().strip() == "2"
    count = reserved.locator("td.inv-num").inner_text().strip()

    page.get_by_role("link", name=re.compile("Product instances of")).click()
    page.wait_for_url("**/product-instances/**")
    tab_row = page.locator("table.data tbody tr").filter(has_text=instance).first
    assert tab_row.locator("td.inv-pi-reserved").inner_text().strip() == count
    page.get_by_role("link", name="Licenses", exact=True).click()
    page.wait_for_url("**/inventory/licenses/**")
    assert f"({count} Reserved)" in page.locator("table.inv-licenses").inner_text()

    page.goto(f"/accounts/{account}/inventory/product-instances/")
    page.locator("table.data tbody tr").filter(has_text=instance).first.get_by_role(
        "link", name=count, exact=True
    ).click()
    page.wait_for_url("**/reservations/")
    page.once("dialog", lambda dialog: dialog.accept())
    reserved = page.locator("table.resv-table tbody tr").filter(has_text=license_name).first
    with page.expect_navigation():
        reserved.get_by_role("button", name="Return").click()
    assert "were returned to the local virtual account" in messages(page)
    assert "No licenses are reserved for this product instance." in page.locator("table.resv-table").inner_text()

"""The Cisco Administrator's Add License / Remove Licenses in a real browser: Administration >
Accounts > an account's License Transactions (docs/operations-widgets.md)."""

import pytest

from tests.e2e.harness import account_id, messages, shoot

pytestmark = [pytest.mark.live, pytest.mark.e2e]


def test_add_license_then_remove_licenses(admin_page):
    page = admin_page
    account = account_id(page)
    page.goto("/admin/accounts/")
    with page.expect_navigation():
        page.locator(f'a[href="/admin/accounts/{account}/license-transactions/"]').click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("License Transactions")
    page.get_by_text("Add License", exact=True).first.click()  # the <summary> opens the form
    form = page.locator("details.add-license form")
    license_select = form.locator('select[name="license"]')
    license_name = license_select.locator("option").nth(1).text_content().strip()
    license_select.select_option(index=1)
    form.locator('select[name="virtual_account"]').select_option(index=1)
    form.get_by_label("Quantity:").fill("7")
    form.get_by_label("License Type:").select_option("perpetual")
    form.get_by_label("License SKU:").fill("E2E-MANUAL-SKU")
    with page.expect_navigation():
        form.get_by_role("button", name="Add License").click()
    assert f"7 “{license_name}” licenses were added" in messages(page)
    page.locator("#line-search").fill("E2E-MANUAL-SKU")
    with page.expect_navigation():
        page.locator("#line-search").press("Enter")
    row = page.locator("table.admin-license-lines tbody tr", has_text="E2E-MANUAL-SKU")
    assert row.count() == 1 and "Manual" in row.inner_text() and "7" in row.inner_text()
    shoot(page, "admin-account-license-transactions")
    # Remove Licenses (under Action): 3 of the 7, after the confirmation.
    row.locator("summary", has_text="Remove Licenses").click()
    row.get_by_label("Quantity").fill("3")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    with page.expect_navigation():
        row.get_by_role("button", name="Remove Licenses").click()
    assert asked and "Remove these" in asked[0]
    assert f"3 “{license_name}” licenses were removed" in messages(page)
    row = page.locator("table.admin-license-lines tbody tr", has_text="E2E-MANUAL-SKU")
    assert row.locator("td").nth(2).inner_text().strip() == "4"
    # The rest goes too; the line disappears.
    row.locator("summary", has_text="Remove Licenses").click()
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        row.get_by_role("button", name="Remove Licenses").click()
    assert "4 “" in messages(page)
    assert page.locator("table.admin-license-lines tbody tr", has_text="E2E-MANUAL-SKU").count() == 0

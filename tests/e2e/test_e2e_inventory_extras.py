"""Issue 19 rows in a real browser: license tags, Activity > License Transactions, Inventory >
Event Log, the Users CSV and the registration token's Copy and terms (docs/e2e.md)."""

import csv
import io

import pytest

from tests.e2e.harness import account_id, choose_virtual_account, messages, shoot

pytestmark = [pytest.mark.live, pytest.mark.e2e]


def _download_csv(page, tmp_path, name="Export to CSV"):
    with page.expect_download() as info:
        page.get_by_role("link", name=name).first.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".csv", path
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def test_license_tags_add_search_rename_delete(admin_page):
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/inventory/licenses/")
    add = page.get_by_role("button", name="Add License Tags…")
    # "Available Actions option is only enabled when checkbox(es) is/are checked."
    assert add.is_disabled()
    boxes = page.locator('input[type="checkbox"][form="inv-license-actions"]')
    assert boxes.count() >= 2
    first = page.locator("table.inv-licenses tbody tr").filter(has=boxes.first).locator("td a").first.inner_text()
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert add.is_enabled()
    with page.expect_navigation():
        add.click()
    page.get_by_label("Tags").fill("e2e-tag, e2e-other")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert asked and "Add these tags" in asked[0]  # the guide: "You are prompted that the tag is going to be created"
    assert "were added to 2 selected licenses" in messages(page)
    # By Tag finds them.
    page.locator('input[name="by"][value="tag"]').check()
    page.locator("#inv-license-search").fill("e2e-tag")
    with page.expect_navigation():
        page.locator("#inv-license-search").press("Enter")
    rows = page.locator("table.inv-licenses tbody tr")
    assert rows.count() == 2 and first in rows.first.inner_text() + rows.nth(1).inner_text()
    # Manage License Tags: rename, then delete (it asks first).
    with page.expect_navigation():
        page.get_by_role("link", name="Manage License Tags…").click()
    row = page.locator("table.inv-license-tag-table tbody tr", has_text="e2e-tag")
    row.get_by_label("New name for “e2e-tag”").fill("e2e-renamed")
    with page.expect_navigation():
        row.get_by_role("button", name="Rename").click()
    assert "was renamed to “e2e-renamed”" in messages(page)
    shoot(page, "inventory-manage-license-tags")
    for name in ("e2e-renamed", "e2e-other"):
        page.once("dialog", lambda dialog: dialog.accept())
        with page.expect_navigation():
            page.locator("table.inv-license-tag-table tbody tr", has_text=name).get_by_role(
                "button", name="Delete"
            ).click()
        assert "was deleted from every license" in messages(page)
    assert "e2e-renamed" not in page.locator("table.inv-license-tag-table").inner_text()


def test_license_transactions_columns_sort_and_csv(admin_page, tmp_path):
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/activity/")
    headers = [h.strip(" ▲▼↑↓") for h in page.locator("table.act-transactions thead th").all_inner_texts()]
    assert [h.split(" ")[0] for h in headers][:3] == ["Transaction", "License", "License"]
    for title in ("Quantity", "License Expiration", "License Type", "Local Virtual Account", "Source"):
        assert any(title in h for h in headers), headers
    assert page.locator("table.act-transactions tbody tr").count() > 0
    with page.expect_navigation():
        page.get_by_role("link", name="Quantity").click()
    quantities = [int(q) for q in page.locator("table.act-transactions tbody tr td:nth-child(4)").all_inner_texts()]
    assert quantities == sorted(quantities)
    rows = _download_csv(page, tmp_path)
    assert rows[0] == [
        "Transaction Date",
        "License SKU",
        "License",
        "Quantity",
        "License Expiration",
        "License Type",
        "Virtual Account",
        "Source",
    ]
    assert [int(r[3]) for r in rows[1:]] == sorted(int(r[3]) for r in rows[1:])


def test_inventory_event_log_tab_filters_and_csv(admin_page, tmp_path):
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/inventory/")
    lab = choose_virtual_account(page, "Lab")
    # A token makes an event of Lab's.
    page.get_by_role("link", name="New Token…").click()
    page.get_by_label("Description").fill("e2e event log")
    with page.expect_navigation():
        page.get_by_role("button", name="Create Token").click()
    with page.expect_navigation():
        page.locator("main nav.tabs").get_by_role("link", name="Event Log").click()
    assert f"va={lab}" in page.url
    page.get_by_label("Event Type").select_option(label="Registration token created")
    with page.expect_navigation():
        page.get_by_role("button", name="Filter").click()
    cells = page.locator("table.inv-event-log tbody tr td:nth-child(2)").all_inner_texts()
    assert cells and set(cells) == {"Registration token created"}
    shoot(page, "inventory-event-log")
    rows = _download_csv(page, tmp_path)
    assert rows[0] == ["Date", "Virtual Account", "Event Type", "Severity", "Message", "User"]
    assert rows[1:] and {r[1] for r in rows[1:]} == {"Lab"} and {r[2] for r in rows[1:]} == {"token.created"}


def test_users_csv_export(admin_page, tmp_path):
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/manage/users/")
    shown = page.locator("table.data tbody tr td:first-child").all_inner_texts()
    rows = _download_csv(page, tmp_path)
    assert rows[0] == ["User ID", "Name", "Email", "Status", "Roles", "Roles through User Groups"]
    assert [r[0] for r in rows[1:]][: len(shown)] == [s.split(" ")[0].strip() for s in shown]


def test_token_copy_and_terms(admin_page):
    page = admin_page
    account = account_id(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/accounts/{account}/inventory/")
    page.get_by_role("link", name="New Token…").click()
    export = page.get_by_label("Allow export-controlled functionality on the products registered with this token")
    if export.count():
        # Export-controlled without the terms: refused, shown on the checkbox.
        export.check()
        with page.expect_navigation():
            page.get_by_role("button", name="Create Token").click()
        assert "Agree to the terms and conditions" in page.locator("main").inner_text()
        page.get_by_label("I agree to the terms and conditions above").check()
    page.get_by_label("Description").fill("e2e copy")
    with page.expect_navigation():
        page.get_by_role("button", name="Create Token").click()
    token = page.locator("#inv-new-token-text").input_value().strip()
    row = page.locator("table.inv-tokens tbody tr").filter(has=page.locator(f'input.inv-token[value="{token}"]'))
    assert row.locator("input.inv-token").input_value() == token and len(token) > 40
    row.get_by_role("button", name="Copy").click()
    status = row.locator(".lw-copy-status")
    status.wait_for(state="visible")
    page.wait_for_function("el => el.textContent.length > 0", arg=status.element_handle())
    assert status.inner_text() == "Copied to the clipboard."
    assert page.evaluate("navigator.clipboard.readText()") == token

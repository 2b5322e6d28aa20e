"""The issue's user journeys in real headless Chromium against the real `manage.py serve`.

Each test signs in through the logon page in a browser context of its own, clicks what a person
clicks, and checks what the pages (and downloaded files) then say. See docs/e2e.md.
"""

import csv
import io
import json
import re
import subprocess
import sys

import pytest

from bench.harness import ROOT
from tests.e2e.harness import (
    PASSWORD,
    account_id,
    choose_virtual_account,
    item_count,
    login,
    messages,
    number,
    shoot,
    table_row,
)

pytestmark = [pytest.mark.live, pytest.mark.e2e]

# Emulator-only CCO credentials of sync/emulator/seed-example.yml (the seed an empty emulator gets).
CCO_USER, CCO_PASSWORD, CSSM_SMART_ACCOUNT = "admin@acme.example", "acme-cssm-demo-1", "acme.example"
ASR_AE = "regid.2014-12.com.cisco.ASR1K_AES,1.0_demo-ae"  # seed_demo's "ASR 1000 Advanced Enterprise"


def test_first_login_and_wizard(server, page):
    """The first System Admin (ensure_admin's one-time password) goes through the 4-step wizard."""
    page.goto("/login/")
    shoot(page, "login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(server.admin_password)
    page.get_by_role("button", name="Log In", exact=True).click()
    page.wait_for_url("**/welcome/language/")
    shoot(page, "wizard-1-language")
    page.get_by_label("English").check()
    page.get_by_role("button", name="Next").click()

    page.wait_for_url("**/welcome/password/")
    page.get_by_label(re.compile(r"^New password")).fill("short")
    page.get_by_label("Confirm new password").fill("short")
    with page.expect_navigation():
        page.get_by_role("button", name="Next").click()
    assert page.locator(".errorlist").count() >= 1, "a too-short password was accepted"
    new_password = "Wizard-Passw0rd!42"
    page.get_by_label(re.compile(r"^New password")).fill(new_password)
    page.get_by_label("Confirm new password").fill(new_password)
    shoot(page, "wizard-2-password")
    page.get_by_role("button", name="Next").click()

    page.wait_for_url("**/welcome/certificate/")
    # The certificate shown is the one the server really serves.
    assert "localhost" in page.locator("dl.facts").inner_text()
    shoot(page, "wizard-3-certificate")
    page.get_by_role("checkbox").check()
    page.get_by_role("button", name="Next").click()

    page.wait_for_url("**/welcome/review/")
    assert "English" in page.locator("dl.facts").inner_text()
    shoot(page, "wizard-4-review")
    page.get_by_role("button", name="Next").click()
    page.wait_for_url(re.compile(r"/login/"))

    # The one-time password is gone; the new one opens the workspaces.
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(server.admin_password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log In", exact=True).click()
    assert "/login/" in page.url
    login(page, "admin", new_password)
    assert "/welcome/" not in page.url
    assert page.get_by_role("navigation", name="Workspaces").get_by_role("link", name="Administration").is_visible()


def _request_account(page, name, smart_account, virtual_account):
    page.goto("/requests/account/")
    page.get_by_label("Email Address").fill("requester@example.com")
    page.get_by_label("Message to Creator").fill(f"Please create {name}.")
    page.get_by_label("Local Account Name").fill(name)
    page.get_by_label("Cisco Smart Account").fill(smart_account)
    page.get_by_label("Cisco Virtual Account").fill(virtual_account)
    with page.expect_navigation():
        page.get_by_role("button", name="Continue").click()
    assert table_row(page, name).is_visible(), messages(page)


def test_request_an_account_and_approve_it(server, new_page):
    user = login(new_page(), "e2e-user")
    _request_account(user, "E2E Requested", "E2E SA", "E2E VA")
    shoot(user, "request-account")

    admin = login(new_page(), "e2e-admin")
    admin.goto("/admin/accounts/requests/")
    row = table_row(admin, "E2E Requested")
    assert "requester@example.com" in row.inner_text()
    shoot(admin, "admin-accounts-requests")
    with admin.expect_navigation():
        row.get_by_role("button", name="Approve E2E Requested", exact=True).click()
    assert "E2E Requested" in messages(admin)
    admin.goto("/admin/accounts/?q=E2E+Requested")
    assert table_row(admin, "E2E Requested").is_visible()
    # The request left the waiting list.
    admin.goto("/admin/accounts/requests/")
    assert admin.locator("table.data tbody", has_text="E2E Requested").count() == 0


def test_approve_with_online_registration_through_the_cssm_emulator(server, new_page):
    if server.cssm_problem:
        pytest.skip(f"the CSSM emulator is not available: {server.cssm_problem}")
    user = login(new_page(), "e2e-user")
    _request_account(user, "E2E Registered", CSSM_SMART_ACCOUNT, "E2E Lab")

    admin = login(new_page(), "e2e-admin")
    admin.goto("/admin/accounts/requests/")
    row = table_row(admin, "E2E Registered")
    row.locator("summary", has_text="Approve and register").click()
    row.get_by_label("Cisco CCO ID").fill(CCO_USER)
    row.get_by_label("Password").fill(CCO_PASSWORD)
    with admin.expect_navigation():
        row.get_by_role("button", name="Submit E2E Registered").click()
    assert "is registered as Active" in messages(admin), messages(admin)
    admin.goto("/admin/accounts/?q=E2E+Registered")
    assert "Active" in table_row(admin, "E2E Registered").inner_text()
    # CSSM (the emulator) now knows this On-Prem: its status page lists it.
    assert CSSM_SMART_ACCOUNT in server.cssm.page()


def _licenses_row(page, account, va, license_name):
    page.goto(f"/accounts/{account}/inventory/licenses/?va={va}&q={license_name.replace(' ', '+')}")
    return table_row(page, license_name)


def _token_row(page, token):
    """The tokens table's row of ``token``: the Token column keeps the full text (with its Copy
    action) in a read-only field, which is not the cell's text."""
    rows = page.locator("table.inv-tokens tbody tr").filter(has=page.locator(f'input.inv-token[value="{token}"]'))
    assert rows.count() == 1, f"no row for the token {token[:8]}…"
    return rows.first


def test_token_fleet_usage_and_compliance(server, admin_page):
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/inventory/")
    lab = choose_virtual_account(page, "Lab")
    page.goto(f"/accounts/{account}/inventory/product-instances/?va={lab}")
    before = item_count(page)
    page.goto(f"/accounts/{account}/inventory/licenses/?va={lab}")
    asr = page.locator("table.data tbody tr").filter(has=page.get_by_role("link", name="ASR 1000 Advanced Enterprise"))
    in_use_before = number(asr.first.locator("td").nth(3).inner_text()) if asr.count() else 0

    page.goto(f"/accounts/{account}/inventory/?va={lab}")
    page.get_by_role("link", name="New Token…").click()
    page.get_by_label("Description").fill("e2e fleet")
    page.get_by_label("Expire After (days)").fill("7")
    page.get_by_label("Max. Number of Uses").fill("25")
    with page.expect_navigation():
        page.get_by_role("button", name="Create Token").click()
    token = page.locator("#inv-new-token-text").input_value().strip()
    assert len(token) > 40, token
    assert "e2e fleet" in _token_row(page, token).inner_text()
    shoot(page, "inventory-general-new-token")

    fleet = subprocess.run(
        [
            sys.executable,
            "-m",
            "smart_agent.fleet",
            "--server",
            server.url,
            "--ca-file",
            str(server.cert),
            "--token",
            token,
            "--devices",
            "20",
            "--licenses",
            f"{ASR_AE}=2",
            "--seed",
            "11",
            "--json",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fleet.returncode == 0, fleet.stdout[-2000:] + fleet.stderr[-2000:]
    summary = json.loads(fleet.stdout)
    assert summary["failed"] == 0, summary["failures"]

    page.goto(f"/accounts/{account}/inventory/product-instances/?va={lab}")
    assert item_count(page) == before + 20
    shoot(page, "inventory-product-instances")
    # More than a page of them now: the rest is one "Next" away.
    assert page.locator("table.data tbody tr").count() == min(25, before + 20)
    if before + 20 > 25:
        with page.expect_navigation():
            page.get_by_role("navigation", name="Pages").get_by_role("link", name="Next").click()
        assert page.locator("table.data tbody tr").count() == before + 20 - 25
    row = _licenses_row(page, account, lab, "ASR 1000 Advanced Enterprise")
    cells = row.locator("td")
    in_use = number(cells.nth(3).inner_text())
    assert in_use == in_use_before + 40, row.inner_text()
    purchased, balance = number(cells.nth(2).inner_text()), number(cells.nth(5).inner_text())
    assert balance == purchased - in_use
    status = cells.nth(6).inner_text()
    if balance < 0:
        assert "Compliance" in status and "In Compliance" not in status or "Insufficient" in status, status
    else:
        assert "In Compliance" in status, status
    shoot(page, "inventory-licenses")

    # Revoking the token is a destructive action: it asks first, and "Cancel" changes nothing.
    page.goto(f"/accounts/{account}/inventory/?va={lab}&q=e2e+fleet")
    row = _token_row(page, token)
    assert "20 / 25" in row.inner_text()
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    row.get_by_role("button", name="Revoke").click()
    page.wait_for_timeout(300)
    assert asked and "Revoke this token?" in asked[0]
    page.reload()
    assert "Active" in _token_row(page, token).inner_text()
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        _token_row(page, token).get_by_role("button", name="Revoke").click()
    assert "Revoked" in _token_row(page, token).inner_text()


def test_transfer_licenses_and_a_product_instance(server, admin_page):
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/inventory/")
    campus = choose_virtual_account(page, "Campus")
    page.goto(f"/accounts/{account}/inventory/")
    branch = choose_virtual_account(page, "Branch Offices")

    def purchased(va, name):
        page.goto(f"/accounts/{account}/inventory/licenses/?va={va}")
        rows = page.locator("table.data tbody tr").filter(has=page.get_by_role("link", name=name, exact=True))
        return number(rows.first.locator("td").nth(2).inner_text()) if rows.count() else 0

    # A license of Campus with a positive balance moves, 1 at a time, to Branch Offices.
    page.goto(f"/accounts/{account}/inventory/licenses/?va={campus}")
    movable = [
        r
        for r in page.locator("table.data tbody tr").all()
        if r.get_by_role("link", name="Transfer").count() and number(r.locator("td").nth(5).inner_text()) > 0
    ]
    assert movable, "Campus has no license with a balance to transfer"
    name = movable[0].locator("td").first.get_by_role("link").first.inner_text()
    campus_before, branch_before = purchased(campus, name), purchased(branch, name)

    page.goto(f"/accounts/{account}/inventory/licenses/?va={campus}")
    row = page.locator("table.data tbody tr").filter(has=page.get_by_role("link", name=name, exact=True)).first
    row.get_by_role("link", name="Transfer").click()
    page.get_by_label("Transfer to Local Virtual Account").select_option(label="Branch Offices")
    page.get_by_label("Quantity").fill("1")
    page.get_by_role("button", name="Preview").click()
    preview = page.locator(".inv-transfer-preview")
    assert "Branch Offices" in preview.inner_text()
    shoot(page, "inventory-license-transfer")
    with page.expect_navigation():
        page.get_by_role("button", name="Transfer", exact=True).click()
    assert purchased(campus, name) == campus_before - 1
    assert purchased(branch, name) == branch_before + 1

    # A product instance of Campus moves to Data Center.
    page.goto(f"/accounts/{account}/inventory/product-instances/?va={campus}")
    campus_count = item_count(page)
    first = page.locator("table.data tbody tr").first
    pi_name = first.locator("td").first.inner_text().strip()
    first.get_by_role("link", name="Transfer").click()
    page.get_by_label("Transfer to Local Virtual Account").select_option(label="Data Center")
    with page.expect_navigation():
        page.get_by_role("button", name="Transfer", exact=True).click()
    page.goto(f"/accounts/{account}/inventory/product-instances/?va={campus}")
    assert item_count(page) == campus_count - 1
    page.goto(f"/accounts/{account}/inventory/")
    data_center = choose_virtual_account(page, "Data Center")
    page.goto(f"/accounts/{account}/inventory/product-instances/?va={data_center}&q={pi_name}")
    assert table_row(page, pi_name).is_visible()


def test_run_a_report_and_download_csv_and_xlsx(server, admin_page, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/reports/")
    shoot(page, "reports")
    page.get_by_role("link", name="Licenses", exact=True).first.click()
    with page.expect_navigation():
        page.get_by_role("button", name="Run Report").click()
    shoot(page, "reports-licenses-result")
    table = page.locator("table.data").first
    headers = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    shown = [c.strip() for c in table.locator("tbody tr td:first-child, tbody tr th:first-child").all_inner_texts()]
    assert shown, "the report has no rows"

    with page.expect_download() as info:
        page.get_by_role("link", name="Export to CSV").click()
    csv_path = tmp_path / info.value.suggested_filename
    info.value.save_as(csv_path)
    assert csv_path.suffix == ".csv"
    rows = list(csv.reader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert rows[0][: len(headers)] == headers[: len(rows[0])] or set(headers) & set(rows[0]), (rows[0], headers)
    assert {row[0] for row in rows[1:]} >= set(shown[:5]), (shown[:5], rows[:6])

    with page.expect_download() as info:
        page.get_by_role("link", name="Export to Excel (XLSX)").click()
    xlsx_path = tmp_path / info.value.suggested_filename
    info.value.save_as(xlsx_path)
    assert xlsx_path.suffix == ".xlsx"
    sheet = openpyxl.load_workbook(xlsx_path, read_only=True).active
    values = [[cell for cell in row] for row in sheet.iter_rows(values_only=True)]
    flat = {str(v) for row in values for v in row if v is not None}
    assert set(shown[:5]) <= flat, (shown[:5], values[:6])
    assert len([r for r in values if any(v is not None for v in r)]) >= len(rows) - 1


def test_change_language_to_japanese(server, new_page):
    page = login(new_page(), "e2e-ja")
    page.goto("/language/")
    page.get_by_label("日本語").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.get_by_role("button", name="ログアウト").is_visible()
    page.goto("/")
    assert "ライセンシング" in page.locator("header").inner_text()
    shoot(page, "language-japanese")
    # The choice is the user's own: another user's pages stay in English.
    other = login(new_page(), "e2e-user")
    assert other.get_by_role("button", name="Log Out").is_visible()


def test_idle_timeout_logs_out(server, new_page):
    """The page timer reloads after the idle limit; the server then logs the session out.

    Ten real minutes are not waited for: the browser's clock is moved by Playwright, and the
    session's last-activity time (in the server's database) is moved back by the same amount.
    """
    page = new_page()
    page.clock.install()
    login(page, "e2e-user")
    timeout = int(page.locator("body").get_attribute("data-idle-timeout"))
    assert timeout == 600
    session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "onprem_session")
    server.shell(
        "from importlib import import_module\n"
        "from django.conf import settings\n"
        "from accounts.middleware import LAST_ACTIVITY_KEY\n"
        "store = import_module(settings.SESSION_ENGINE).SessionStore\n"
        f"session = store(session_key={session_key!r})\n"
        f"session[LAST_ACTIVITY_KEY] = session[LAST_ACTIVITY_KEY] - {timeout + 5}\n"
        "session.save()\n"
    )
    with page.expect_navigation():
        page.clock.run_for((timeout + 2) * 1000)
    page.wait_for_url(re.compile(r"/login/"))
    assert "10 minutes without activity" in messages(page)
    shoot(page, "idle-timeout")
    # The old session is dead for the server too, not only for this tab.
    page.goto("/")
    assert "/login/" in page.url


def test_system_user_cannot_reach_administration(server, new_page):
    page = login(new_page(), "e2e-user")
    nav = page.get_by_role("navigation", name="Workspaces")
    assert nav.get_by_role("link", name="Licensing").is_visible()
    assert nav.get_by_role("link", name="Administration").count() == 0
    for path in ("/admin/", "/admin/users/", "/admin/accounts/"):
        response = page.goto(path)
        assert response.status == 403, (path, response.status)
    # The same browser session still works in the Licensing workspace.
    assert page.goto("/language/").status == 200


def test_login_refuses_a_wrong_password(server, page):
    page.goto("/login/")
    page.get_by_label("Username").fill("e2e-user")
    page.get_by_label("Password").fill(PASSWORD + "-wrong")
    with page.expect_navigation():
        page.get_by_role("button", name="Log In", exact=True).click()
    assert "/login/" in page.url
    assert page.get_by_role("alert").is_visible()


def test_tables_sort_filter_and_paginate(server, admin_page):
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/inventory/")
    campus = choose_virtual_account(page, "Campus")
    page.goto(f"/accounts/{account}/inventory/product-instances/?va={campus}")
    total = item_count(page)
    assert total >= 3

    def names():
        return [n.strip() for n in page.locator("table.data tbody tr td:first-child").all_inner_texts()]

    header = page.locator("table.data thead").get_by_role("link", name=re.compile("^Name"))
    with page.expect_navigation():
        header.click()
    first = names()
    header = page.locator("table.data thead").get_by_role("link", name=re.compile("^Name"))
    with page.expect_navigation():
        header.click()
    second = names()

    def ascending(values):
        return values in (sorted(values), sorted(values, key=str.lower))

    def descending(values):
        return values[::-1] in (sorted(values), sorted(values, key=str.lower))

    # The header link toggles the order: one click sorts one way, the next the other way.
    assert (ascending(first) and descending(second)) or (descending(first) and ascending(second)), (first, second)

    page.get_by_label("Search product instances").fill(first[0])
    with page.expect_navigation():
        page.get_by_label("Search product instances").press("Enter")
    assert first[0] in names() and item_count(page) < total

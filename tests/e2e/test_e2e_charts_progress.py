"""Charts and the progress of long operations, in real headless Chromium against the real server.

* Devices of the fleet simulator send real usage (RUM) reports; the license detail page then
  draws their reported usage over time, the usage in each local virtual account as bars, and
  the Licenses tab a bar per license — each with its text alternative, axe-clean, at 1280 and
  390 px.
* Report exports and log downloads run through the page's progress box: the control is
  disabled while the file is fetched, the aria-live region says it started and then what was
  downloaded (or the server's error), and the file really arrives (parsed here).
* "Standard Synchronization Now" with the CSSM emulator: the page shows a progress bar and
  disabled buttons while the worker runs it, then the result.

See docs/e2e.md.
"""

import csv
import io
import json
import re
import subprocess
import sys
import zipfile

import pytest

from bench.harness import ROOT
from tests.e2e.harness import (
    NARROW,
    account_id,
    axe_violations,
    blocking,
    choose_virtual_account,
    describe,
    login,
    messages,
    shoot,
    table_row,
)

pytestmark = [pytest.mark.live, pytest.mark.e2e]

ASR_AE = "regid.2014-12.com.cisco.ASR1K_AES,1.0_demo-ae"  # seed_demo's "ASR 1000 Advanced Enterprise"
ASR_AE_NAME = "ASR 1000 Advanced Enterprise"

# Records what the progress box and its control go through (a MutationObserver in the page), since
# the busy state lasts only as long as the download.
WATCH = """([box, control]) => {
  window.__seen = [];
  const b = document.getElementById(box);
  const record = () => window.__seen.push({
    text: b.querySelector('.progress-text').textContent, role: b.querySelector('.progress-text').getAttribute('role'),
    busy: b.getAttribute('aria-busy'), bar: !b.querySelector('progress').hidden,
    disabled: control ? document.querySelector(control).getAttribute('aria-disabled') || String(document.querySelector(control).disabled) : null});
  new MutationObserver(record).observe(b, {subtree: true, childList: true, characterData: true, attributes: true});
}"""  # noqa: E501 (script text)


def _assert_accessible(page, where):
    violations = blocking(axe_violations(page))
    assert not violations, f"{where}:\n{describe(violations)}"


def _records(page):
    """Rows of the account page's Synchronization History (not the "nothing yet" row)."""
    return len([r for r in page.locator(".sync-history tbody tr").all() if r.locator("td").count() > 1])


def _new_token(page, account, va, description):
    page.goto(f"/accounts/{account}/inventory/?va={va}")
    page.get_by_role("link", name="New Token…").click()
    page.get_by_label("Description").fill(description)
    page.get_by_label("Expire After (days)").fill("3")
    with page.expect_navigation():
        page.get_by_role("button", name="Create Token").click()
    return page.locator("#inv-new-token-text").input_value().strip()


def test_usage_charts_from_real_usage_reports(server, new_page):
    page = login(new_page(), "e2e-admin")
    account = account_id(page)
    page.goto(f"/accounts/{account}/inventory/")
    data_center = choose_virtual_account(page, "Data Center")
    token = _new_token(page, account, data_center, "e2e charts")
    # Three devices register, authorize 2 × ASR AE each and send one usage report each.
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
            "3",
            "--licenses",
            f"{ASR_AE}=2",
            "--seed",
            "23",
            "--json",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert fleet.returncode == 0, fleet.stdout[-2000:] + fleet.stderr[-2000:]
    assert json.loads(fleet.stdout)["failed"] == 0, fleet.stdout[-2000:]

    # The Licenses tab: a bar per license of the page, named by its figures.
    page.goto(f"/accounts/{account}/inventory/licenses/?va={data_center}&q=ASR+1000+Advanced+Enterprise")
    bars = page.locator("#inv-usage svg.chart-bar")
    assert bars.count() == 1
    assert re.match(rf"{ASR_AE_NAME}: In Use \d+", bars.first.locator("title").text_content())
    in_use = int(re.search(r"(\d+) in use of", page.locator("#inv-usage .chart-bar-figures").first.inner_text())[1])
    assert in_use >= 6
    _assert_accessible(page, "Licenses tab with its usage chart")

    # The license detail: the reported usage over time counts the three reports (2 each).
    table_row(page, ASR_AE_NAME).get_by_role("link", name=ASR_AE_NAME).click()
    page.wait_for_url(re.compile(r"/licenses/\d+/"))
    chart = page.locator("svg.chart-history-svg")
    assert chart.count() == 1, page.locator("#usage-history").inner_text()
    assert chart.get_attribute("role") == "img"
    assert (
        "Reported usage of “ASR 1000 Advanced Enterprise” in “Data Center”, last 30 days"
        in chart.locator("title").text_content()
    )
    desc = chart.locator("desc").text_content()
    reported = int(re.search(r": (\d+) on the last day", desc)[1])
    assert reported >= 6, desc
    # The text alternative: the data table behind the disclosure, with the same last value.
    history = page.locator("#usage-history")
    history.locator("summary", has_text="Show the chart's data as a table").click()
    last_row = history.locator("table tbody tr").last
    assert last_row.is_visible() and last_row.locator("td").nth(1).inner_text() == str(reported)
    assert "usage reports of" in history.inner_text()
    # The period links: 7 days.
    with page.expect_navigation():
        history.get_by_role("link", name="Last 7 days").click()
    assert "last 7 days" in page.locator("svg.chart-history-svg title").text_content()
    # Usage per local virtual account: Data Center is one of the bars, each bar a link.
    va_bars = page.locator("#va-usage .chart-bar-list li")
    assert va_bars.filter(has_text="Data Center").count() == 1
    shoot(page, "licensing-license-detail-charts")
    _assert_accessible(page, "license detail with its charts")

    narrow = login(new_page(viewport=NARROW), "e2e-admin")
    narrow.goto(page.url)
    overflow = narrow.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 2, f"the license detail is {overflow}px wider than a 390px screen"
    assert narrow.locator("svg.chart-history-svg").bounding_box()["width"] <= 390
    shoot(narrow, "licensing-license-detail-charts")
    _assert_accessible(narrow, "license detail with its charts at 390 px")


def test_report_export_shows_its_progress_and_result(server, admin_page, tmp_path):
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/reports/")
    page.get_by_role("link", name="Licenses", exact=True).first.click()
    with page.expect_navigation():
        page.get_by_role("button", name="Run Report").click()
    shown = [c.strip() for c in page.locator("table.data tbody tr td:first-child").all_inner_texts()]
    box = page.locator("#rp-export-progress")
    assert box.locator("[role=status][aria-live=polite]").count() == 1

    page.evaluate(WATCH, ["rp-export-progress", "a[href*='export.csv']"])
    with page.expect_download() as info:
        page.get_by_role("link", name="Export to CSV").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert {row[0] for row in rows[1:]} >= set(shown[:5])
    page.locator("#rp-export-progress.done").wait_for()
    seen = page.evaluate("window.__seen")
    # While it ran: the bar shown, the box busy, the link disabled, the region saying it works.
    assert any(
        s["busy"] == "true" and s["bar"] and s["disabled"] == "true" and "Exporting the report" in s["text"]
        for s in seen
    ), seen
    final = box.locator(".progress-text").inner_text()
    assert final.startswith(f"Done: {info.value.suggested_filename} (") and final.endswith("was downloaded."), final
    assert page.get_by_role("link", name="Export to CSV").get_attribute("aria-disabled") is None
    assert not box.locator("progress").is_visible()
    shoot(page, "reports-export-done")

    # Excel from the criteria form; then a refused criterion: the server's error, in an alert.
    page.goto(f"/accounts/{account}/reports/")
    page.get_by_role("link", name="Licenses", exact=True).first.click()
    page.wait_for_load_state()
    with page.expect_download() as info:
        page.get_by_role("button", name="Export to Excel (XLSX)").click()
    assert info.value.suggested_filename.endswith(".xlsx")
    info.value.save_as(tmp_path / "report.xlsx")
    assert zipfile.is_zipfile(tmp_path / "report.xlsx")  # an .xlsx is a zip of XML parts
    page.locator("#id_name").fill("")
    page.get_by_role("button", name="Export to CSV").click()
    alert = page.locator("#rp-export-progress [role=alert]")
    alert.wait_for()
    # The server's own words, with the field they are about.
    assert alert.inner_text().startswith("It failed: Name: ") and "required" in alert.inner_text(), alert.inner_text()
    assert page.get_by_role("button", name="Export to CSV").is_enabled()
    shoot(page, "reports-export-failed")
    _assert_accessible(page, "report form with the export error")


def test_log_download_shows_its_progress_and_the_file_arrives(server, admin_page, tmp_path):
    page = admin_page
    page.goto("/admin/support/")
    page.get_by_label("Select a Log").select_option(index=1)
    page.wait_for_url(re.compile(r"\?log="))
    page.evaluate(WATCH, ["log-download-progress", "a[href$='logs.zip']"])
    with page.expect_download() as info:
        page.get_by_role("link", name="Download All Logs").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    with zipfile.ZipFile(path) as bundle:
        names = bundle.namelist()
    assert names and all(name.endswith(".log") or re.search(r"\.log\.\d+$", name) for name in names), names
    page.locator("#log-download-progress.done").wait_for()
    seen = page.evaluate("window.__seen")
    assert any(s["busy"] == "true" and s["bar"] and s["disabled"] == "true" for s in seen), seen
    text = page.locator("#log-download-progress .progress-text").inner_text()
    assert re.match(r"Done: ssm-onprem-logs-\d{8}-\d{6}\.zip \([\d.]+ (B|KB|MB)\) was downloaded\.", text), text
    shoot(page, "admin-support-download-done")
    _assert_accessible(page, "Support Center after a download")


def test_synchronization_now_shows_progress_then_the_result(server, new_page):
    if server.cssm_problem:
        pytest.skip(f"the CSSM emulator is not available: {server.cssm_problem}")
    from tests.e2e.test_e2e_flows import CCO_PASSWORD, CCO_USER, CSSM_SMART_ACCOUNT, _request_account

    admin = login(new_page(), "e2e-admin")
    admin.goto("/admin/sync/?q=E2E+Synced")
    if admin.locator("table.data tbody", has_text="E2E Synced").count() == 0:
        user = login(new_page(), "e2e-user")
        _request_account(user, "E2E Synced", CSSM_SMART_ACCOUNT, "E2E Sync VA")
        admin.goto("/admin/accounts/requests/")
        row = table_row(admin, "E2E Synced")
        row.locator("summary", has_text="Approve and register").click()
        row.get_by_label("Cisco CCO ID").fill(CCO_USER)
        row.get_by_label("Password").fill(CCO_PASSWORD)
        with admin.expect_navigation():
            row.get_by_role("button", name="Submit E2E Synced").click()
        assert "is registered as Active" in messages(admin), messages(admin)
        admin.goto("/admin/sync/?q=E2E+Synced")
    table_row(admin, "E2E Synced").get_by_role("link", name="E2E Synced").click()
    admin.wait_for_url(re.compile(r"/admin/sync/\d+/$"))
    history_before = _records(admin)
    standard = admin.get_by_role("button", name="Standard Synchronization Now")
    assert standard.is_enabled()
    with admin.expect_navigation():
        standard.click()
    # The page after the click: queued (or already running) in the worker, bar shown, buttons off.
    status = admin.locator("#sync-status")
    assert status.get_attribute("data-status") in ("queued", "running"), status.inner_text()
    assert admin.locator("#sync-progress").is_visible()
    assert admin.get_by_role("button", name="Standard Synchronization Now").is_disabled()
    assert admin.get_by_role("button", name="Full Synchronization Now").is_disabled()
    assert status.get_attribute("aria-live") == "polite"
    shoot(admin, "admin-sync-running")
    # The page follows the worker and, once it is done, shows the result and enables the buttons.
    # (A selector, not a predicate: the page reloads meanwhile, and the CSP forbids string eval.)
    admin.locator('#sync-status[data-status="idle"]').wait_for(timeout=90_000)
    assert "Last run:" in admin.locator("#sync-status").inner_text()
    assert "Synchronization" in admin.locator("#sync-status").inner_text()
    assert admin.get_by_role("button", name="Standard Synchronization Now").is_enabled()
    assert not admin.locator("#sync-progress").is_visible()
    history_after = _records(admin)
    assert history_after >= min(history_before + 1, 20)
    shoot(admin, "admin-sync-done")
    _assert_accessible(admin, "synchronization account page")

"""Transfer Licenses shows the source's figures, and greys out what the guide greys out.

Inventory > Licenses > Transfer of a license whose virtual account is Out Of Compliance for it:
the form shows the purchased, in-use and available quantities (the Licenses tab's own), and its
Transfer and Preview buttons are disabled with the reason beside them, before anything is sent.
The service's refusal stays the backstop: the same form sent anyway (the button re-enabled by
script) changes nothing. A license in compliance: the same figures, the buttons enabled.
"""

import re

import pytest

from tests.e2e.harness import account_id, messages, number, shoot

pytestmark = [pytest.mark.live, pytest.mark.e2e]

# A license some virtual account of the demo account is Out Of Compliance for, with licenses still
# purchased there (so its row has Transfer). seed_demo usually has one; otherwise one is made the
# way the guide says it happens: all but (in use - 1) of the purchased licenses transferred away.
OUT_OF_COMPLIANCE = """
from licensing.models import LicenseDefinition, VirtualAccount
from licensing.services.compliance import virtual_account_positions
from licensing.services.transfers import transfer_licenses
def find():
    vas = list(VirtualAccount.objects.filter(account__name="Demo").order_by("pk"))
    for va in vas:
        for p in virtual_account_positions(va):
            if p.available < 0 and p.purchased > 0:
                return va, p.license_id
    for va in vas:
        for p in virtual_account_positions(va):
            if p.in_use >= 2 and p.purchased >= p.in_use:
                other = next(v for v in vas if v.pk != va.pk)
                license = LicenseDefinition.objects.get(pk=p.license_id)
                transfer_licenses(actor=None, from_va=va, to_va=other, license=license,
                                  quantity=p.purchased - p.in_use + 1)
                return va, p.license_id
va, license_id = find()
print("OOC", va.pk, LicenseDefinition.objects.get(pk=license_id).name)
"""


def _row(page, name):
    return page.locator("table.data tbody tr").filter(has=page.get_by_role("link", name=name, exact=True)).first


def _figures(page):
    return {
        key: number(page.locator(f"dd[data-figure={key}]").inner_text()) for key in ("purchased", "in-use", "available")
    }


def test_transfer_licenses_shows_the_quantities_and_greys_out_when_out_of_compliance(server, admin_page):
    page = admin_page
    account = account_id(page)
    match = re.search(r"OOC (\d+) (.+)", server.shell(OUT_OF_COMPLIANCE))
    assert match, "no Out Of Compliance license could be found or made"
    va, name = int(match.group(1)), match.group(2).strip()

    page.goto(f"/accounts/{account}/inventory/licenses/?va={va}")
    row = _row(page, name)
    cells = row.locator("td")
    listed = {"purchased": number(cells.nth(2).inner_text()), "in-use": number(cells.nth(3).inner_text())}
    balance = number(cells.nth(5).inner_text())
    assert balance < 0 and "Out Of Compliance" in row.inner_text()
    row.get_by_role("link", name="Transfer").click()
    page.wait_for_load_state()

    figures = _figures(page)
    assert figures == {**listed, "available": balance}
    assert number(page.locator("dd[data-figure=transferable]").inner_text()) == 0
    reason = page.locator("#transfer-refusal")
    assert "Out Of Compliance" in reason.inner_text() and reason.is_visible()
    for label in ("Preview", "Transfer"):
        button = page.get_by_role("button", name=label, exact=True)
        assert button.is_disabled(), f"{label} is not greyed out"
        assert button.get_attribute("aria-describedby") == "transfer-refusal"
        assert button.evaluate("b => getComputedStyle(b).opacity") != "1", f"{label} does not look disabled"
    shoot(page, "inventory-license-transfer-out-of-compliance")

    # The refusal after submit stays: the form sent anyway changes nothing.
    page.get_by_label("Transfer to Local Virtual Account").select_option(index=1)
    page.get_by_label("Quantity").fill("1")
    page.evaluate("document.querySelectorAll('button[disabled]').forEach(b => b.disabled = false)")
    with page.expect_navigation():
        page.get_by_role("button", name="Transfer", exact=True).click()
    assert "You cannot transfer licenses if the VA is already OOC" in page.locator("main").inner_text()
    page.goto(f"/accounts/{account}/inventory/licenses/?va={va}")
    assert number(_row(page, name).locator("td").nth(2).inner_text()) == listed["purchased"]

    # A license in compliance: its figures, and both buttons enabled.
    rows = [
        r
        for r in page.locator("table.data tbody tr").all()
        if r.get_by_role("link", name="Transfer").count() and number(r.locator("td").nth(5).inner_text()) > 0
    ]
    if rows:
        purchased = number(rows[0].locator("td").nth(2).inner_text())
        rows[0].get_by_role("link", name="Transfer").click()
        page.wait_for_load_state()
        assert _figures(page)["purchased"] == purchased
        assert page.locator("#transfer-refusal").count() == 0
        assert page.get_by_role("button", name="Transfer", exact=True).is_enabled()
        assert page.get_by_role("button", name="Preview", exact=True).is_enabled()


def test_bulk_transfer_of_checked_licenses_with_a_preview(admin_page):
    """Available Actions > Transfer Licenses…: two checked licenses with a balance, 1 of each to
    another virtual account; Transfer stays disabled until the Preview shows each license's
    before/after in both virtual accounts; then both move in one go."""
    page = admin_page
    account = account_id(page)
    page.goto(f"/accounts/{account}/inventory/licenses/")
    rows = [
        r
        for r in page.locator("table.inv-licenses tbody tr").all()
        if r.locator("input.inv-select").count()
        and number(r.locator("td").nth(2).inner_text()) > 0
        and number(r.locator("td").nth(5).inner_text()) > 0
    ][:2]
    assert len(rows) == 2, "the demo virtual account has two licenses with a balance"
    names = [r.locator("td").first.get_by_role("link").first.inner_text().strip() for r in rows]
    purchased = [number(r.locator("td").nth(2).inner_text()) for r in rows]
    for row in rows:
        row.locator("input.inv-select").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Transfer Licenses…", exact=True).click()
    transfer = page.get_by_role("button", name="Transfer", exact=True)
    assert transfer.is_disabled()
    page.get_by_label("Transfer to Local Virtual Account").select_option(index=1)
    target = page.get_by_label("Transfer to Local Virtual Account").evaluate("s => s.options[s.selectedIndex].text")
    for name in names:
        page.get_by_label(f"Quantity of “{name}”").fill("1")
    with page.expect_navigation():
        page.get_by_role("button", name="Preview", exact=True).click()
    preview = page.locator("section.inv-transfer-preview")
    assert preview.is_visible()
    for name, before in zip(names, purchased, strict=True):
        assert f"{before} → {before - 1}" in preview.inner_text(), name
    assert target in preview.inner_text()
    shoot(page, "inventory-license-bulk-transfer-preview")
    assert transfer.is_enabled()
    with page.expect_navigation():
        transfer.click()
    assert "The licenses were transferred" in messages(page)
    for name, before in zip(names, purchased, strict=True):
        assert number(_row(page, name).locator("td").nth(2).inner_text()) == before - 1

"""Every main page of both workspaces: a screenshot at 1280x800 and at 390x844, and axe-core.

The pages are found the way a person finds them: the Licensing workspace's section tabs, the
Inventory and Manage Account tabs, every widget tile of the Administration workspace and each
widget's own tabs. A page fails on any "serious" or "critical" axe-core violation; everything
axe reports is kept in artifacts/axe-<viewport>.json.
"""

import re
from urllib.parse import urlsplit

import pytest

from tests.e2e.harness import (
    DESKTOP,
    NARROW,
    account_id,
    axe_violations,
    blocking,
    describe,
    login,
    save_json,
    shoot,
)

pytestmark = [pytest.mark.live, pytest.mark.e2e]


def _links(page, selector):
    hrefs = page.eval_on_selector_all(selector, "els => els.map(e => e.getAttribute('href'))")
    return [urlsplit(h).path for h in hrefs if h and h.startswith("/")]


def main_pages(page):
    """(name, path) of every main page, discovered from the navigation of both workspaces."""
    account = account_id(page)
    found = ["/", f"/accounts/{account}/", "/language/", "/requests/account/", "/requests/access/"]
    # Smart Licensing section tabs, then the tabs inside Inventory and Manage Account.
    for path in _links(page, "nav.lw-section-tabs a"):
        found.append(path)
        page.goto(path)
        found += _links(page, "main nav.tabs a")
    found += [
        f"/accounts/{account}/inventory/licenses/",
        f"/accounts/{account}/inventory/product-instances/",
        f"/accounts/{account}/manage/general/",
    ]
    # The License and Product Instance detail pages (with the usage chart).
    for tab in ("licenses", "product-instances"):
        page.goto(f"/accounts/{account}/inventory/{tab}/")
        found += _links(page, "table.data tbody tr:first-child td:first-child a")[:1]
    page.goto(f"/accounts/{account}/manage/general/")
    found += _links(page, "main nav.tabs a")
    # The Administration workspace: every widget tile and each widget's tabs.
    page.goto("/admin/")
    found.append("/admin/")
    for path in _links(page, "a.widget"):
        found.append(path)
        page.goto(path)
        found += [p for p in _links(page, "main nav.tabs a") if p.startswith("/admin/")]
    unique = []
    for path in found:
        if path not in unique and not re.search(r"\.(csv|xlsx|zip|yml)$|/logout/", path):
            unique.append(path)
    return [(_name(path, account), path) for path in unique]


def _name(path, account):
    if path == "/":
        return "licensing-home"
    path = re.sub(r"/virtual-accounts/\d+/licenses/\d+/", "/license-detail/", path)
    path = re.sub(r"/product-instances/\d+/", "/product-instance-detail/", path)
    slug = path.strip("/").replace(f"accounts/{account}", "licensing").replace("/", "-")
    return slug or "home"


@pytest.mark.parametrize("viewport", [DESKTOP, NARROW], ids=["1280", "390"])
def test_main_pages_screenshots_and_accessibility(server, new_page, viewport):
    page = login(new_page(viewport=viewport), "e2e-admin")
    pages = main_pages(page)
    # Both workspaces are really covered: the Licensing tabs and every widget.
    assert len([p for _, p in pages if p.startswith("/admin/")]) >= 10, pages
    assert len([p for _, p in pages if p.startswith("/accounts/")]) >= 10, pages
    report, failures = {}, []
    for name, path in pages:
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        page.wait_for_load_state("networkidle")
        shoot(page, name)
        # Usable on a narrow screen: nothing but wide tables (which scroll in their own box) may
        # push the page sideways.
        if viewport is NARROW:
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            if overflow > 2:
                failures.append(f"{path}: the page is {overflow}px wider than a {viewport['width']}px screen")
        violations = axe_violations(page)
        report[path] = violations
        if blocking(violations):
            failures.append(f"{path}:\n{describe(blocking(violations))}")
    save_json(f"axe-{viewport['width']}.json", report)
    assert not failures, "\n".join(failures)


def test_keyboard_reaches_the_workspaces_and_the_main_content(server, page):
    """Tab order starts with the skip link and the workspace navigation; focus is visible."""
    login(page, "e2e-admin")
    page.goto("/admin/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto("/admin/")
    seen = []
    for _ in range(6):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert "Administration" in seen and "Licensing" in seen, seen
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused element shows no outline"
    # Enter on a focused widget tile opens it.
    page.get_by_role("link", name=re.compile("^Users")).first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/admin/users/")

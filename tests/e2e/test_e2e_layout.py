"""Layout checks in the browser: every main page, with its forms expanded, fits the screen.

Every main page of both workspaces (found as tests/e2e/test_e2e_pages.py finds them), plus the
form pages their toolbars link to, is loaded at 1280x800 and at 390x844 with every
``<details>`` opened (row actions such as Register, Re-register, Deactivate, Reject), and fails

* at 1280 px, when the document is wider than the window (the page scrolls sideways);
* at 1280 px, when a visible form control (input, select, textarea, button) sits outside the
  window, so it can only be reached by scrolling sideways (inside a table's box or the page);
* at both widths, when a visible text input, select or textarea is narrower than 80 px.

and, so that every page uses the one set of form and toolbar templates (issue 20, item 6):

* a number, date or time input not styled like the text inputs (solid border, padding);
* a checkbox whose label sits above it instead of beside it;
* at 1280 px, a Reset or Cancel not on the row of its form's main button;
* at 1280 px, a table toolbar whose items form more than two groups (an action floating in
  the middle), or a table wider than its box (it must fit, not scroll, on a laptop);
* a heading or window title that says the same words twice ("Licenses · Licenses");
* a link or button whose only text is an arrow (a back link must say where it leads).

The 403, 404, CSRF-failure and 500 pages are rendered in the browser too, in the product's
shell with a way home. See docs/development/layout-checks.md.
"""

import re

import pytest

from tests.e2e.harness import DESKTOP, NARROW, PASSWORD, login, shoot
from tests.e2e.test_e2e_pages import _name, main_pages

pytestmark = [pytest.mark.live, pytest.mark.e2e]

MIN_INPUT_WIDTH = 80

# Accounts in each state that has its own row actions: Register (pending registration),
# Re-register and Activate (deactivated), Approve and register / Reject (requested).
LAYOUT_ACCOUNTS = """
from licensing.models import LocalAccount
for name, status in {accounts!r}.items():
    LocalAccount.objects.get_or_create(name=name, defaults=dict(
        status=status, cisco_smart_account="layout.example", cisco_virtual_account="Layout " + status,
        description="An account kept in this state for the layout checks", requester_email="layout@example.com",
        message_to_creator="Please create this account for the layout checks of the browser suite."))
print("accounts ok")
"""
ACCOUNTS = {
    "Layout Pending": "pending_registration",
    "Layout Deactivated": "deactivated",
    "Layout Requested": "requested",
}

# What the browser measures; returns the problems found on the page as text.
MEASURE = """
([checkOutside, minWidth]) => {
  const root = document.documentElement;
  const vw = root.clientWidth;
  const problems = [];
  if (checkOutside && root.scrollWidth - vw > 2) {
    problems.push(`the page is ${root.scrollWidth - vw}px wider than the ${vw}px window`);
  }
  const textual = 'input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=submit])' +
    ':not([type=button]):not([type=reset]):not([type=image]):not([type=range]):not([type=color]), select, textarea';
  const describe = (el) => {
    const label = (el.labels && el.labels[0] && el.labels[0].textContent.trim()) || el.getAttribute('aria-label')
      || el.name || el.textContent.trim() || el.id;
    return `${el.tagName.toLowerCase()}${el.type ? '[' + el.type + ']' : ''} "${(label || '').slice(0, 40)}"`;
  };
  for (const el of document.querySelectorAll('input, select, textarea, button')) {
    if (el.type === 'hidden') continue;
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    // Not shown: display none (no box), visibility hidden, or visually hidden on purpose.
    if (r.width <= 1 || r.height <= 1 || style.visibility === 'hidden') continue;
    if (el.closest('.sr-only, .lw-visually-hidden')) continue;
    if (el.matches(textual) && r.width < minWidth) {
      problems.push(`${describe(el)} is ${Math.round(r.width)}px wide (less than ${minWidth}px)`);
    }
    if (checkOutside && (r.left < -1 || r.right > vw + 1)) {
      const where = `x = ${Math.round(r.left)}-${Math.round(r.right)}, window ${vw}px`;
      problems.push(`${describe(el)} sits outside the window (${where})`);
    }
  }
  const shown = (el) => {
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1 && getComputedStyle(el).visibility !== 'hidden'
      && !el.closest('.sr-only, .lw-visually-hidden');
  };
  const words = (el) => (el.innerText || el.textContent || '').replace(/\\s+/g, ' ').trim();
  // Number, date and time inputs look like the text inputs: a solid border and room inside.
  const dated = 'input[type=number], input[type=date], input[type=time], input[type=datetime-local]';
  for (const el of document.querySelectorAll(dated)) {
    if (!shown(el)) continue;
    const style = getComputedStyle(el);
    if (style.borderTopStyle !== 'solid' || parseFloat(style.paddingLeft) < 6
        || parseFloat(style.borderTopLeftRadius) < 2) {
      problems.push(`${describe(el)} is not styled like the text inputs `
        + `(border ${style.borderTopStyle}, padding ${style.paddingLeft})`);
    }
  }
  // A checkbox's label is beside it, not above it.
  for (const el of document.querySelectorAll('input[type=checkbox]')) {
    if (!shown(el) || !el.labels || !el.labels.length) continue;
    const box = el.getBoundingClientRect();
    const label = el.labels[0].getBoundingClientRect();
    if (label.bottom <= box.top + 1) problems.push(`the label of ${describe(el)} sits above its checkbox`);
  }
  if (checkOutside) {
    // Reset and Cancel sit on the row of the form's main button.
    const main = 'button[type=submit]:not(.secondary):not(.link), button:not([type]):not(.secondary):not(.link)';
    const primaries = Array.from(document.querySelectorAll(main)).filter(shown).map((b) => b.getBoundingClientRect());
    for (const el of document.querySelectorAll('button, a.btn')) {
      if (!shown(el) || !/^(Reset|Cancel)$/.test(words(el))) continue;
      const r = el.getBoundingClientRect();
      if (!primaries.some((q) => Math.abs(q.top - r.top) < 6 && Math.abs(q.left - r.left) < 500)) {
        problems.push(`"${words(el)}" is not on the row of its form's main button`);
      }
    }
    // A table toolbar: the search at the start, the actions together at the end; nothing in between.
    for (const bar of document.querySelectorAll('.table-tools')) {
      if (!shown(bar)) continue;
      const rows = {};
      for (const child of Array.from(bar.children).filter(shown)) {
        const r = child.getBoundingClientRect();
        const key = Math.round(r.top / 8);
        (rows[key] = rows[key] || []).push(r);
      }
      for (const row of Object.values(rows)) {
        row.sort((a, b) => a.left - b.left);
        let gaps = 0;
        for (let i = 1; i < row.length; i++) if (row[i].left - row[i - 1].right > 48) gaps++;
        if (gaps > 1) {
          problems.push(`a toolbar has ${gaps + 1} groups (one floats mid-toolbar): "${words(bar).slice(0, 50)}"`);
        }
      }
    }
    // A table fits the page at 1280 px instead of scrolling inside its box.
    for (const table of document.querySelectorAll('main table')) {
      if (!shown(table)) continue;
      let box = table.parentElement;
      while (box && box !== document.body && !/(auto|scroll)/.test(getComputedStyle(box).overflowX)) {
        box = box.parentElement;
      }
      const over = box && box !== document.body ? box.scrollWidth - box.clientWidth : 0;
      if (over > 2) problems.push(`a table is ${over}px wider than its box ("${words(table).slice(0, 40)}")`);
    }
  }
  // No heading or title says the same thing twice ("Licenses · Licenses").
  const headings = Array.from(document.querySelectorAll('h1, h2, h3')).filter(shown).map(words);
  for (const text of [document.title, ...headings]) {
    const parts = text.split('·').map((t) => t.trim().toLowerCase()).filter(Boolean);
    for (let i = 1; i < parts.length; i++) {
      if (parts[i] === parts[i - 1]) problems.push(`"${text}" says "${parts[i]}" twice`);
    }
  }
  // A link or button says what it does: never only an arrow.
  for (const el of document.querySelectorAll('a, button')) {
    const text = words(el);
    if (shown(el) && /^[←→‹›«»<>]+$/.test(text)) problems.push(`a ${el.tagName.toLowerCase()} says only "${text}"`);
  }
  return problems;
}
"""


def open_every_details(page):
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")


def layout_problems(page, viewport):
    return page.evaluate(MEASURE, [viewport is DESKTOP, MIN_INPUT_WIDTH])


def form_pages(page, pages):
    """The form pages the main pages' toolbars and rows link to (New ..., Manual Registration)."""
    found = []
    for _, path in pages:
        page.goto(path)
        hrefs = page.eval_on_selector_all("main a[href]", "els => els.map(e => e.getAttribute('href'))")
        for href in hrefs:
            href = href.split("?")[0]
            if re.search(r"/(new|create|add)/$|/manual-registration/$", href) and href not in found:
                found.append(href)
    return found


def report_results(account):
    """Each report run over everything, named as the report itself (the name its heading shows)."""
    runs = {"licenses": "Licenses", "subscriptions": "License Subscriptions", "product_instances": "Product Instances"}
    query = "run=1&va_scope=all&license_scope=all&subscription_status=all&name="
    return [f"/accounts/{account}/reports/{kind}/?{query}{name.replace(' ', '+')}" for kind, name in runs.items()]


@pytest.fixture(scope="module")
def layout_accounts(server):
    assert "accounts ok" in server.shell(LAYOUT_ACCOUNTS.format(accounts=ACCOUNTS))


@pytest.mark.parametrize("viewport", [DESKTOP, NARROW], ids=["1280", "390"])
def test_every_page_fits_the_window_with_its_forms_open(server, new_page, layout_accounts, viewport):
    page = login(new_page(viewport=viewport), "e2e-admin")
    pages = main_pages(page)
    account = int(re.search(r"/accounts/(\d+)/", next(p for _, p in pages if p.startswith("/accounts/"))).group(1))
    extra = form_pages(page, pages) + report_results(account)
    # The Register form of an account waiting for registration is what issue 20 found off the screen.
    assert any(p.endswith("/manual-registration/") for p in extra), extra
    pages += [(_name(path.split("?")[0], account) + "-form", path) for path in extra]
    failures = []
    for name, path in pages:
        response = page.goto(path)
        assert response.status == 200, (path, response.status)
        page.wait_for_load_state("networkidle")
        open_every_details(page)
        if path.startswith("/admin/accounts/"):
            shoot(page, f"layout-{name}")
        problems = layout_problems(page, viewport)
        if problems:
            failures.append(f"{path}:\n    " + "\n    ".join(problems[:8]))
    assert not failures, f"{len(failures)} pages do not fit {viewport['width']}px:\n" + "\n".join(failures)


@pytest.mark.parametrize("viewport", [DESKTOP, NARROW], ids=["1280", "390"])
def test_register_form_is_on_the_screen_and_usable(server, new_page, layout_accounts, viewport):
    """Admin > Accounts > Register: the CCO ID and password inputs are on screen, wide enough to type in."""
    page = login(new_page(viewport=viewport), "e2e-admin")
    page.goto("/admin/accounts/?q=Layout+Pending")
    page.locator("td.row-actions summary").filter(has_text=re.compile(r"^Register\b")).click()
    user = page.get_by_label("Cisco CCO ID")
    password = page.get_by_label("Password", exact=True)
    for field in (user, password):
        field.scroll_into_view_if_needed()
        box = field.bounding_box()
        assert box["width"] >= 160, box
        assert 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"], box
    user.fill("someone@example.com")
    password.fill(PASSWORD)
    shoot(page, "admin-accounts-register")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"] + 2 or viewport is NARROW


def test_error_pages_in_the_browser(server, new_page):
    page = new_page()
    # 404, signed out: the shell, a heading and a way home.
    response = page.goto("/no-such-page/")
    assert response.status == 404
    _check_error_page(page, "Page not found")
    shoot(page, "error-404-signed-out")
    login(page, "e2e-admin")
    response = page.goto("/admin/no-such-widget/")
    assert response.status == 404
    _check_error_page(page, "Page not found")
    assert page.locator("nav.workspaces").count() == 1, "a signed-in user keeps the workspace links"
    shoot(page, "error-404")

    # 403: a System User opens the Administration workspace.
    user_page = login(new_page(), "e2e-user")
    response = user_page.goto("/admin/")
    assert response.status == 403
    _check_error_page(user_page, "Access denied")
    shoot(user_page, "error-403")

    # 403, CSRF: the logon form sent with a token that is not the cookie's.
    csrf_page = new_page()
    csrf_page.goto("/login/")
    csrf_page.evaluate("document.querySelector('input[name=csrfmiddlewaretoken]').value = 'x'.repeat(64)")
    csrf_page.get_by_label("Username").fill("e2e-admin")
    csrf_page.get_by_label("Password").fill(PASSWORD)
    with csrf_page.expect_navigation() as navigation:
        csrf_page.get_by_role("button", name="Log In", exact=True).click()
    assert navigation.value.status == 403
    _check_error_page(csrf_page, "The form could not be sent")
    shoot(csrf_page, "error-403-csrf")

    # 500: the page the server's handler renders (no view on the server fails on purpose), served
    # from the server's own address so it loads the real stylesheet.
    html = server.shell(
        "from django.test import RequestFactory\n"
        "from core.error_views import server_error\n"
        "request = RequestFactory().get('/')\nrequest.request_id = 'e2e-request-id-500'\n"
        "print(server_error(request).content.decode())"
    )
    html = html[html.index("<!DOCTYPE html>") :]  # after what `manage.py shell` itself prints
    error_page = new_page()
    error_page.route(
        re.compile(r".*/e2e-server-error/$"),
        lambda route: route.fulfill(status=500, content_type="text/html; charset=utf-8", body=html),
    )
    response = error_page.goto("/e2e-server-error/")
    assert response.status == 500
    _check_error_page(error_page, "Something went wrong")
    assert "e2e-request-id-500" in error_page.locator("main").inner_text()
    shoot(error_page, "error-500")


def _check_error_page(page, heading):
    assert page.locator("header.topbar .brand").inner_text().strip(), "no product name in the top bar"
    assert page.get_by_role("heading", level=1).inner_text().strip() == heading
    home = page.locator("main a[href='/']")
    assert home.count() >= 1, "no link home"
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != "rgba(0, 0, 0, 0)", "no stylesheet"
    for viewport in (DESKTOP, NARROW):
        page.set_viewport_size(viewport)
        assert not layout_problems(page, viewport)
    page.set_viewport_size(DESKTOP)


def test_licensing_tab_bar_and_home_tiles(server, new_page):
    """Manage Account is in the Licensing tab bar; every home page tile says what it opens."""
    page = login(new_page(), "e2e-admin")
    page.goto("/")
    assert "Manage Account" in page.locator("nav.lw-section-tabs a").all_inner_texts()
    for section in ("lw-smart-licensing", "lw-administration"):
        tiles = page.locator(f"section[aria-labelledby={section}] .lw-links li")
        assert tiles.count() >= 2, section
        for tile in tiles.all():
            title = tile.locator("a").inner_text().strip()
            assert len(tile.locator(".help").inner_text().strip()) > 20, f"the {title} tile has no description"
    page.locator("nav.lw-section-tabs a", has_text="Manage Account").click()
    page.wait_for_load_state()
    assert page.locator("nav.lw-section-tabs a[aria-current=page]").inner_text().strip() == "Manage Account"
    assert page.get_by_role("heading", level=1).inner_text().startswith("Manage Account")

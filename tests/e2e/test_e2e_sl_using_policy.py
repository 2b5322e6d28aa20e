"""Inventory > General's CSLU Transport URL pop-up and Inventory > SL Using Policy, in Chromium.

The URL is taken from the pop-up (copied with its Copy button, read back from the clipboard)
and a simulated SLP device pushes a usage report to exactly that URL on the running server:
the product instance then shows on the SL Using Policy tab with "Usage report from product
instance" and the Utility mode flag, and its report is marked for the next synchronization.
"""

import json
import re

import pytest
import requests

from tests.devices.devicesim import Device, make_csr, rum
from tests.e2e.harness import account_id, login, messages, shoot, table_row

pytestmark = [pytest.mark.live, pytest.mark.e2e]


class _Http:
    """What devicesim.Device needs of a client (``post``), over HTTPS to the running server."""

    def __init__(self, cert):
        self.cert = cert

    def post(self, url, data, content_type, **_environ):
        return requests.post(url, data=data, headers={"Content-Type": content_type}, verify=self.cert, timeout=30)


def _push(server, url, serial, **extra):
    device = Device(_Http(str(server.cert)), serial)
    envelope = device.envelope(
        "REPORT_USAGE",
        device.payload(csr=make_csr(device.key), reports=[rum(device.key, "e2e-1", [], **extra)]),
    )
    response = device.post(envelope, url)
    assert response.status_code == 200, response.text[:500]
    reply = json.loads(json.loads(response.content)["payload"])
    assert reply["status"] == "SUCCESS", reply
    return reply


def test_cslu_transport_url_pop_up_and_the_sl_using_policy_tab(server, new_page):
    page = login(new_page(permissions=["clipboard-read", "clipboard-write"]), "e2e-admin")
    account = account_id(page)
    page.goto(f"/accounts/{account}/inventory/")
    opener = page.get_by_role("button", name="CSLU Transport URL")
    opener.focus()
    page.keyboard.press("Enter")  # keyboard-usable: Enter opens it
    dialog = page.get_by_role("dialog", name="Product Registration URL")
    dialog.wait_for(state="visible")
    field = dialog.get_by_label("CSLU Transport URL")
    url = field.input_value()
    assert re.fullmatch(rf"{re.escape(server.url)}/cslu/v1/pi/.+-{account}", url), url
    shoot(page, "inventory-general-cslu-transport-url")
    dialog.get_by_role("button", name="Copy", exact=True).click()
    dialog.get_by_role("status").filter(has_text="Copied to the clipboard.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == url
    page.keyboard.press("Escape")  # Escape closes it, focus goes back to the button
    dialog.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.textContent.trim()") == "CSLU Transport URL"

    serial = "E2E-SLP-UTILITY"
    _push(server, url, serial, utility_mode=True)

    page.get_by_role("link", name="SL Using Policy", exact=True).click()
    page.wait_for_url("**/inventory/sl-using-policy/**")
    row = table_row(page, f"UDI_SN:{serial}")
    text = row.inner_text()
    assert "Usage report from product instance" in text and "Utility mode" in text, text
    assert "1 pending" in text, text
    shoot(page, "inventory-sl-using-policy")

    with page.expect_navigation():
        page.get_by_role("button", name="Synchronize usage information with CSSM").click()
    assert "will be sent to Cisco Smart Software Manager in the next synchronization" in messages(page)
    page.get_by_role("link", name="Usage Reports", exact=True).click()
    page.wait_for_url("**view=reports**")
    report = page.locator("table.data tbody tr").filter(has_text=serial).first.inner_text()
    assert "e2e-1" in report and "Pending" in report and "requested" in report, report
    shoot(page, "inventory-sl-using-policy-reports")

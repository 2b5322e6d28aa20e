"""Third Party Keys on a product instance's page, in real headless Chromium (docs/e2e.md).

Everything on the real path: a local account registered with the CSSM emulator (the Cisco
virtual account "Production", which holds ISR 4331 Unified Communications), a key CSSM grants
for that license (``cssm_emulator --grant-third-party-key``), the synchronization that brings it
(``manage.py cssm sync``), a device registered with a token of that account that asks for the
keys with GET_THIRD_PARTY_KEY (``python -m smart_agent third-party-keys``); then what a person
sees on Inventory > Product Instances > the instance: the Third Party Keys table (service,
license, key id, expiry, when received) and never the key itself.
"""

import json
import re
import subprocess
import sys

import pytest

from bench.harness import ROOT
from tests.e2e.harness import choose_virtual_account, login, messages, shoot, table_row
from tests.e2e.test_e2e_flows import CCO_PASSWORD, CCO_USER, CSSM_SMART_ACCOUNT, _request_account

pytestmark = [pytest.mark.live, pytest.mark.e2e]

ACCOUNT = "E2E TPL"
UC_TAG = "regid.2014-12.com.cisco.ISR_4331_UCK9,1.0_2c7f0d5b-8e4a-4f1c-9b2d-6a3e5f7c8d10"
SECRET = "e2e-TPL-secret-7f3c9a1d0b5e4c2a"
SERVICE = "Speech View"

FACTS = """
import json
from licensing.models import LocalAccount
from sync.models import AccountSync
account = LocalAccount.objects.get(name={name!r})
print(json.dumps({{"account": account.pk, "uid": AccountSync.objects.get(account=account).uid}}))
"""

TOKEN = """
from accounts.models import User
from licensing.models import Entitlement, LocalAccount
from licensing.services import tokens
account = LocalAccount.objects.get(name={name!r})
line = Entitlement.objects.filter(virtual_account__account=account, license__entitlement_tag={tag!r}).first()
token = tokens.create_token(actor=User.objects.get(username="e2e-admin"), virtual_account=line.virtual_account,
                            description="e2e tpl", max_uses=5)
print(line.virtual_account.name)
print(token.token)
"""


def _register(server, new_page):
    user = login(new_page(), "e2e-user")
    _request_account(user, ACCOUNT, CSSM_SMART_ACCOUNT, "Production")
    admin = login(new_page(), "e2e-admin")
    admin.goto("/admin/accounts/requests/")
    row = table_row(admin, ACCOUNT)
    row.locator("summary", has_text="Approve and register").click()
    row.get_by_label("Cisco CCO ID").fill(CCO_USER)
    row.get_by_label("Password").fill(CCO_PASSWORD)
    with admin.expect_navigation():
        row.get_by_role("button", name=f"Submit {ACCOUNT}").click()
    assert "is registered as Active" in messages(admin), messages(admin)
    return admin


def _agent(server, state_dir, *args):
    done = subprocess.run(
        [sys.executable, "-m", "smart_agent", "--state-dir", str(state_dir), "--ca-file", str(server.cert), *args],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def test_third_party_keys_from_cssm_reach_the_device_and_show_on_its_page(server, new_page, tmp_path):
    if server.cssm_problem:
        pytest.skip(f"the CSSM emulator is not available: {server.cssm_problem}")
    admin = _register(server, new_page)
    facts = json.loads(server.shell(FACTS.format(name=ACCOUNT)).strip().splitlines()[-1])
    granted = server.manage(
        "cssm_emulator",
        "--state-dir",
        str(server.cssm.state_dir),
        "--grant-third-party-key",
        facts["uid"],
        UC_TAG,
        "--service",
        SERVICE,
        "--key",
        SECRET,
        "--key-expires",
        "2099-12-31",
    ).stdout
    key_id = re.search(r"[0-9a-f]{8}-[0-9a-f-]{27}", granted).group(0)
    server.manage("cssm", "sync", ACCOUNT)

    va_name, token = server.shell(TOKEN.format(name=ACCOUNT, tag=UC_TAG)).strip().splitlines()[-2:]
    device = tmp_path / "isr"
    _agent(
        server,
        device,
        "--server",
        server.url,
        "--pid",
        "ISR4331/K9",
        "--serial",
        "FDO2213E2ET",
        "--hostname",
        "isr-e2e-tpl",
        "register",
        "--token",
        token,
    )
    said = _agent(server, device, "third-party-keys")
    assert f"{SERVICE}: key {key_id} for {UC_TAG}" in said, said
    assert SECRET not in said  # the key goes to the state directory's file, not the screen
    assert json.loads((device / "third_party_keys.json").read_text())  # and it is there

    page = admin
    page.goto(f"/accounts/{facts['account']}/inventory/")
    va = choose_virtual_account(page, va_name)
    page.goto(f"/accounts/{facts['account']}/inventory/product-instances/?va={va}&q=isr-e2e-tpl")
    with page.expect_navigation():
        page.locator("table.data tbody tr").filter(has_text="isr-e2e-tpl").first.get_by_role("link").first.click()
    page.get_by_role("heading", name="Third Party Keys", exact=True).wait_for()
    rows = page.locator("table.dt-tpl tbody tr")
    assert rows.count() == 1
    cells = [c.strip() for c in rows.first.locator("td").all_inner_texts()]
    assert cells[:4] == [SERVICE, UC_TAG, key_id, "2099-12-31"], cells
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", cells[4]), cells
    # The key itself is never on the page: not in the text, not in the HTML.
    assert SECRET not in page.content()
    shoot(page, "inventory-product-instance-third-party-keys")
    # The delivery is in the instance's Event Log, in the guide's words.
    page.goto(f"/accounts/{facts['account']}/inventory/event-log/?va={va}")
    assert "connected and received third party keys" in page.locator("main").inner_text()

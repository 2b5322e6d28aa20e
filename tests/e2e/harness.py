"""End-to-end harness: one real `manage.py serve` per session, driven by real headless Chromium.

The server runs the way `make run` runs it (migrate, ensure_admin, serve: gunicorn over HTTPS,
a Celery worker and beat) in a private ONPREM_DATA_DIR on a port of its own, seeded with
`manage.py seed_demo`. The browser is Debian's /usr/bin/chromium driven by Playwright's
Python package: nothing is downloaded at test time. See docs/e2e.md.
"""

import json
import os
import re
from pathlib import Path

from bench.harness import ROOT, Installation, ProcessError, cssm_emulator
from tests import ports

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", ROOT / "artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
# Every user the fixture creates by hand gets this password (it satisfies the default policy).
PASSWORD = "E2e-Passw0rd!x"
DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}


def browser_missing():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver; bin/system-deps test)"
    return None


class Server(Installation):
    """The installation under test (bench/harness.py), and Python run inside its Django."""

    def __init__(self, root):
        super().__init__(root, port=ports.claim_port(ports.E2E, reuse=False))

    def shell(self, code):
        """Run Python inside the server's Django (its database, its keys); returns what it printed."""
        return self.manage("shell", "-c", code).stdout


# Users made next to seed_demo's: name -> system role. All have finished the first-login wizard.
E2E_USERS = {"e2e-admin": "ADMIN", "e2e-operator": "OPERATOR", "e2e-user": "USER", "e2e-ja": "USER"}

CREATE_USERS = """
from accounts.models import User, SystemRole
for name, role in {users!r}.items():
    user = User(username=name, system_role=getattr(SystemRole, role), needs_first_login_wizard=False,
                email=name + "@example.com", first_name=name.split("-")[1].title(), last_name="E2E")
    user.set_password({password!r})
    user.save()
# The demo users' random passwords are replaced by a known one; they keep their wizard pending.
for name in ("demo-admin", "demo-va-user"):
    user = User.objects.get(username=name)
    user.set_password({password!r})
    user.needs_first_login_wizard = False
    user.save()
print("users ok")
"""


class Emulator:
    """The CSSM emulator (`manage.py cssm_emulator`) as its own process: the server registers with it."""

    def __init__(self, root, env):
        self.state_dir = root / "cssm"
        self.port = ports.claim_port(ports.E2E, reuse=False)
        self.url = f"https://127.0.0.1:{self.port}"
        self.log = root / "cssm.out"
        self.env = env
        self.process = None
        self.problem = None

    def start(self):
        """True once it listens; False (with the reason in .problem) otherwise."""
        try:
            self.process = cssm_emulator(self.state_dir, port=self.port, env=self.env, log=self.log)
        except ProcessError as error:
            self.problem = str(error)[-1500:]
            return False
        return True

    def page(self):
        """Its status page (smart accounts and the On-Prems registered with them)."""
        import ssl
        import urllib.request

        context = ssl.create_default_context(cafile=str(self.state_dir / "tls" / "server.crt"))
        with urllib.request.urlopen(f"{self.url}/", context=context, timeout=10) as answer:
            return answer.read().decode("utf-8")

    def stop(self):
        if self.process is not None:
            self.process.stop()


def spki_pin(cert_file):
    """base64(SHA-256(SubjectPublicKeyInfo)) of a PEM certificate: Chromium's pin format."""
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_pem_x509_certificate(Path(cert_file).read_bytes()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def login(page, username, password=PASSWORD):
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log In", exact=True).click()
    assert "/login/" not in page.url, page.locator("main").inner_text()
    return page


def shoot(page, name):
    """Save a full-page screenshot as artifacts/screenshots/<name>-<width>.png and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}-{page.viewport_size['width']}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


BLOCKING = ("serious", "critical")


def axe_violations(page):
    """Run axe-core (bundled with axe-playwright-python, no download) on the page: every violation."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page).response["violations"]


def blocking(violations):
    return [v for v in violations if v.get("impact") in BLOCKING]


def describe(violations):
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']}: {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node.get('failureSummary', '')[:200]}")
    return "\n".join(lines)


def save_json(name, data):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / name).write_text(json.dumps(data, indent=2, default=str))


def account_id(page):
    """The id of the local account the Licensing workspace opens for the signed-in user."""
    page.goto("/")
    match = re.search(r"/accounts/(\d+)/", page.url)
    assert match, f"the Licensing workspace did not open an account: {page.url}"
    return int(match.group(1))


def choose_virtual_account(page, name):
    """Inventory: show the named local virtual account (the chooser above the tabs)."""
    chooser = page.get_by_label("Local Virtual Account", exact=True)
    value = chooser.locator("option", has_text=re.compile(rf"^{re.escape(name)}( ★)?$")).get_attribute("value")
    chooser.select_option(value)
    with page.expect_navigation():
        page.get_by_role("button", name="Show", exact=True).click()
    return int(value)


def item_count(page):
    """The "(N items)" of the pagination line under a list."""
    text = page.locator(".pagination").first.inner_text()
    match = re.search(r"\((\d+) items?\)", text)
    assert match, text
    return int(match.group(1))


def table_row(page, first_cell_text):
    """The row of ``table.data`` whose first cell starts with the text (a link or plain)."""
    rows = page.locator("table.data tbody tr").filter(
        has=page.locator("td:first-child, th:first-child", has_text=first_cell_text)
    )
    assert rows.count() >= 1, f"no row for {first_cell_text!r}"
    return rows.first


def number(text):
    """'+4' / '−3' / '12' -> int."""
    return int(text.strip().replace("−", "-").replace("+", "") or 0)


def messages(page):
    return page.locator(".messages").inner_text() if page.locator(".messages").count() else ""

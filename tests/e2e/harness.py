"""End-to-end harness: one real `manage.py serve` per session, driven by real headless Chromium.

The server runs the way `make run` runs it (migrate, ensure_admin, serve: gunicorn over HTTPS,
a Celery worker and beat) in a private ONPREM_DATA_DIR on a port of its own, seeded with
`manage.py seed_demo`. The browser is Debian's /usr/bin/chromium driven by Playwright's
Python package: nothing is downloaded at test time. See docs/e2e.md.
"""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from onprem.management.commands.serve import _descendants
from ports import claim_port_or_any

BASE_DIR = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(BASE_DIR / "manage.py")]
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS", BASE_DIR / "artifacts"))
SCREENSHOTS = ARTIFACTS / "screenshots"
# Every user the fixture creates by hand gets this password (it satisfies the default policy).
PASSWORD = "E2e-Passw0rd!x"
DESKTOP = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}
# Settings the fixture controls: nothing of the caller's configuration may leak into the server.
CONTROLLED = {
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
    "CELERY_TASK_ALWAYS_EAGER", "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS", "DB_CONN_MAX_AGE", "LOG_LEVEL", "DJANGO_SETTINGS_MODULE",
}
# Ports this suite may bind (the task's range); the first free one is used.
PORT_RANGE = range(19000, 19100)


def browser_missing():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install -e '.[test]')"
    if not Path(CHROMIUM).exists():
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver; bin/system-deps test)"
    return None


def free_port():
    """A free loopback port of the range, never the same twice in one run (the server binds later),
    locked for this process (tests/ports.py); any free port when the range is used up."""
    return claim_port_or_any(PORT_RANGE, reuse=False)


class Server:
    """One installation: the manage.py commands, the `serve` process group and what it printed."""

    def __init__(self, root):
        self.root = root
        self.data_dir = root / "data"
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in CONTROLLED and not k.startswith("ONPREM_")}
        env.update(
            DJANGO_SETTINGS_MODULE="onprem.settings",
            ONPREM_DATA_DIR=str(self.data_dir),
            ONPREM_PORT=str(self.port),
            ONPREM_BIND=f"127.0.0.1:{self.port}",
            ONPREM_WEB_WORKERS="2",
            ONPREM_CELERY_CONCURRENCY="1",
            PYTHONUNBUFFERED="1",
        )
        self.env = env
        self.url = f"https://localhost:{self.port}"
        self.cert = self.data_dir / "tls" / "server.crt"
        self.log = root / "serve.out"
        self.proc = None
        self.output = None

    def manage(self, *args, timeout=300):
        done = subprocess.run([*MANAGE, *args], cwd=BASE_DIR, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        assert done.returncode == 0, f"manage.py {' '.join(args[:2])}: {done.stdout}\n{done.stderr}"
        return done.stdout

    def shell(self, code):
        """Run Python inside the server's Django (its database, its keys); returns what it printed."""
        return self.manage("shell", "-c", code)

    def start(self):
        self.output = open(self.log, "w")
        self.proc = subprocess.Popen([*MANAGE, "serve"], cwd=BASE_DIR, env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.output, stderr=subprocess.STDOUT, start_new_session=True)

    def printed(self):
        return self.log.read_text() if self.log.exists() else ""

    def wait_until_up(self, timeout=60):
        import ssl
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"serve exited with {self.proc.returncode}:\n{self.printed()}"
            if self.cert.exists():
                context = ssl.create_default_context(cafile=str(self.cert))
                try:
                    with urllib.request.urlopen(f"{self.url}/readyz", context=context, timeout=5) as answer:
                        if answer.status == 200:
                            return
                except ssl.SSLCertVerificationError:
                    raise
                except OSError:
                    pass
            time.sleep(0.3)
        pytest.fail(f"the server did not answer within {timeout} s:\n{self.printed()}")

    def stop(self):
        if self.proc is None:
            return
        family = _descendants(self.proc.pid)
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        for pid in [self.proc.pid, *family]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        if self.output:
            self.output.close()


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
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.log = root / "cssm.out"
        self.output = open(self.log, "w")
        self.proc = subprocess.Popen(
            [*MANAGE, "cssm_emulator", "--host", "127.0.0.1", "--port", str(self.port),
             "--state-dir", str(self.state_dir)],
            cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=self.output, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_until_up(self, timeout=60):
        """True once it prints that it listens; False (with the reason in .problem) otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log.read_text()
            if "listening on" in text:
                return True
            if self.proc.poll() is not None:
                self.problem = f"manage.py cssm_emulator exited with {self.proc.returncode}: {text[-1500:]}"
                return False
            time.sleep(0.3)
        self.problem = f"manage.py cssm_emulator did not listen within {timeout} s: {self.log.read_text()[-1500:]}"
        return False

    def page(self):
        """Its status page (smart accounts and the On-Prems registered with them)."""
        import ssl
        import urllib.request

        context = ssl.create_default_context(cafile=str(self.state_dir / "tls" / "server.crt"))
        with urllib.request.urlopen(f"{self.url}/", context=context, timeout=10) as answer:
            return answer.read().decode("utf-8")

    def stop(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self.output.close()


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
        has=page.locator("td:first-child, th:first-child", has_text=first_cell_text))
    assert rows.count() >= 1, f"no row for {first_cell_text!r}"
    return rows.first


def number(text):
    """'+4' / '−3' / '12' -> int."""
    return int(text.strip().replace("−", "-").replace("+", "") or 0)


def messages(page):
    return page.locator(".messages").inner_text() if page.locator(".messages").count() else ""

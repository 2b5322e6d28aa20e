"""End-to-end fixtures (the harness is tests/e2e/harness.py; see docs/e2e.md)."""

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.harness import (
    ARTIFACTS,
    CHROMIUM,
    CREATE_USERS,
    DESKTOP,
    E2E_USERS,
    PASSWORD,
    Emulator,
    Server,
    browser_missing,
    login,
    spki_pin,
)


def pytest_configure(config):
    config.addinivalue_line("markers", "e2e: drives the real server with real headless Chromium")


def pytest_collection_modifyitems(config, items):
    missing = browser_missing()
    # CI installs the browser (bin/system-deps test): there a missing browser fails every test.
    if not missing or os.environ.get("CI"):
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.skip(reason=missing))


# What the last e2e test ends: the server processes must not idle on through the rest of the suite.
_finishers = []


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    here = Path(__file__).parent
    # With no next test the session's own teardown (already run) ended everything.
    if nextitem is not None and here not in Path(str(nextitem.fspath)).parents:
        if here in Path(str(item.fspath)).parents:
            while _finishers:
                _finishers.pop()()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e-server")
    server = Server(root)
    # The CSSM emulator first: the server is pointed at it (URL, TLS certificate, root CA) at start.
    server.cssm = Emulator(root, server.env)
    server.cssm_problem = None
    finished = []

    def finish():
        if finished:
            return
        finished.append(True)
        server.stop()
        server.cssm.stop()
        # Keep the server's logs with the screenshots: they explain a failure in CI.
        logs = ARTIFACTS / "server-logs"
        shutil.rmtree(logs, ignore_errors=True)
        if (server.data_dir / "logs").exists():
            shutil.copytree(server.data_dir / "logs", logs)
        if server.log.exists():
            logs.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.log, logs / "serve.out")
            shutil.copy(server.cssm.log, logs / "cssm-emulator.out")

    _finishers.append(finish)
    try:
        if server.cssm.start():
            server.env.update(
                ONPREM_CSSM_URL=server.cssm.url,
                ONPREM_CSSM_CA_FILE=str(server.cssm.state_dir / "tls" / "server.crt"),
                ONPREM_CSSM_ROOT_FILE=str(server.cssm.state_dir / "ca" / "root.crt"),
            )
        else:
            server.cssm_problem = server.cssm.problem
        server.manage("migrate", "--noinput")
        found = re.findall(r"password: (\S+)", server.manage("ensure_admin").stdout)
        assert len(found) == 1
        server.admin_password = found[0]
        seeded = server.manage("seed_demo", "--product-instances", "60", "--with-users", "--seed", "7").stdout
        assert "Done in" in seeded, seeded
        assert "users ok" in server.shell(CREATE_USERS.format(users=E2E_USERS, password=PASSWORD))
        server.start()
        server.wait_until_up(path="/readyz")
        yield server
    finally:
        finish()


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    # Chromium trusts exactly the server's own key (its self-signed certificate), nothing else:
    # Playwright's ignore_https_errors does not cover downloads, which Chromium then cancels.
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-dev-shm-usage",
            f"--ignore-certificate-errors-spki-list={spki_pin(server.cert)}",
        ],
    )
    stopped = []

    def stop():
        # Playwright's sync API keeps an event loop in this thread until it is stopped: the
        # in-process tests after the browser tests (same xdist worker) would find Django's ORM
        # refusing to run "from an async context".
        if stopped:
            return
        stopped.append(True)
        if browser.is_connected():
            browser.close()
        playwright.stop()

    _finishers.insert(0, stop)  # stopped after the server's processes are gone
    try:
        yield browser
    finally:
        stop()


@pytest.fixture
def new_page(browser, server):
    """new_page(viewport=NARROW) -> a page in a fresh browser context (own cookies) on the server."""
    contexts = []

    def make(viewport=DESKTOP, **options):
        context = browser.new_context(base_url=server.url, viewport=viewport, accept_downloads=True, **options)
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture
def admin_page(page):
    return login(page, "e2e-admin")

"""The High Availability Status widget in real headless Chromium, on a web node whose database is a
real pg_auto_failover cluster (tests/ha/cluster.py: a monitor and two nodes on loopback): normal,
then a kill -9 of the primary (the node follows the promotion through its multi-host
DATABASE_URL, the widget turns critical, beat copies the failover into the Event Log tab), then the
old primary rejoins and the widget is normal again. Screenshots: admin-ha-cluster and
admin-ha-events (docs/operations-widgets.md keeps copies). See docs/e2e.md.

Its own server (not the session's): the node's DATABASE_URL and ONPREM_HA_MONITOR_URL are the
cluster's, set before it starts.
"""

import re
import time

import pytest

from bench.harness import Installation
from tests import ports
from tests.e2e.harness import DESKTOP, PASSWORD, axe_violations, blocking, describe, login, shoot
from tests.ha.cluster import FAST_FAILOVER, PgAutoFailoverCluster

pytestmark = [pytest.mark.live, pytest.mark.e2e, pytest.mark.faults]


MAKE_ADMIN = f"""
from accounts.models import SystemRole, User
user = User(username="e2e-admin", system_role=SystemRole.ADMIN, needs_first_login_wizard=False,
            email="e2e-admin@example.com")
user.set_password({PASSWORD!r})
user.save()
print("admin ok")
"""


class ClusterNode(Installation):
    def __init__(self, root, **env):
        super().__init__(root, port=ports.claim_port(ports.E2E, reuse=False), **env)

    def shell(self, code):
        return self.manage("shell", "-c", code).stdout


@pytest.fixture
def cluster():
    cluster = PgAutoFailoverCluster(monitor_settings=FAST_FAILOVER)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def node(cluster, tmp_path):
    node = ClusterNode(
        tmp_path / "node",
        DATABASE_URL=cluster.database_url,
        ONPREM_HA_MONITOR_URL=cluster.monitor_uri,
        ONPREM_HA_EVENTS_SECONDS="3",
        ONPREM_HA_VIRTUAL_ADDRESS="192.0.2.10",
        DB_CONN_MAX_AGE="0",
    )
    try:
        node.manage("migrate", "--noinput", timeout=900)
        assert "admin ok" in node.shell(MAKE_ADMIN)
        node.start()
        node.wait_until_up(timeout=180, path="/readyz")
        yield node
    finally:
        node.cleanup()


@pytest.fixture
def page(browser, node):
    # The session's Chromium (one Playwright per process: a second one inside it is refused),
    # in a context of its own that accepts this node's self-signed certificate (no downloads here).
    context = browser.new_context(base_url=node.url, viewport=DESKTOP, ignore_https_errors=True)
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def _reload_until(page, url, predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        response = page.goto(url)
        if response is not None and response.status == 200 and predicate():
            return
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(1)


def test_the_widget_and_its_event_log_through_a_failover(cluster, node, page):
    primary, secondary = cluster.primary(), cluster.secondary()
    login(page, "e2e-admin")
    page.goto("/admin/")
    page.get_by_role("link", name="High Availability").first.click()
    page.wait_for_url(re.compile(r"/admin/ha/$"))
    status = page.locator(".ha-status")
    _reload_until(  # a node's first health check may still be due
        page, "/admin/ha/", lambda: status.get_attribute("data-status") == "healthy", 60, "the cluster normal"
    )
    assert "The cluster is working normally" in status.inner_text()
    assert page.locator(f'tr[data-node="{primary}"]').get_attribute("data-role") == "primary"
    assert page.locator(f'tr[data-node="{secondary}"]').get_attribute("data-role") == "secondary"
    assert page.locator(".ha-vip").inner_text() == "192.0.2.10"
    assert "On: a commit waits for" in page.locator(".ha-sync").inner_text()
    assert page.locator(".ha-node.active").inner_text().startswith(primary)
    assert page.locator("table.ha-hosts tbody tr").count() == 1  # this node reported its facts
    shoot(page, "admin-ha-cluster")
    assert not (found := blocking(axe_violations(page))), describe(found)

    killed = cluster.kill_primary()
    # The node follows the promotion by itself (its DATABASE_URL lists both nodes, read-write).
    _reload_until(
        page,
        "/admin/ha/",
        lambda: page.locator(f'tr[data-node="{secondary}"]').get_attribute("data-role") == "primary",
        120,
        f"the widget to show {secondary} promoted",
    )
    assert page.locator(".ha-status").get_attribute("data-status") == "critical"
    errors = page.locator(".ha-errors").inner_text()
    assert f"{killed} (127.0.0.1:{cluster.port_of(killed)}) cannot be reached by the monitor." in errors
    page.get_by_role("link", name="Event Log", exact=True).click()
    _reload_until(
        page,
        "/admin/ha/events/",
        lambda: page.locator('tr[data-event-type="ha.failover"]').count() == 1,
        60,
        "beat to copy the failover into the event log",
    )
    rows = page.locator("table.ha-events tbody tr")
    assert [rows.nth(i).get_attribute("data-event-type") for i in range(2)] == ["ha.failover", "ha.host_lost"]
    assert f"Failover: {secondary}" in rows.nth(0).inner_text() and killed in rows.nth(1).inner_text()

    cluster.restart_node(killed)
    cluster.wait_until_healthy(timeout=180)  # the old primary rejoins as the secondary
    _reload_until(
        page,
        "/admin/ha/events/",
        lambda: (
            page.locator(f'tr[data-event-type="ha.host_back"]:has-text("{killed}")').count() >= 1
            and page.locator(".ha-status").get_attribute("data-status") == "healthy"
        ),
        90,
        "the old primary back and the cluster normal again",
    )
    assert page.locator('tr[data-event-type="ha.failover"]').count() == 1  # copied once, beat ran many times
    assert rows.nth(0).get_attribute("data-event-type") == "ha.host_back" and killed in rows.nth(0).inner_text()
    shoot(page, "admin-ha-events")
    assert not (found := blocking(axe_violations(page))), describe(found)
    page.get_by_role("link", name="Host", exact=True).click()
    assert page.locator(f'tr[data-node="{killed}"]').get_attribute("data-role") == "secondary"

"""The High Availability Status widget's service against a real pg_auto_failover cluster: a monitor
and two PostgreSQL nodes on loopback (tests/ha/cluster.py), a kill -9 of the primary, the automatic
promotion, and the old primary rejoining as the secondary.

The widget reads the monitor through ``ONPREM_HA_MONITOR_URL``; the project's own database here is
the test database (its web node on the cluster: tests/e2e/test_e2e_ha_widget.py).
"""

import time

import pytest

from admin_widgets.ha import hosts
from admin_widgets.ha.events import sync_monitor_events
from admin_widgets.ha.replication import CRITICAL, HEALTHY, cluster_status
from core.models import Event
from tests.ha.cluster import FAST_FAILOVER, PgAutoFailoverCluster

pytestmark = [pytest.mark.live, pytest.mark.faults]


@pytest.fixture
def cluster():
    cluster = PgAutoFailoverCluster(monitor_settings=FAST_FAILOVER)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


def _until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.5)


def _ha_events():
    return list(Event.objects.filter(event_type__startswith="ha.").order_by("created_at", "id"))


def test_the_widget_through_a_failover_and_a_rejoin(db, cluster, settings, sysadmin, login):
    settings.ONPREM_HA_MONITOR_URL = cluster.monitor_uri
    hosts.record_this_host()
    first_primary, first_secondary = cluster.primary(), cluster.secondary()

    # Normal: the primary and the secondary as the monitor has them, each asked its version (a
    # node's first health check may still be due).
    status = _until(lambda: (seen := cluster_status()).status == HEALTHY and seen, 60, "the cluster normal")
    assert status.primary.name == first_primary
    assert [node.name for node in status.secondaries] == [first_secondary]
    assert status.primary.address == f"127.0.0.1:{cluster.port_of(first_primary)}"
    assert status.secondaries[0].role == "secondary" and status.secondaries[0].lag_bytes >= 0
    assert all(node.server_version.startswith("15.") for node in status.nodes), status.nodes
    assert status.number_sync_standbys is not None and len(status.hosts) == 1
    # Synchronous replication: the primary's commits wait for the secondary.
    assert "pgautofailover_standby_" in status.primary.synchronous_standby_names
    client = login(sysadmin)
    page = client.get("/admin/ha/").content.decode()
    assert 'data-status="healthy"' in page and "auto failover function is available" in page
    assert f'data-node="{first_primary}" data-role="primary"' in page
    assert f'data-node="{first_secondary}" data-role="secondary"' in page

    # The monitor's history so far: two hosts joined (a node may have been marked unhealthy while
    # it took its base backup; never a failover).
    copied = sync_monitor_events()
    assert copied.count("ha.host_added") == 2 and "ha.failover" not in copied, copied
    assert sync_monitor_events() == []
    before = len(_ha_events())

    # kill -9 of the primary: the monitor promotes the secondary by itself.
    killed = cluster.kill_primary()
    assert killed == first_primary

    def promoted():
        seen = cluster_status()
        return seen if seen.primary is not None and seen.primary.name == first_secondary else None

    during = _until(promoted, 120, f"the monitor to promote {first_secondary}")
    assert during.status == CRITICAL
    assert any(f"{killed} (127.0.0.1:{cluster.port_of(killed)}) cannot be reached" in e for e in during.errors)
    assert any("No healthy secondary" in error for error in during.errors), during.errors
    assert during.primary.synchronous_standby_names == ""  # alone, the new primary does not wait
    page = client.get("/admin/ha/").content.decode()
    assert 'data-status="critical"' in page and f'data-node="{first_secondary}" data-role="primary"' in page

    # The copy runs twice (as two beats or a retried task would): the old primary lost, then one
    # failover. (On a loaded machine the monitor's 1-second health checks may also have marked a
    # node unhealthy and healthy again for a moment before: those are recorded as they happened.)
    sync_monitor_events()
    sync_monitor_events()
    new = [(event.event_type, event.message) for event in _ha_events()[before:]]
    codes = [code for code, _ in new]
    assert codes.count("ha.failover") == 1 and codes[-1] == "ha.failover", new
    assert f"Failover: {first_secondary}" in new[-1][1]
    assert new[-2][0] == "ha.host_lost" and killed in new[-2][1], new
    events_tab = client.get("/admin/ha/events/").content.decode()
    assert f"Failover: {first_secondary} (127.0.0.1:{cluster.port_of(first_secondary)}) was promoted" in events_tab

    # The old primary comes back: it rejoins as the secondary and the cluster is normal again.
    cluster.restart_node(killed)
    cluster.wait_until_healthy(timeout=180)  # the old primary rejoins as the secondary
    after = _until(
        lambda: (seen := cluster_status()).status == HEALTHY and seen, 60, "the widget to show the cluster normal"
    )
    assert after.primary.name == first_secondary and [node.name for node in after.secondaries] == [killed]
    sync_monitor_events()
    assert sync_monitor_events() == []
    after_failover = _ha_events()[before + len(new) :]
    assert [event.event_type for event in after_failover][:1] == ["ha.host_back"], after_failover
    assert killed in after_failover[0].message
    assert Event.objects.filter(event_type="ha.failover").count() == 1
    assert 'data-status="healthy"' in client.get("/admin/ha/").content.decode()

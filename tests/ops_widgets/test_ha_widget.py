"""High Availability status: the pg_auto_failover monitor's cluster, or the replication views'.

Against a real monitor and two nodes: tests/ops/test_ha_cluster_widget.py. Here: what the service
makes of what the monitor reports, the copy of its events, and the pages with their RBAC.
"""

import socket
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection
from django.utils import timezone as dj_timezone

from accounts.roles import SystemRole
from admin_widgets.ha import events, hosts, monitor
from admin_widgets.ha.replication import CRITICAL, HEALTHY, cluster_status, judge, summarize
from admin_widgets.registry import widgets_for
from core.events import record
from core.models import ClusterEventCursor, ClusterHost, Event
from tests.factories import PASSWORD


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_monitor(settings):
    """A monitor URI nothing answers at: what the widget shows when the monitor host is gone."""
    settings.ONPREM_HA_MONITOR_URL = f"postgres://autoctl_node@127.0.0.1:{_closed_port()}/pg_auto_failover"
    return settings.ONPREM_HA_MONITOR_URL


def test_a_primary_without_standbys_or_sqlite_is_not_a_cluster(db, sysadmin, login):
    # The test database (SQLite, or a lone Postgres on CI) has no replication and no monitor: no widget.
    assert cluster_status() is None
    assert "admin_ha" not in [widget.url_name for widget in widgets_for(sysadmin)]
    assert login(sysadmin).get("/admin/ha/").status_code == 404
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_replication")
            assert cursor.fetchone()[0] == 0


def test_summaries_of_what_postgres_reports():
    assert summarize(False, []) is None
    healthy = summarize(False, [("standby-1", "10.0.0.2", "streaming", "async", "00:00:00.01")])
    assert healthy.role == "primary" and healthy.status == HEALTHY and healthy.peers[0].address == "10.0.0.2"
    broken = summarize(False, [("standby-1", "10.0.0.2", "catchup", "async", None)])
    assert broken.status == CRITICAL and "standby-1 is catchup" in broken.message
    standby = summarize(True, [("streaming", "10.0.0.1", 5432)])
    assert standby.role == "standby" and standby.status == HEALTHY and standby.peers[0].address == "10.0.0.1:5432"
    lost = summarize(True, [])
    assert lost.status == CRITICAL and "not receiving" in lost.message


NOW = datetime(2026, 12, 6, 12, 0, tzinfo=timezone.utc)


def _node(node_id, name, reported, goal=None, health=1, running=True, lag=0):
    return monitor.Node(
        node_id, name, "10.0.0.%d" % node_id, 5432, reported, goal or reported, running, "quorum", 1, "0/3000000",
        health, NOW, lag,
    )  # fmt: skip


def test_judging_the_monitors_nodes():
    normal = [_node(1, "node1", "primary"), _node(2, "node2", "secondary")]
    assert judge(normal) == []
    assert [node.role for node in normal] == ["primary", "secondary"]

    lost = [_node(1, "node1", "primary", "draining", health=0), _node(2, "node2", "secondary", "prepare_promotion")]
    errors = judge(lost)
    assert "node1 (10.0.0.1:5432) cannot be reached by the monitor." in errors
    assert "node1 is changing state: primary to draining." in errors
    assert any("No node is the primary" in error for error in errors)
    assert any("No healthy secondary" in error for error in errors)
    assert [node.role for node in lost] == ["draining", "prepare_promotion"]

    promoted = [_node(1, "node1", "demoted", health=0), _node(2, "node2", "wait_primary")]
    errors = judge(promoted)
    assert promoted[1].role == "primary" and not any("No node is the primary" in error for error in errors)
    assert any("No healthy secondary" in error for error in errors)

    stopped = [_node(1, "node1", "primary"), _node(2, "node2", "secondary", running=False)]
    assert judge(stopped) == [
        "PostgreSQL is not running on node2 (10.0.0.2:5432).",
        "No healthy secondary: data is not replicated and the auto failover is not available.",
    ]
    two = [_node(1, "node1", "primary"), _node(2, "node2", "primary")]
    assert any("More than one node" in error for error in judge(two))


def _host(name, version="1.0", memory=8 << 30, disk=100 << 30, age=timedelta(0)):
    return ClusterHost(
        hostname=name, memory_bytes=memory, disk_bytes=disk, onprem_version=version, python_version="3.11.2",
        reported_at=NOW - age,
    )  # fmt: skip


def test_comparing_the_servers_facts():
    assert hosts.compare([_host("a"), _host("b", memory=(8 << 30) - (40 << 20))], now=NOW) == ([], [])
    errors, warnings = hosts.compare([_host("a"), _host("b", version="1.1")], now=NOW)
    assert errors == ["The servers run different SSM On-Prem versions (a 1.0, b 1.1)."] and warnings == []
    errors, warnings = hosts.compare([_host("a"), _host("b", memory=4 << 30, disk=50 << 30)], now=NOW)
    assert errors == [] and warnings == [
        "The servers have different memory allocations.",
        "The servers have different disk allocations.",
    ]
    # A server gone for more than a day is left out: it must not keep the cluster critical.
    assert hosts.compare([_host("a"), _host("old", version="0.9", age=timedelta(days=2))], now=NOW) == ([], [])


def test_a_node_records_its_own_facts(db):
    host = hosts.record_this_host()
    assert host.hostname == socket.gethostname() and host.memory_bytes > 0 and host.disk_bytes > 0
    assert host.onprem_version and "127.0.0.1" in host.addresses
    hosts.record_this_host()
    assert ClusterHost.objects.count() == 1


def _event(event_id, node_id, reported, description="", goal=None):
    return monitor.MonitorEvent(
        event_id, NOW + timedelta(seconds=event_id), node_id, f"node{node_id}", "127.0.0.1", 56100 + node_id, reported,
        goal or reported, description,
    )  # fmt: skip


def _marked(node_id, verdict):
    return f'Node node {node_id} "node{node_id}" (127.0.0.1:5610{node_id}) is marked as {verdict} by the monitor'


# What the monitor wrote for a cluster's creation, a kill -9 of the primary and its rejoining
# (pgautofailover.event, abridged to one event per state the nodes reported).
HISTORY = [
    _event(1, 1, "init", goal="single"),
    _event(2, 1, "single"),
    _event(3, 1, "single", _marked(1, "healthy")),
    _event(4, 2, "wait_standby"),
    _event(5, 1, "wait_primary"),
    _event(6, 2, "catchingup"),
    _event(61, 2, "catchingup", _marked(2, "unhealthy")),  # during its base backup: not a host lost
    _event(7, 2, "secondary"),
    _event(8, 2, "secondary", _marked(2, "healthy")),
    _event(9, 1, "primary"),
    _event(10, 1, "primary", _marked(1, "unhealthy")),
    _event(11, 2, "secondary", goal="prepare_promotion"),
    _event(12, 2, "prepare_promotion"),
    _event(13, 2, "stop_replication"),
    _event(14, 2, "wait_primary"),
    _event(15, 2, "primary"),
    _event(16, 1, "demoted", goal="catchingup"),
    _event(17, 1, "catchingup"),
    _event(18, 1, "catchingup", _marked(1, "healthy")),
    _event(19, 1, "secondary"),
]


def test_what_the_monitors_events_mean():
    cursor = ClusterEventCursor(formation="default", node_states={})
    meanings = [(event.event_id, events._advance(cursor, event)) for event in HISTORY]
    found = [(event_id, meaning[0], meaning[1]["node_name"]) for event_id, meaning in meanings if meaning]
    assert found == [
        (1, "ha.host_added", "node1"),
        (4, "ha.host_added", "node2"),
        (10, "ha.host_lost", "node1"),
        (14, "ha.failover", "node2"),
        (18, "ha.host_back", "node1"),
    ]
    assert cursor.node_states == {
        "1": {"state": "secondary", "lost": False, "joined": True},
        "2": {"state": "primary", "lost": False, "joined": True},
    }


def test_an_unreachable_monitor_is_recorded_once_and_shown_critical(db, dead_monitor, sysadmin, login):
    assert events.sync_monitor_events() == ["ha.monitor_lost"]
    assert events.sync_monitor_events() == []  # still down: not recorded again
    lost = Event.objects.get(event_type="ha.monitor_lost")
    assert lost.severity == "ALERT" and "cannot be reached" in lost.message and "127.0.0.1:" in lost.message
    cluster = cluster_status()
    assert cluster.status == CRITICAL and "The pg_auto_failover monitor cannot be read" in cluster.message
    # The widget is shown (a configured cluster whose monitor is down is the news) and says so.
    assert "admin_ha" in [widget.url_name for widget in widgets_for(sysadmin)]
    page = login(sysadmin).get("/admin/ha/")
    assert page.status_code == 200
    text = page.content.decode()
    assert 'data-status="critical"' in text and "The pg_auto_failover monitor cannot be read" in text
    assert "autoctl_node@" not in text  # the URI's user (and a password) stay out of the page


def test_who_may_see_the_widget(db, dead_monitor, sysadmin, sysop, make_user, client):
    for user, allowed in ((sysadmin, True), (sysop, True), (make_user("plain", SystemRole.USER), False)):
        client.logout()
        assert client.login(username=user.username, password=PASSWORD)
        for url in ("/admin/ha/", "/admin/ha/events/"):
            assert client.get(url).status_code == (200 if allowed else 403), (user.username, url)
        assert ("admin_ha" in [widget.url_name for widget in widgets_for(user)]) is allowed


def test_the_event_log_tab_lists_the_cluster_events(db, dead_monitor, admin_client, django_assert_num_queries):
    record("ha.host_lost", node_name="node1", address="127.0.0.1:56101")
    record("ha.failover", node_name="node2", address="127.0.0.1:56102")
    record("settings.motd_changed", user_name="someone")  # not a cluster event
    for index in range(30):
        record("ha.host_back", node_name=f"node{index}", address="127.0.0.1:1")
    with django_assert_num_queries(8):
        page = admin_client.get("/admin/ha/events/")
    text = page.content.decode()
    assert page.status_code == 200 and "message of the day" not in text
    assert text.count('data-event-type="ha.') == 25  # one page
    last = admin_client.get("/admin/ha/events/?page=2").content.decode()
    assert "Failover: node2 (127.0.0.1:56102) was promoted and is the primary now." in last
    assert "Cluster failover" in last and "Cluster host lost" in last
    found = admin_client.get("/admin/ha/events/?q=promoted").content.decode()
    assert found.count('data-event-type="ha.') == 1


def test_the_task_is_on_beats_schedule(db, settings):
    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    from admin_widgets.signals import ensure_periodic_tasks

    settings.ONPREM_HA_EVENTS_SECONDS = 15
    ensure_periodic_tasks(sender=apps.get_app_config("onprem"))
    task = PeriodicTask.objects.get(task="onprem.ha_sync_events")
    assert task.enabled and task.interval.every == 15 and task.interval.period == "seconds"


def test_without_a_monitor_the_task_does_nothing(db):
    from admin_widgets.tasks import ha_sync_events

    assert ha_sync_events() == []
    assert not ClusterEventCursor.objects.exists()
    assert ClusterHost.objects.filter(reported_at__gte=dj_timezone.now() - timedelta(minutes=1)).count() == 1

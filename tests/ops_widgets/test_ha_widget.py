"""High Availability status: only when the database replicates."""

from django.db import connection

from admin_widgets.ha.replication import CRITICAL, HEALTHY, cluster_status, summarize
from admin_widgets.registry import widgets_for


def test_a_primary_without_standbys_or_sqlite_is_not_a_cluster(db, sysadmin, login):
    # The test database (SQLite, or a lone Postgres on CI) has no replication: no widget.
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

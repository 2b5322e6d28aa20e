"""Reading the pg_auto_failover monitor: the cluster's nodes, its settings and its event table.

The monitor (``ONPREM_HA_MONITOR_URL``, its ``postgres://`` URI as ``pg_autoctl show uri
--monitor`` prints it) is the failover engine's own record of the cluster: which node is the
primary, what each node last reported (state, LSN, whether Postgres runs) and whether the monitor's
health checks reach it. docs/operations-widgets.md describes what the widget makes of it.
"""

from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import psycopg2
from django.conf import settings

CONNECT_TIMEOUT = 3  # seconds: the widget's page must not hang on a monitor that is gone
STATEMENT_TIMEOUT_MS = 5000

# pg_auto_failover's replication states (src/monitor/replication_state.h) by the role they mean.
PRIMARY_STATES = {"single", "wait_primary", "primary", "join_primary", "apply_settings"}
SECONDARY_STATES = {"secondary"}
PROMOTING_STATES = {"prepare_promotion", "stop_replication"}


class MonitorUnavailable(Exception):
    """The monitor could not be reached or read; the message says why (no password in it)."""


@dataclass
class Node:
    node_id: int
    name: str
    host: str
    port: int
    reported_state: str
    goal_state: str
    pg_running: bool
    sync_state: str  # what the node reported: sync, quorum, async, unknown
    timeline: int
    lsn: str
    health: int  # the monitor's health check: 1 reachable, 0 unreachable, -1 not checked yet
    report_time: datetime
    # WAL behind the primary, from the LSNs the nodes last reported (each every few seconds: a
    # secondary that reported after the primary may be "ahead", counted as 0)
    lag_bytes: int | None
    # Filled in by the service from other sources:
    server_version: str = ""
    replay_lag: str = ""
    synchronous_standby_names: str = ""

    @property
    def address(self):
        return f"{self.host}:{self.port}"

    @property
    def role(self):
        """primary or secondary when the node is one and stays one; otherwise the state it is
        going to (a primary being demoted, a secondary being promoted) or is in."""
        if self.reported_state in PRIMARY_STATES and self.goal_state in PRIMARY_STATES:
            return "primary"
        if self.reported_state in SECONDARY_STATES and self.goal_state in SECONDARY_STATES:
            return "secondary"
        return self.goal_state if self.goal_state != self.reported_state else self.reported_state

    @property
    def healthy(self):
        return self.health == 1 and self.pg_running


@dataclass
class MonitorState:
    formation: str
    dbname: str
    number_sync_standbys: int
    nodes: list = field(default_factory=list)


@dataclass
class MonitorEvent:
    event_id: int
    time: datetime
    node_id: int
    node_name: str
    host: str
    port: int
    reported_state: str
    goal_state: str
    description: str

    @property
    def address(self):
        return f"{self.host}:{self.port}"


def monitor_url():
    return settings.ONPREM_HA_MONITOR_URL


def formation():
    return settings.ONPREM_HA_FORMATION


def describe(url=None):
    """The monitor's host:port for messages, without user or password."""
    parts = urlsplit(url or monitor_url())
    return parts.netloc.rsplit("@", 1)[-1] or "localhost"


def connect(url=None):
    url = url or monitor_url()
    try:
        return psycopg2.connect(
            url,
            connect_timeout=CONNECT_TIMEOUT,
            application_name="onprem-ha",
            options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        )
    except psycopg2.Error as error:
        raise MonitorUnavailable(f"{describe(url)}: {_first_line(error)}") from error


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


NODES_SQL = """
SELECT n.nodeid, n.nodename, n.nodehost, n.nodeport, n.reportedstate::text, n.goalstate::text,
       coalesce(n.reportedpgisrunning, false), coalesce(n.reportedrepstate, ''), n.reportedtli,
       n.reportedlsn::text, n.health, n.reporttime,
       greatest(pg_wal_lsn_diff(p.reportedlsn, n.reportedlsn), 0)::bigint
  FROM pgautofailover.node n
  LEFT JOIN LATERAL (
       SELECT reportedlsn FROM pgautofailover.node p
        WHERE p.formationid = n.formationid AND p.groupid = n.groupid
          AND p.reportedstate::text IN ('single', 'wait_primary', 'primary', 'join_primary', 'apply_settings')
          AND p.nodeid <> n.nodeid
        ORDER BY p.reportedlsn DESC LIMIT 1) p ON true
 WHERE n.formationid = %s
 ORDER BY n.groupid, n.nodeid
"""


def read_state(url=None, formation_id=None):
    """The formation's nodes and settings as the monitor has them."""
    formation_id = formation_id or formation()
    connection = connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT dbname::text, number_sync_standbys FROM pgautofailover.formation WHERE formationid = %s",
                [formation_id],
            )
            row = cursor.fetchone()
            if row is None:
                raise MonitorUnavailable(f"{describe(url)}: the monitor has no formation “{formation_id}”")
            cursor.execute(NODES_SQL, [formation_id])
            nodes = [Node(*values) for values in cursor.fetchall()]
    except psycopg2.Error as error:
        raise MonitorUnavailable(f"{describe(url)}: {_first_line(error)}") from error
    finally:
        connection.close()
    return MonitorState(formation_id, row[0], row[1], nodes)


def read_events(after_id, url=None, formation_id=None, limit=500):
    """The monitor's events with an id above ``after_id``, oldest first, and the largest id it has."""
    formation_id = formation_id or formation()
    connection = connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT coalesce(max(eventid), 0) FROM pgautofailover.event")
            newest = cursor.fetchone()[0]
            cursor.execute(
                "SELECT eventid, eventtime, nodeid, nodename, nodehost, nodeport, reportedstate::text, "
                "goalstate::text, coalesce(description, '') FROM pgautofailover.event "
                "WHERE formationid = %s AND eventid > %s ORDER BY eventid LIMIT %s",
                [formation_id, after_id, limit],
            )
            events = [MonitorEvent(*values) for values in cursor.fetchall()]
    except psycopg2.Error as error:
        raise MonitorUnavailable(f"{describe(url)}: {_first_line(error)}") from error
    finally:
        connection.close()
    return events, newest


def ask_node(node, dbname):
    """(PostgreSQL version, synchronous_standby_names) asked of the node itself with the web nodes'
    own database user; ("", "") when it cannot be asked (the node is down: its health says so)."""
    database = settings.DATABASES["default"]
    params = {
        "host": node.host,
        "port": node.port,
        "dbname": dbname,
        "user": database.get("USER") or "postgres",
        "connect_timeout": 2,
        "application_name": "onprem-ha",
    }
    if database.get("PASSWORD"):
        params["password"] = database["PASSWORD"]
    options = database.get("OPTIONS") or {}
    params.update({key: options[key] for key in ("sslmode", "sslrootcert", "sslcert", "sslkey") if key in options})
    try:
        connection = psycopg2.connect(**params)
    except psycopg2.Error:
        return "", ""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('server_version'), current_setting('synchronous_standby_names')")
            version, synchronous = cursor.fetchone()
            return version.split(" ")[0], synchronous
    except psycopg2.Error:
        return "", ""
    finally:
        connection.close()

"""High Availability status: the cluster the server's database is part of.

With ``ONPREM_HA_MONITOR_URL`` set the cluster is pg_auto_failover's (docs/operations.md): its
monitor says which node is the primary and which the secondary, what each reported and whether its
health checks reach it; the primary's ``pg_stat_replication`` adds the replay lag; each node is
asked its PostgreSQL version; the servers' own rows (``hosts.py``) give memory, disk and the
SSM On-Prem version. Without a monitor the widget falls back to what PostgreSQL's replication views
say (a hand-made streaming standby), and exists only when replication is configured. SQLite (the
embedded mode) has no HA.
"""

from dataclasses import dataclass, field

from django.db import DatabaseError, connections
from django.utils.translation import gettext as _

from . import hosts, monitor

HEALTHY, CRITICAL = "healthy", "critical"
SOURCE_MONITOR, SOURCE_REPLICATION = "pg_auto_failover", "replication"


@dataclass
class Peer:
    name: str
    address: str
    state: str
    sync_state: str = ""
    replay_lag: str = ""


@dataclass
class Cluster:
    role: str  # this server's database: "primary" or "standby" ("" when read from the monitor)
    status: str
    peers: list = field(default_factory=list)  # the replication views' readout
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    source: str = SOURCE_REPLICATION
    nodes: list = field(default_factory=list)  # monitor.Node, from the monitor
    hosts: list = field(default_factory=list)  # core.models.ClusterHost
    monitor: str = ""  # the monitor's host:port
    formation: str = ""
    number_sync_standbys: int | None = None

    @property
    def message(self):
        return " ".join(self.errors)

    @property
    def primary(self):
        return next((node for node in self.nodes if node.role == "primary"), None)

    @property
    def secondaries(self):
        return [node for node in self.nodes if node.role != "primary"]

    @property
    def pg_versions_differ(self):
        return len({node.server_version for node in self.nodes if node.server_version}) > 1


def summarize(in_recovery, rows):
    """A Cluster from what Postgres reports, or None when there is no replication.

    ``rows``: for a primary, ``pg_stat_replication`` rows (application_name, client_addr,
    state, sync_state, replay_lag); for a standby, the ``pg_stat_wal_receiver`` row (status,
    sender_host, sender_port).
    """
    if in_recovery:
        if not rows:
            return Cluster("standby", CRITICAL, [], [_("This standby is not receiving changes from its primary.")])
        status, host, port = rows[0][:3]
        peer = Peer("primary", f"{host}:{port}", status)
        ok = status == "streaming"
        errors = [] if ok else [_("Replication from the primary is %(state)s.") % {"state": status}]
        return Cluster("standby", HEALTHY if ok else CRITICAL, [peer], errors)
    if not rows:
        return None
    peers = [
        Peer(name or "standby", address or "local", state, sync_state or "", str(lag or ""))
        for name, address, state, sync_state, lag in rows
    ]
    broken = [peer for peer in peers if peer.state != "streaming"]
    errors = [_("%(name)s is %(state)s.") % {"name": peer.name, "state": peer.state} for peer in broken]
    return Cluster("primary", CRITICAL if broken else HEALTHY, peers, errors)


def _replication_rows(using="default"):
    connection = connections[using]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        in_recovery = cursor.fetchone()[0]
        if in_recovery:
            cursor.execute("SELECT status, sender_host, sender_port FROM pg_stat_wal_receiver")
        else:
            cursor.execute(
                "SELECT application_name, client_addr::text, state, sync_state, replay_lag::text "
                "FROM pg_stat_replication ORDER BY application_name"
            )
        return in_recovery, cursor.fetchall()


def judge(nodes):
    """The errors that make a monitored cluster critical: the guide's "normal" is data replicated
    between the hosts with the auto failover available, so one healthy primary and at least one
    healthy secondary in the ``secondary`` state."""
    errors = []
    primaries = [node for node in nodes if node.role == "primary"]
    if not primaries:
        errors.append(_("No node is the primary: the cluster cannot take writes."))
    elif len(primaries) > 1:
        names = ", ".join(node.name for node in primaries)
        errors.append(_("More than one node reports being the primary (%(names)s).") % {"names": names})
    for node in nodes:
        if node.health == 0:
            errors.append(
                _("%(name)s (%(address)s) cannot be reached by the monitor.")
                % {"name": node.name, "address": node.address}
            )
        elif not node.pg_running:
            errors.append(
                _("PostgreSQL is not running on %(name)s (%(address)s).") % {"name": node.name, "address": node.address}
            )
        if node.reported_state != node.goal_state:
            errors.append(
                _("%(name)s is changing state: %(reported)s to %(goal)s.")
                % {"name": node.name, "reported": node.reported_state, "goal": node.goal_state}
            )
        elif node.role not in ("primary", "secondary"):
            errors.append(_("%(name)s is %(state)s.") % {"name": node.name, "state": node.reported_state})
    standbys = [node for node in nodes if node.role == "secondary" and node.healthy]
    if not standbys:
        errors.append(_("No healthy secondary: data is not replicated and the auto failover is not available."))
    return errors


def _replay_lags(using="default"):
    """The primary's view of its standbys (application_name pgautofailover_standby_<node id>)."""
    try:
        in_recovery, rows = _replication_rows(using)
    except DatabaseError:
        return {}
    if in_recovery:
        return {}
    return {name: (sync_state or "", str(lag or "")) for name, _address, _state, sync_state, lag in rows}


def monitored_cluster(using="default"):
    from core.models import ClusterHost

    known_hosts = list(ClusterHost.objects.all())
    host_errors, host_warnings = hosts.compare(known_hosts)
    cluster = Cluster(
        "",
        CRITICAL,
        source=SOURCE_MONITOR,
        hosts=known_hosts,
        monitor=monitor.describe(),
        formation=monitor.formation(),
        warnings=host_warnings,
    )
    try:
        state = monitor.read_state()
    except monitor.MonitorUnavailable as error:
        cluster.errors = [_("The pg_auto_failover monitor cannot be read: %(error)s") % {"error": error}, *host_errors]
        return cluster
    cluster.nodes = state.nodes
    cluster.number_sync_standbys = state.number_sync_standbys
    lags = _replay_lags(using) if connections[using].vendor == "postgresql" else {}
    for node in state.nodes:
        if node.healthy:
            node.server_version, node.synchronous_standby_names = monitor.ask_node(node, state.dbname)
        if node.role != "primary":
            sync_state, replay_lag = lags.get(f"pgautofailover_standby_{node.node_id}", ("", ""))
            node.replay_lag = replay_lag
            node.sync_state = sync_state or node.sync_state
    errors = judge(state.nodes) + host_errors
    if cluster.pg_versions_differ:
        listed = ", ".join(f"{node.name} {node.server_version}" for node in state.nodes if node.server_version)
        errors.append(_("The database nodes run different PostgreSQL versions (%(versions)s).") % {"versions": listed})
    cluster.errors = errors
    cluster.status = CRITICAL if errors else HEALTHY
    return cluster


def cluster_status(using="default"):
    if monitor.monitor_url():
        return monitored_cluster(using)
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    return summarize(*_replication_rows(using))


def is_configured():
    """The widget is shown: a monitor is configured (even one that is down: that is the news), or
    the database replicates."""
    if monitor.monitor_url():
        return True
    return cluster_status() is not None

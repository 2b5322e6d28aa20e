"""High Availability status: what PostgreSQL replication the server's database is part of.

In this product HA is the database's replication under several stateless web nodes
(docs/operations.md, "High availability"). The widget exists only when replication is
configured: the database is a standby, or a primary with at least one standby connected or
known. SQLite (the embedded mode) has no HA.
"""

from dataclasses import dataclass, field

from django.db import connections

HEALTHY, CRITICAL = "healthy", "critical"


@dataclass
class Peer:
    name: str
    address: str
    state: str
    sync_state: str = ""
    replay_lag: str = ""


@dataclass
class Cluster:
    role: str  # "primary" or "standby" (this server's database)
    status: str
    peers: list = field(default_factory=list)
    message: str = ""


def summarize(in_recovery, rows):
    """A Cluster from what Postgres reports, or None when there is no replication.

    ``rows``: for a primary, ``pg_stat_replication`` rows (application_name, client_addr,
    state, sync_state, replay_lag); for a standby, the ``pg_stat_wal_receiver`` row (status,
    sender_host, sender_port).
    """
    if in_recovery:
        if not rows:
            return Cluster("standby", CRITICAL, [], "This standby is not receiving changes from its primary.")
        status, host, port = rows[0][:3]
        peer = Peer("primary", f"{host}:{port}", status)
        ok = status == "streaming"
        return Cluster(
            "standby", HEALTHY if ok else CRITICAL, [peer], "" if ok else f"Replication from the primary is {status}."
        )
    if not rows:
        return None
    peers = [
        Peer(name or "standby", address or "local", state, sync_state or "", str(lag or ""))
        for name, address, state, sync_state, lag in rows
    ]
    broken = [peer for peer in peers if peer.state != "streaming"]
    return Cluster(
        "primary", CRITICAL if broken else HEALTHY, peers, ", ".join(f"{peer.name} is {peer.state}" for peer in broken)
    )


def cluster_status(using="default"):
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
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
        rows = cursor.fetchall()
    return summarize(in_recovery, rows)


def is_configured():
    return cluster_status() is not None

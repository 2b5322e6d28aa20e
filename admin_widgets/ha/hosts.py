"""Each server's own facts for the widget's System Information: memory, disk, software versions.

Only a node can measure itself, so every node writes its own ``ClusterHost`` row: ``serve`` at
start, the Celery worker when it is ready (``onprem/celery.py``), and the worker that runs the
cluster-event task (every ``ONPREM_HA_EVENTS_SECONDS``; with a shared Redis broker both nodes'
workers take turns). The widget compares the rows reported within ``CURRENT_WITHIN``.
"""

import logging
import platform
import socket
from datetime import timedelta

import psutil
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

import core

logger = logging.getLogger(__name__)

# A node that has not reported for a day is shown but left out of the comparison (a server
# taken out of the installation must not keep the cluster's status at "critical").
CURRENT_WITHIN = timedelta(days=1)
# Resources "matching" within this fraction: memory reported by the kernel differs by a few MB
# between two machines deployed with the same size.
RESOURCE_TOLERANCE = 0.10


def addresses():
    found = set()
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                found.add(entry.address.split("%")[0])
    return sorted(found)


def measure():
    """This node's facts, as ``ClusterHost`` fields."""
    return {
        "addresses": addresses(),
        "memory_bytes": psutil.virtual_memory().total,
        "disk_bytes": psutil.disk_usage(str(settings.DATA_DIR)).total,
        "onprem_version": core.__version__,
        "python_version": platform.python_version(),
    }


def record_this_host(hostname=None):
    """Write this node's row (``hostname`` defaults to the machine's). Returns it, or None when the
    database cannot be written (a node starting during a failover retries on its next run)."""
    from core.models import ClusterHost

    try:
        host, _ = ClusterHost.objects.update_or_create(
            hostname=hostname or socket.gethostname(), defaults={**measure(), "reported_at": timezone.now()}
        )
    except DatabaseError:
        logger.warning("could not record this host's facts for the High Availability widget", exc_info=True)
        return None
    return host


def _differ(values):
    values = [value for value in values if value]
    return bool(values) and (max(values) - min(values)) > RESOURCE_TOLERANCE * max(values)


def compare(hosts, now=None):
    """(errors, warnings) about the servers' facts: software versions must be identical (the guide:
    "It is critical these versions are identical"), memory and disk should match."""
    from django.utils.translation import gettext as _

    now = now or timezone.now()
    current = [host for host in hosts if now - host.reported_at <= CURRENT_WITHIN]
    errors, warnings = [], []
    if len({host.onprem_version for host in current}) > 1:
        listed = ", ".join(f"{host.hostname} {host.onprem_version}" for host in current)
        errors.append(_("The servers run different SSM On-Prem versions (%(versions)s).") % {"versions": listed})
    if _differ([host.memory_bytes for host in current]):
        warnings.append(_("The servers have different memory allocations."))
    if _differ([host.disk_bytes for host in current]):
        warnings.append(_("The servers have different disk allocations."))
    return errors, warnings

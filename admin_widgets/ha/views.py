"""High Availability Status widget: shown only when a cluster exists (guide: "visible only if a
functioning High Availability cluster is configured"): a pg_auto_failover monitor is configured, or
the database replicates."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import requires
from accounts.rbac import Action
from core.listing import Listing
from core.models import Event

from . import hosts
from .replication import cluster_status


@requires(Action.VIEW_HEALTH)
@require_GET
def ha_status(request, tab="host"):
    cluster = cluster_status()
    if cluster is None:
        raise Http404("No High Availability cluster is configured.")
    context = {
        "workspace": "admin",
        "cluster": cluster,
        "tab": tab,
        "virtual_address": settings.ONPREM_HA_VIRTUAL_ADDRESS,
    }
    if tab == "events":
        context["table"] = Listing(
            request,
            Event.objects.filter(event_type__startswith="ha."),
            search=["message", "username"],
            sorts={"time": "created_at"},
            default_sort="-time",
        )
    elif not cluster.hosts:
        facts = hosts.measure()
        context.update(memory=facts["memory_bytes"], disk=facts["disk_bytes"], version=facts["onprem_version"])
        context["python"] = facts["python_version"]
    return render(request, "admin_widgets/ha/status.html", context)

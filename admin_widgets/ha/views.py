"""High Availability Status widget: shown only when the database replicates (guide: "visible
only if a functioning High Availability cluster is configured")."""

import platform

import psutil
from django.conf import settings
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

import core
from accounts.decorators import requires
from accounts.rbac import Action
from core.listing import Listing
from core.models import Event

from .replication import cluster_status


@requires(Action.VIEW_HEALTH)
@require_GET
def ha_status(request, tab="host"):
    cluster = cluster_status()
    if cluster is None:
        raise Http404("No High Availability cluster is configured.")
    context = {"workspace": "admin", "cluster": cluster, "tab": tab}
    if tab == "events":
        context["table"] = Listing(
            request,
            Event.objects.filter(event_type__startswith="ha."),
            search=["message", "username"],
            sorts={"time": "created_at"},
            default_sort="-time",
        )
    else:
        context.update(
            version=core.__version__,
            python=platform.python_version(),
            memory=psutil.virtual_memory().total,
            disk=psutil.disk_usage(str(settings.DATA_DIR)).total,
        )
    return render(request, "admin_widgets/ha/status.html", context)

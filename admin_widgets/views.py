"""The Administration workspace shell: the widget grid and the system-health readout."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.decorators import requires
from accounts.rbac import Action, can

from . import health
from .registry import widgets_for


@requires(Action.OPEN_ADMIN_WORKSPACE)
@require_GET
def workspace(request):
    return render(
        request,
        "admin_widgets/workspace.html",
        {
            "workspace": "admin",
            "widgets": widgets_for(request),
            "readout": health.gather(viewer=request.user) if can(request, Action.VIEW_HEALTH) else None,
        },
    )

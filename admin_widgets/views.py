"""The Administration workspace shell: the widget grid and the system-health readout frame."""
from django.shortcuts import render

from accounts.decorators import requires
from accounts.rbac import Action


@requires(Action.OPEN_ADMIN_WORKSPACE)
def workspace(request):
    return render(request, "admin_widgets/workspace.html", {"workspace": "admin"})

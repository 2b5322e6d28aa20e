"""Settings widget: the tabs Messaging, Syslog, Language, Email, Time Settings, Message of the Day.

System Admins change the settings; System Operators see them read-only (docs/rbac.md). The SMTP
password is never sent back to the browser: the page only says whether one is saved.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.decorators import requires
from accounts.rbac import Action, can
from core import system_settings
from core.errors import NotAllowed
from core.service_views import service_errors

from .forms import FORMS

TABS = [
    ("messaging", gettext_lazy("Messaging")),
    ("syslog", gettext_lazy("Syslog")),
    ("language", gettext_lazy("Language")),
    ("email", gettext_lazy("Email")),
    ("time", gettext_lazy("Time Settings")),
    ("motd", gettext_lazy("Message of the Day")),
]


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_http_methods(["GET", "POST"])
def settings_tab(request, tab="messaging"):
    if tab not in FORMS:
        raise Http404
    may_change = can(request, Action.CHANGE_SYSTEM_CONFIG)
    row = system_settings.current()
    form_class = FORMS[tab]
    if request.method == "POST":
        if not may_change:
            raise NotAllowed
        form = form_class(request.POST, instance=_copy(row))
        if form.is_valid():
            values = {name: form.cleaned_data[name] for name in system_settings.TAB_FIELDS[tab]}
            extra = {"smtp_password": form.cleaned_data.get("smtp_password") or None} if tab == "email" else {}
            with service_errors(request, form):
                system_settings.update(tab, actor=request.user, **values, **extra)
                messages.success(request, _("Your settings are saved."))
                return redirect("admin_settings_tab", tab=tab)
    else:
        form = form_class(instance=_copy(row), read_only=not may_change)
    return render(
        request,
        "admin_widgets/settings/tab.html",
        {
            "workspace": "admin",
            "form": form,
            "tab": tab,
            "tabs": [
                {"label": label, "url": reverse("admin_settings_tab", args=[key]), "current": key == tab}
                for key, label in TABS
            ],
            "tab_label": dict(TABS)[tab],
            "may_change": may_change,
            "smtp_password_saved": bool(row.smtp_password),
            "server_time": timezone.now(),
        },
    )


def _copy(row):
    # The form edits a copy, so a refused POST never leaves half-changed values on the cached row.
    from copy import copy

    return copy(row)

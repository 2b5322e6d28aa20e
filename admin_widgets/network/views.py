"""Network widget: General (names, DNS, gateways), Network Interface, Proxy.

The host's network configuration belongs to its operating system, which this product does
not manage: it is read from the OS and shown read-only, and the page says so. What the
product does own is editable by System Admins: the SSM On-Prem Name and the proxy that
registration and synchronization with CSSM use. System Operators see everything read-only.
"""

from copy import copy

from django.conf import settings
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.decorators import requires
from accounts.rbac import Action, can
from core import listeners, system_settings
from core.errors import NotAllowed
from core.service_views import service_errors

from . import host
from .forms import GeneralForm, ProxyForm

TABS = [
    ("general", gettext_lazy("General")),
    ("interfaces", gettext_lazy("Network Interface")),
    ("proxy", gettext_lazy("Proxy")),
]
FORMS = {"general": ("network", GeneralForm), "proxy": ("proxy", ProxyForm)}


def listener_rows():
    """This server's listeners with the guide's interface roles (core/listeners.py): the
    management listener serves products too ("Product and Management"), a product listener
    only them ("Product"); a product listener turned off is listed as off, never left out."""
    serves = {
        listeners.MANAGEMENT: (_("Product and Management"), _("Workspaces, the REST API and the device endpoints")),
        listeners.PRODUCT: (_("Product"), _("The device endpoints only (Smart Transport, Call Home, CSLU)")),
    }
    rows = []
    for listener in settings.ONPREM_LISTENERS:
        role, what = serves[listener.role]
        address = listener.address
        rows.append(
            {
                "role": role,
                "scheme": listener.scheme.upper(),
                "address": address[0] if address else listener.bind,
                "port": address[1] if address else "",
                "serves": what,
                "setting": listener.setting,
            }
        )
    for scheme, name in listeners.PRODUCT_SETTINGS.items():
        if not any(item.role == listeners.PRODUCT and item.scheme == scheme for item in settings.ONPREM_LISTENERS):
            role, _what = serves[listeners.PRODUCT]
            rows.append(
                {"role": role, "scheme": scheme.upper(), "address": "", "port": "", "serves": _("Off"), "setting": name}
            )
    return rows


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_http_methods(["GET", "POST"])
def network_tab(request, tab="general"):
    if tab not in dict(TABS):
        raise Http404
    may_change = can(request, Action.CHANGE_SYSTEM_CONFIG)
    row = system_settings.current()
    form = None
    if tab in FORMS:
        settings_tab, form_class = FORMS[tab]
        if request.method == "POST":
            if not may_change:
                raise NotAllowed
            form = form_class(request.POST, instance=copy(row))
            if form.is_valid():
                values = {name: form.cleaned_data[name] for name in system_settings.TAB_FIELDS[settings_tab]}
                extra = {"proxy_password": form.cleaned_data.get("proxy_password") or None} if tab == "proxy" else {}
                with service_errors(request, form):
                    system_settings.update(settings_tab, actor=request.user, **values, **extra)
                    messages.success(request, _("Your settings are saved."))
                    return redirect("admin_network_tab", tab=tab)
        else:
            form = form_class(instance=copy(row), read_only=not may_change)
    elif request.method == "POST":
        raise Http404
    context = {
        "workspace": "admin",
        "tab": tab,
        "tab_label": dict(TABS)[tab],
        "tabs": [
            {"label": label, "url": reverse("admin_network_tab", args=[key]), "current": key == tab}
            for key, label in TABS
        ],
        "form": form,
        "may_change": may_change,
        "proxy_password_saved": bool(row.proxy_password),
    }
    if tab == "general":
        context.update(
            hostname=host.hostname(), fqdn=host.fqdn(), dns=host.dns_servers(), gateways=host.default_gateways()
        )
    if tab == "interfaces":
        context["interfaces"] = host.interfaces()
        context["listeners"] = listener_rows()
    return render(request, "admin_widgets/network/tab.html", context)

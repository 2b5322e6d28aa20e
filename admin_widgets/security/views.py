"""Security widget: the Account, Password, Certificates and Event Log tabs (guide "Security Widget").

System Admins change the settings; System Operators see them read-only (docs/rbac.md). Each POST
checks its form, calls one service (``accounts.services.password_policy``, ``lockout``,
``accounts.services.certificate_actions``) and reports the outcome; a refused change writes nothing.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import requires
from accounts.rbac import Action, can
from accounts.services import certificate_actions, lockout, password_policy
from core import certificates
from core.certificates import MAX_PEM_BYTES
from core.csv_export import csv_response
from core.errors import NotAllowed
from core.events.messages import CATALOGUE, kinds, same_kind
from core.limits import ENVELOPE, request_limit
from core.listing import Listing
from core.models import Event
from core.service_views import service_errors

from .forms import AccountTabForm, CsrForm, HostNameForm, ImportForm, PasswordTabForm

TABS = [
    ("account", gettext_lazy("Account"), "admin_security"),
    ("password", gettext_lazy("Password"), "admin_security_password"),
    ("certificates", gettext_lazy("Certificates"), "admin_security_certificates"),
    ("events", gettext_lazy("Event Log"), "admin_security_events"),
]
# The security events: sign-in, locks, sessions, password and certificate changes.
SECURITY_EVENTS = (
    Q(event_type__startswith="security.")
    | Q(event_type__startswith="auth.")
    | Q(event_type__in=["user.password_changed", "user.password_reset"])
)
EVENT_SEARCH = ["message", "username", "event_type"]
EVENT_SORTS = {"time": "created_at", "type": "event_type", "user": "username", "severity": "severity"}


def _page(request, template, tab, **context):
    context.update(
        {
            "workspace": "admin",
            "security_tabs": [{"label": label, "url": reverse(url), "current": key == tab} for key, label, url in TABS],
            "tab_label": dict((key, label) for key, label, _url in TABS)[tab],
            "may_change": can(request, Action.CHANGE_SYSTEM_CONFIG),
        }
    )
    return render(request, f"admin_widgets/security/{template}", context)


def _require_change(request):
    if not can(request, Action.CHANGE_SYSTEM_CONFIG):
        raise NotAllowed


# --- Account and Password tabs -----------------------------------------------------------------


def _policy_tab(request, tab, form_class, template, **extra):
    may_change = can(request, Action.CHANGE_SYSTEM_CONFIG)
    policy = password_policy.current()
    if request.method == "POST":
        _require_change(request)
        form = form_class(request.POST, instance=password_policy.current())
        if form.is_valid():
            values = {name: form.cleaned_data[name] for name in password_policy.TAB_FIELDS[tab]}
            with service_errors(request, form):
                password_policy.update(tab, actor=request.user, **values)
                messages.success(request, _("Your settings are saved."))
                return redirect(request.path)
    else:
        form = form_class(instance=policy, read_only=not may_change)
    return _page(request, template, tab, form=form, **extra)


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_http_methods(["GET", "POST"])
def account_tab(request):
    return _policy_tab(
        request,
        "account",
        AccountTabForm,
        "account.html",
        locks=lockout.locked_users()[:200],
        may_unlock=can(request, Action.MANAGE_USERS),
    )


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_http_methods(["GET", "POST"])
def password_tab(request):
    return _policy_tab(request, "password", PasswordTabForm, "password.html")


@requires(Action.CHANGE_SYSTEM_CONFIG)
@require_POST
def reset_tab(request, tab):
    """The guide's Reset button: back to the system default values of the tab."""
    defaults = password_policy.SecurityPolicy()
    fields = password_policy.TAB_FIELDS.get(tab)
    if fields is None:
        raise Http404
    with service_errors(request):
        password_policy.update(tab, actor=request.user, **{name: getattr(defaults, name) for name in fields})
        messages.success(request, _("The default settings are restored."))
    return redirect("admin_security" if tab == "account" else "admin_security_password")


@requires(Action.CHANGE_SYSTEM_CONFIG)
@require_POST
def unlock(request, pk):
    user = get_object_or_404(get_user_model(), pk=pk)
    with service_errors(request):
        lockout.unlock_user(actor=request.user, user=user)
        messages.success(request, _("The user “%(name)s” is unlocked.") % {"name": user.username})
    return redirect("admin_security")


# --- Certificates tab ----------------------------------------------------------------------------


def _certificates_page(request, *, host_form=None, csr_form=None, import_form=None, status=200):
    may_change = can(request, Action.CHANGE_SYSTEM_CONFIG)
    host = certificate_actions.host_common_name()
    host_form = host_form or HostNameForm(initial={"host_common_name": host})
    if not may_change:
        for form in (host_form,):
            for field in form.fields.values():
                field.disabled = True
    response = _page(
        request,
        "certificates.html",
        "certificates",
        host_form=host_form,
        csr_form=csr_form or CsrForm(initial={"common_name": host, "key_size": 2048}),
        import_form=import_form or ImportForm(),
        certificate=certificates.current_certificate(),
        pending=certificate_actions.pending_csr(),
        now=timezone.now(),
    )
    response.status_code = status
    return response


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_GET
def certificates_tab(request):
    return _certificates_page(request)


@requires(Action.CHANGE_SYSTEM_CONFIG)
@require_POST
def host_name(request):
    form = HostNameForm(request.POST)
    if form.is_valid():
        with service_errors(request, form, field="host_common_name"):
            value = certificate_actions.set_host_common_name(
                actor=request.user, common_name=form.cleaned_data["host_common_name"]
            )
            messages.success(
                request,
                _(
                    "The Host Common Name is updated to “%(name)s”. Synchronize your local "
                    "accounts so their certificates are re-generated with it."
                )
                % {"name": value},
            )
            return redirect("admin_security_certificates")
    return _certificates_page(request, host_form=form, status=400)


@requires(Action.CHANGE_SYSTEM_CONFIG)
@require_POST
def generate_csr(request):
    form = CsrForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        with service_errors(request, form):
            alt_names = certificates.parse_alt_names(data.pop("subject_alt_names"))
            csr_pem = certificate_actions.create_csr(actor=request.user, alt_names=alt_names, **data)
            return _csr_download(csr_pem, data["common_name"])
    return _certificates_page(request, csr_form=form, status=400)


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_GET
def download_csr(request):
    pending = certificate_actions.pending_csr()
    if pending is None:
        messages.error(request, _("No certificate signing request is waiting for its certificate."))
        return redirect("admin_security_certificates")
    return _csr_download(pending.csr_pem, pending.common_name)


def _csr_download(csr_pem, common_name):
    from django.utils.text import get_valid_filename

    response = HttpResponse(csr_pem, content_type="application/pkcs10")
    response["Content-Disposition"] = f'attachment; filename="{get_valid_filename(common_name) or "server"}.csr"'
    return response


# The certificate, its intermediates and a key.
@request_limit(3 * MAX_PEM_BYTES + ENVELOPE, "certificate import")
@requires(Action.CHANGE_SYSTEM_CONFIG)
@require_POST
def import_certificate(request):
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        with service_errors(request, form):
            checked = certificate_actions.import_certificate(
                actor=request.user,
                certificate_pem=form.read("certificate"),
                intermediate_pem=form.read("intermediate"),
                key_pem=form.read("private_key"),
                description=form.cleaned_data["description"],
            )
            messages.success(
                request,
                _("The certificate “%(subject)s” is imported. The server uses it after its next restart.")
                % {"subject": checked.certificate.subject.rfc4514_string()},
            )
            return redirect("admin_security_certificates")
    return _certificates_page(request, import_form=form, status=400)


@requires(Action.CHANGE_SYSTEM_CONFIG)
@require_POST
def restore_default(request):
    with service_errors(request):
        certificate_actions.restore_default(actor=request.user)
        messages.success(
            request,
            _(
                "A new default self-signed certificate replaces the imported one. "
                "The server uses it after its next restart."
            ),
        )
    return redirect("admin_security_certificates")


# --- Event Log tab -------------------------------------------------------------------------------


SECURITY_CODES = [
    code
    for code in CATALOGUE
    if code.startswith(("security.", "auth.")) or code in ("user.password_changed", "user.password_reset")
]


def _event_type(request):
    """The Event Type filter's choices (names, sorted in the reader's language) and the valid choice."""
    choices = kinds(SECURITY_CODES)
    chosen = request.GET.get("event_type", "")
    return choices, chosen if chosen in dict(choices) else ""


def _events_table(request):
    events = Event.objects.filter(SECURITY_EVENTS)
    _choices, chosen = _event_type(request)
    if chosen:
        events = events.filter(event_type__in=same_kind(chosen))
    return Listing(request, events, search=EVENT_SEARCH, sorts=EVENT_SORTS, default_sort="-time")


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_GET
def event_list(request):
    choices, chosen = _event_type(request)
    return _page(request, "events.html", "events", table=_events_table(request), event_types=choices, event_type=chosen)


@requires(Action.VIEW_SYSTEM_CONFIG)
@require_GET
def event_csv(request):
    table = _events_table(request)
    rows = (
        (f"{timezone.localtime(e.created_at):%Y-%m-%d %H:%M:%S}", e.event_type, e.severity, e.username, e.message)
        for e in table.paginator.object_list.iterator()
    )
    return csv_response(
        f"security_events_{timezone.now():%Y%m%d_%H%M%S}.csv",
        [_("Time"), _("Event Type"), _("Severity"), _("User"), _("Message")],
        rows,
    )

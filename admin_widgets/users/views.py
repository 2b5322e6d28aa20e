"""Users widget pages. Each view checks the input, calls one service of
``accounts.services.users`` and reports the outcome; a refused change (ServiceError) writes
nothing and is shown, a forbidden one (NotAllowed) answers 403."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.decorators import requires
from accounts.rbac import Action, can
from accounts.roles import SystemRole
from accounts.security_models import UserLock
from accounts.services import lockout
from accounts.services import users as user_service
from core.csv_export import csv_response
from core.listing import Listing
from core.service_views import service_errors

from .forms import PasswordResetForm, UserCreateForm

User = get_user_model()

SEARCH_FIELDS = ["username", "first_name", "last_name", "email", "description"]
SORTS = {
    "username": "username",
    "name": "last_name",
    "email": "email",
    "role": "system_role",
    "source": "source",
    "status": "is_active",
    "last_login": "last_login",
}


@requires(Action.MANAGE_USERS)
@require_GET
def user_list(request):
    # Whether each row is locked by the Security widget's auto lock, in the same query.
    users = User.objects.annotate(is_locked=Exists(UserLock.objects.filter(user=OuterRef("pk"))))
    table = Listing(request, users, search=SEARCH_FIELDS, sorts=SORTS, default_sort="username")
    return render(
        request,
        "admin_widgets/users/list.html",
        {
            "workspace": "admin",
            "table": table,
            "roles": SystemRole.choices,
            "may_change_roles": can(request, Action.CHANGE_SYSTEM_ROLE),
            # Rows of System Admins carry no actions for a System Operator (rbac.may_manage_user).
            "may_manage_admins": can(request, Action.MANAGE_SYSTEM_ADMINS),
        },
    )


@requires(Action.MANAGE_USERS)
@require_GET
def user_csv(request):
    """The users table as CSV, with the same search and sort as the page."""
    table = Listing(request, User.objects.all(), search=SEARCH_FIELDS, sorts=SORTS, default_sort="username")
    rows = (
        (
            u.username,
            u.first_name,
            u.last_name,
            u.email,
            u.get_system_role_display(),
            u.get_source_display(),
            _("Active") if u.is_active else _("Disabled"),
            f"{timezone.localtime(u.last_login):%Y-%m-%d %H:%M:%S}" if u.last_login else "",
            u.description,
        )
        for u in table.paginator.object_list.iterator()
    )
    return csv_response(
        f"users_{timezone.now():%Y%m%d_%H%M%S}.csv",
        [
            _("User Name"),
            _("First Name"),
            _("Last Name"),
            _("Email"),
            _("Role"),
            _("Source"),
            _("Status"),
            _("Last Login"),
            _("Description"),
        ],
        rows,
    )


@requires(Action.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def user_create(request):
    form = UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        with service_errors(request, form):
            user = user_service.create_user(
                actor=request.user,
                username=data["username"],
                password=data["password"],
                email=data["email"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                description=data["description"],
            )
            messages.success(request, _("The user “%(name)s” was added.") % {"name": user.username})
            return redirect("admin_users")
    return render(request, "admin_widgets/users/create.html", {"workspace": "admin", "form": form})


@requires(Action.MANAGE_USERS)
@requires(Action.CHANGE_SYSTEM_ROLE)
@require_POST
def user_role(request, pk):
    user = get_object_or_404(User, pk=pk)
    role = request.POST.get("system_role", "")
    with service_errors(request):
        user_service.change_system_role(actor=request.user, user=user, system_role=role)
        messages.success(
            request,
            _("The system role of “%(name)s” is now %(role)s.")
            % {"name": user.username, "role": user.get_system_role_display()},
        )
    return redirect(_back_to_table(request))


@requires(Action.MANAGE_USERS)
@require_POST
def user_disable(request, pk):
    user = get_object_or_404(User, pk=pk)
    with service_errors(request):
        user_service.disable_user(actor=request.user, user=user)
        messages.success(request, _("The user “%(name)s” was disabled.") % {"name": user.username})
    return redirect(_back_to_table(request))


@requires(Action.MANAGE_USERS)
@require_POST
def user_enable(request, pk):
    user = get_object_or_404(User, pk=pk)
    with service_errors(request):
        user_service.enable_user(actor=request.user, user=user)
        messages.success(request, _("The user “%(name)s” was enabled.") % {"name": user.username})
    return redirect(_back_to_table(request))


@requires(Action.MANAGE_USERS)
@require_POST
def user_unlock(request, pk):
    user = get_object_or_404(User, pk=pk)
    with service_errors(request):
        lockout.unlock_user(actor=request.user, user=user)
        messages.success(request, _("The user “%(name)s” was unlocked.") % {"name": user.username})
    return redirect(_back_to_table(request))


@requires(Action.MANAGE_USERS)
@require_POST
def user_remove(request, pk):
    user = get_object_or_404(User, pk=pk)
    username = user.username
    with service_errors(request):
        user_service.remove_user(actor=request.user, user=user)
        messages.success(request, _("The user “%(name)s” was removed.") % {"name": username})
    return redirect(_back_to_table(request))


@requires(Action.MANAGE_USERS)
@require_http_methods(["GET", "POST"])
def user_password(request, pk):
    user = get_object_or_404(User, pk=pk)
    form = PasswordResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_errors(request, form, fields={"password": "new_password"}):
            user_service.reset_password(actor=request.user, user=user, new_password=form.cleaned_data["new_password"])
            messages.success(
                request,
                _("The password of “%(name)s” was reset. They choose their own at their next login.")
                % {"name": user.username},
            )
            return redirect("admin_users")
    return render(request, "admin_widgets/users/password.html", {"workspace": "admin", "form": form, "target": user})


def _back_to_table(request):
    """The users table with the search, sort and page the action was started from."""
    table = reverse("admin_users")
    target = request.POST.get("next", "")
    if target.split("?")[0] == table and url_has_allowed_host_and_scheme(target, allowed_hosts=None):
        return target
    return table

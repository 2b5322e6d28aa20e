"""Forgot Password (Security widget, Password tab: "Allow all local users to recover and reset
their password by clicking Forgot Password option on the Login Screen").

The user gives their user name; ``accounts.services.password_reset`` mails a local, enabled user
with an email address a link that works once. The page answers the same, after the same work,
whether or not the user exists, so it tells nobody which names are valid. Opening the link moves
its token into the session (``reset_password_confirm``), so no later URL carries it.
"""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core import events
from core.service_views import service_errors

from .forms import PasswordStepForm
from .services import password_policy, password_reset
from .services.users import change_password

# Where the link's token is kept once opened, and what stands in its place in the URL after
# (the names Django's PasswordResetConfirmView uses).
RESET_SESSION_KEY = "_password_reset_token"
RESET_URL_TOKEN = "set-password"


def _enabled():
    if not password_policy.current().forgot_password_enabled:
        raise Http404


@require_http_methods(["GET", "POST"])
def forgot_password(request):
    _enabled()
    if request.method == "POST":
        username = request.POST.get("username", "").strip()[:150]
        if username:
            password_reset.request_link(username, request.build_absolute_uri("/"), get_language())
            messages.info(
                request,
                _("If “%(name)s” is a local user with an email address, a link to reset the password was sent to it.")
                % {"name": username},
            )
            return redirect("login")
        messages.error(request, _("Enter your user name."))
    return render(request, "accounts/forgot_password.html", {})


def _user_for(uidb64, token):
    User = get_user_model()
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    user = User.objects.filter(pk=pk, is_active=True, source=User.Source.LOCAL).first()
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user


@require_http_methods(["GET", "POST"])
def reset_password_confirm(request, uidb64, token):
    """The mailed link, then the form it leads to (Django's ``PasswordResetConfirmView`` pattern).

    The link's token is checked, kept in the session and the browser sent on to the same URL
    with ``set-password`` in its place: the token leaves the address bar and the history at once,
    and no later request, Referer header or log line carries it (the request for the link itself
    is logged with the token scrubbed, ``core/log_scrub.py``).
    """
    _enabled()
    if token != RESET_URL_TOKEN:
        if _user_for(uidb64, token) is None:
            return _invalid_link(request)
        request.session[RESET_SESSION_KEY] = token
        return redirect("password_reset_confirm", uidb64=uidb64, token=RESET_URL_TOKEN)
    user = _user_for(uidb64, request.session.get(RESET_SESSION_KEY, ""))
    if user is None:
        return _invalid_link(request)
    form = PasswordStepForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with service_errors(request, form, field="new_password"):
            with transaction.atomic():
                change_password(user=user, new_password=form.cleaned_data["new_password"])
                events.record("security.password_reset_done", actor=user, user_name=user.username)
            # change_password's event mails the user (A.5 "Notification of password update").
            del request.session[RESET_SESSION_KEY]
            messages.success(request, _("Your password is changed. Log in with your new password."))
            return redirect("login")
    return render(request, "accounts/reset_password.html", {"form": form, "rules": password_policy.help_text()})


def _invalid_link(request):
    request.session.pop(RESET_SESSION_KEY, None)
    return render(request, "accounts/reset_password.html", {"invalid": True}, status=400)

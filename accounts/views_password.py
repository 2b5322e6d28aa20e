"""Forgot Password (Security widget, Password tab: "Allow all local users to recover and reset
their password by clicking Forgot Password option on the Login Screen").

The user gives their user name; a local, enabled user with an email address gets a link made by
Django's password-reset token generator. The token is tied to the password hash and the last
login, so it works once: setting the new password (or logging in) invalidates it. The page
answers the same whether or not the user exists, so it tells nobody which names are valid.
Opening the link moves its token into the session (``reset_password_confirm``).
"""
import datetime

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from onprem import events, mail
from onprem.errors import ServiceError
from onprem.models import Event

from .forms import PasswordStepForm
from .services import password_policy
from .services.users import change_password

# One link per user per this many minutes, so the form cannot be used to flood a mailbox.
RESEND_AFTER = datetime.timedelta(minutes=5)
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
            _send_link(request, username)
            messages.info(request, _("If “%(name)s” is a local user with an email address, a link to reset "
                                     "the password was sent to it.") % {"name": username})
            return redirect("login")
        messages.error(request, _("Enter your user name."))
    return render(request, "accounts/forgot_password.html", {})


def _send_link(request, username):
    User = get_user_model()
    user = User.objects.filter(username=username, is_active=True, source=User.Source.LOCAL).exclude(email="").first()
    if user is None:
        return
    recent = Event.objects.filter(event_type="security.password_reset_requested", user=user,
                                  created_at__gte=timezone.now() - RESEND_AFTER)
    if recent.exists():
        return
    link = request.build_absolute_uri(reverse("password_reset_confirm", kwargs={
        "uidb64": urlsafe_base64_encode(force_bytes(user.pk)), "token": default_token_generator.make_token(user),
    }))
    with transaction.atomic():
        events.record("security.password_reset_requested", actor=user, user_name=user.username)
    mail.send_later(
        _("Reset your password"),
        _("Hello %(name)s,\n\nsomeone (hopefully you) asked to reset your password for the license server. "
          "Open this link to choose a new password; it works once:\n\n%(link)s\n\n"
          "If you did not ask for it, ignore this mail: your password stays as it is.\n")
        % {"name": user.username, "link": link},
        [user.email],
    )


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
    is logged with the token scrubbed, ``onprem/log_scrub.py``).
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
        try:
            with transaction.atomic():
                change_password(user=user, new_password=form.cleaned_data["new_password"])
                events.record("security.password_reset_done", actor=user, user_name=user.username)
        except ServiceError as error:
            form.add_error("new_password", error.message)
        else:
            del request.session[RESET_SESSION_KEY]
            mail.send_later(_("Your password was changed"),
                            _("Hello %(name)s,\n\nthe password of your account on the license server was just "
                              "changed with a password reset link. If it was not you, tell your administrator.\n")
                            % {"name": user.username}, [user.email])
            messages.success(request, _("Your password is changed. Log in with your new password."))
            return redirect("login")
    return render(request, "accounts/reset_password.html", {"form": form,
                                                            "rules": password_policy.help_text()})


def _invalid_link(request):
    request.session.pop(RESET_SESSION_KEY, None)
    return render(request, "accounts/reset_password.html", {"invalid": True}, status=400)

"""Session rules that apply to every page: idle timeout, the user's language, the first-login wizard."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from core import events

LAST_ACTIVITY_KEY = "onprem_last_activity"
# Refresh the stored activity time at most this often, so a busy page does not write the
# session row on every request; the timeout is still exact to within this many seconds.
ACTIVITY_WRITE_GRANULARITY = 15


def now():
    """The clock the idle timeout reads (tests move it)."""
    return time.time()


class IdleTimeoutMiddleware:
    """Logs a user out after 10 minutes without a request (the guide's non-configurable timeout)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            current = now()
            last = request.session.get(LAST_ACTIVITY_KEY)
            if last is not None and current - last > settings.IDLE_TIMEOUT_SECONDS:
                events.record("auth.idle_timeout", actor=user, user_name=user.username)
                logout(request)
                messages.info(request, _("You were logged out after 10 minutes without activity."))
                return redirect(f"{reverse('login')}?next={request.path}")
            if last is None or current - last >= ACTIVITY_WRITE_GRANULARITY:
                request.session[LAST_ACTIVITY_KEY] = current
        return self.get_response(request)


class UserLanguageMiddleware:
    """Show pages in the language the signed-in user chose (English, Japanese, Chinese, Korean)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.language:
            return self.get_response(request)
        # override(), not activate(): the language must not leak into whatever this thread
        # serves next (another user's request, a task, a test).
        with translation.override(user.language):
            request.LANGUAGE_CODE = translation.get_language()
            response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class FirstLoginWizardMiddleware:
    """Until a user has finished the initial login wizard, every page leads to the wizard."""

    EXEMPT_PREFIXES = (
        "/welcome/",
        "/logout/",
        "/static/",
        "/login/",
        # Machine endpoints answer machines, whatever session cookie comes along.
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/",
        "/backend/",
        "/oauth/",
        "/SmartTransport",
        "/Transportgateway/",
        "/cslu/",
    )

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and user.needs_first_login_wizard
            and not request.path.startswith(self.EXEMPT_PREFIXES)
        ):
            return redirect("first_login", step="language")
        return self.get_response(request)

"""The two ends of an external sign-in: the login page's button, and the provider's callback."""

import logging

from django.contrib import messages
from django.contrib.auth import login
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from core import events

from . import flow, provider
from .config import active_provider

logger = logging.getLogger(__name__)
KINDS = ("adfs", "sso")
# The session of an externally signed-in user is carried by Django's model backend (whose
# get_user() honours is_active); the password check never matches: their password is unusable.
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


def redirect_uri(request, kind):
    """The Service Provider Redirect URI, as the browser reaches this server (the guide)."""
    return request.build_absolute_uri(reverse("external_login_callback", kwargs={"kind": kind}))


def _config_or_404(kind):
    if kind not in KINDS:
        raise Http404
    config = active_provider(kind)
    if config is None:
        raise Http404
    return config


@require_POST
def start(request, kind):
    config = _config_or_404(kind)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    try:
        url = flow.begin(request, config, redirect_uri(request, kind), next_url)
    except provider.ProviderError as error:
        logger.warning("%s sign-in could not start: %s", kind, error)
        messages.error(
            request,
            _("%(method)s cannot be reached right now: %(reason)s.")
            % {"method": config.get_kind_display(), "reason": error},
        )
        return redirect("login")
    return redirect(url)


@require_GET
def callback(request, kind):
    config = _config_or_404(kind)
    try:
        user, next_url = flow.complete(request, config, request.GET)
    except flow.SignInFailed as error:
        events.record("auth.external_login_failed", method=config.get_kind_display(), reason=str(error))
        messages.error(
            request,
            _("The %(method)s login failed: %(reason)s.") % {"method": config.get_kind_display(), "reason": error},
        )
        return redirect("login")
    login(request, user, backend=SESSION_BACKEND)
    return redirect(next_url or "home")

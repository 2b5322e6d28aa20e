"""Session limit (guide "Security Widget", Account tab: "the number of sessions that can be
opened for a user. The range is 1-999").

The guide does not say what happens at the limit. Our decision: the new login wins and the
user's oldest sessions are ended. Refusing the new login instead would shut out a user who
closed a browser without logging out until that session runs out (up to 12 hours), and a
person who knows the password can always log in somewhere anyway.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.contrib.sessions.models import Session
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.module_loading import import_string

from core import events

from ..security_models import UserSession
from . import password_policy


def _store(session_key):
    from django.conf import settings

    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key=session_key)


def live_sessions(user):
    """The user's sessions that still exist, oldest first; rows of dead sessions are dropped."""
    rows = list(UserSession.objects.filter(user=user).order_by("started_at", "pk"))
    if not rows:
        return []
    alive = set(
        Session.objects.filter(
            session_key__in=[row.session_key for row in rows], expire_date__gt=timezone.now()
        ).values_list("session_key", flat=True)
    )
    dead = [row.pk for row in rows if row.session_key not in alive]
    if dead:
        UserSession.objects.filter(pk__in=dead).delete()
    return [row for row in rows if row.session_key in alive]


@transaction.atomic
def session_started(request, user):
    """Register the session ``request`` just logged in with; end the oldest ones over the limit."""
    if request.session.session_key is None:
        request.session.save()
    key = request.session.session_key
    UserSession.objects.update_or_create(session_key=key, defaults={"user": user, "started_at": password_policy.now()})
    policy = password_policy.current()
    if not policy.session_limit_enabled:
        return 0
    others = [row for row in live_sessions(user) if row.session_key != key]
    excess = len(others) + 1 - policy.session_limit
    ended = 0
    for row in others[: max(0, excess)]:
        _store(row.session_key).delete()
        row.delete()
        ended += 1
    if ended:
        events.record(
            "security.session_ended", actor=user, user_name=user.username, count=ended, limit=policy.session_limit
        )
    return ended


@receiver(user_logged_in, dispatch_uid="security_session_started")
def _logged_in(sender, request, user, **kwargs):
    # Every way in (the login form, OAuth2 ADFS, SSO) ends in django.contrib.auth.login().
    if request is not None and getattr(request, "session", None) is not None:
        session_started(request, user)


@receiver(user_logged_out, dispatch_uid="security_session_ended")
def _logged_out(sender, request, user, **kwargs):
    if request is not None and getattr(request, "session", None) is not None and request.session.session_key:
        UserSession.objects.filter(session_key=request.session.session_key).delete()

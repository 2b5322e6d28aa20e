"""Auto lock (guide "Security Widget", Account tab).

With auto lock on, a user who fails to log in ``auto_lock_attempts`` times within
``auto_lock_window_minutes`` is locked: the login form refuses them before their password is
checked. The lock ends when an administrator unlocks them or, with lock expiration on, after
``lock_expiration_minutes``. Failures are counted only for users that exist, so random names
typed at the form leave no rows (the IP rate limit deals with those).
"""

import datetime
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import events
from core.errors import NotAllowed, ServiceError

from ..rbac import Action, can, may_manage_user
from ..security_models import LoginFailure, UserLock
from . import password_policy


def now():
    """The clock of the lock rules (tests move it)."""
    return timezone.now()


@dataclass(frozen=True)
class LockState:
    locked: bool
    until: datetime.datetime | None = None  # None while locked: until an administrator unlocks


def _user(username):
    if not username:
        return None
    return get_user_model().objects.filter(username=username.strip()).first()


def lock_state(user, policy=None):
    """Whether ``user`` is locked now; an expired lock is lifted here (and logged)."""
    lock = UserLock.objects.filter(user=user).first()
    if lock is None:
        return LockState(False)
    policy = policy or password_policy.current()
    if policy.lock_expiration_enabled:
        until = lock.locked_at + datetime.timedelta(minutes=policy.lock_expiration_minutes)
        if now() >= until:
            with transaction.atomic():
                UserLock.objects.filter(pk=lock.pk).delete()
                LoginFailure.objects.filter(user=user).delete()
                events.record("security.lock_expired", actor=None, user_name=user.username)
            return LockState(False)
        return LockState(True, until)
    return LockState(True)


def locked_message(state):
    if state.until is not None:
        return _("Your account is locked because of too many failed login attempts. Try again after %(time)s UTC.") % {
            "time": f"{state.until:%Y-%m-%d %H:%M}"
        }
    return _(
        "Your account is locked because of too many failed login attempts. Contact your administrator to unlock it."
    )


def check_before_login(username):
    """The refusal message for a locked user, or "" when they may try their password."""
    user = _user(username)
    if user is None:
        return ""
    state = lock_state(user)
    if not state.locked:
        return ""
    events.record("security.login_refused_locked", actor=None, user_name=user.username)
    return locked_message(state)


@transaction.atomic
def login_failed(username):
    """Count one failed login; lock the user when the rule says so. Returns the LockState."""
    user = _user(username)
    policy = password_policy.current()
    if user is None or not policy.auto_lock_enabled:
        return LockState(False)
    moment = now()
    LoginFailure.objects.create(user=user, at=moment)
    since = moment - datetime.timedelta(minutes=policy.auto_lock_window_minutes)
    # Failures older than the window never count again: drop them so the table stays small.
    LoginFailure.objects.filter(user=user, at__lte=since).delete()
    if LoginFailure.objects.filter(user=user, at__gt=since).count() < policy.auto_lock_attempts:
        return LockState(False)
    _lock, created = UserLock.objects.get_or_create(user=user, defaults={"locked_at": moment})
    if created:
        events.record(
            "security.user_locked",
            actor=None,
            user_name=user.username,
            attempts=policy.auto_lock_attempts,
            minutes=policy.auto_lock_window_minutes,
        )
    return lock_state(user, policy)


def attempts_left(username):
    """How many more failures lock the user (None when auto lock is off or the user is unknown)."""
    user = _user(username)
    policy = password_policy.current()
    if user is None or not policy.auto_lock_enabled:
        return None
    since = now() - datetime.timedelta(minutes=policy.auto_lock_window_minutes)
    return max(0, policy.auto_lock_attempts - LoginFailure.objects.filter(user=user, at__gt=since).count())


def login_succeeded(user):
    """A good password resets the count of failures."""
    LoginFailure.objects.filter(user=user).delete()


def locked_users():
    """The locks in force, oldest first (expired ones are lifted when the user next tries)."""
    return UserLock.objects.select_related("user").order_by("locked_at", "pk")


@transaction.atomic
def unlock_user(*, actor, user):
    """An administrator unlocks ``user`` (the Security widget, or the Users widget)."""
    if actor is not None and not can(actor, Action.MANAGE_USERS):
        raise NotAllowed(_("You are not allowed to unlock users."))
    if actor is not None and not may_manage_user(actor, user):
        raise NotAllowed(_("Only a System Admin can unlock the System Admin “%(name)s”.") % {"name": user.username})
    deleted, _rows = UserLock.objects.filter(user=user).delete()
    if not deleted:
        raise ServiceError(_("The user “%(name)s” is not locked.") % {"name": user.username})
    LoginFailure.objects.filter(user=user).delete()
    events.record(
        "security.user_unlocked", actor=actor, user_name=user.username, by=getattr(actor, "username", "system")
    )


# --- What the login form says (Password tab: "Enable login error message notification") ---------


def generic_error():
    return _("Invalid username or password.")


def refusal_before_password(username):
    """The message for a locked user (generic when hints are off), or ""."""
    message = check_before_login(username)
    if message and not password_policy.current().login_error_hints:
        return generic_error()
    return message


def failed_login_message(username, password, default_message):
    """Count the failure and say why it failed, as much as the hints setting allows
    (``default_message``: the form's own text for a wrong password)."""
    state = login_failed(username)
    if not password_policy.current().login_error_hints:
        return generic_error()
    if state.locked:
        return locked_message(state)
    user = _user(username)
    if user is None:
        return _("There is no user named “%(name)s”.") % {"name": username.strip()[:150]}
    if not user.is_active and user.check_password(password):
        return _("The user “%(name)s” is disabled. Contact your administrator.") % {"name": user.username}
    message = str(default_message)
    left = attempts_left(username)
    if left is not None:
        message += " " + _("%(count)d more failed attempts lock the account.") % {"count": left}
    return message

"""The installation always keeps one enabled System Admin.

Only a System Admin changes system roles, the security settings and the API console; with none
left enabled nobody could, short of editing the database. So every change that can take a user
out of the enabled System Admins — disable, remove, a new system role, whether from the Users
widget, a command or an identity provider's role claims — first calls ``lock(user)`` inside its
transaction and refuses when it says the user is the last one.

``lock`` row-locks every enabled System Admin together with the user, in one statement and in
primary-key order: two requests that each take out one of the last two admins then run one after
the other, and the second sees that only one is left. Locking in one fixed order means two such
changes never deadlock.
"""

from django.contrib.auth import get_user_model
from django.db.models import Q

from core.errors import ServiceError

from ..roles import SystemRole


class LastSystemAdmin(ServiceError):
    """The change would leave no enabled System Admin."""


def lock(user):
    """Lock the enabled System Admins and ``user``; reload ``user``'s role and status as stored now.

    Returns True when ``user`` is now the only enabled System Admin. Call it inside the
    transaction that makes the change.
    """
    User = get_user_model()
    rows = list(
        User.objects.select_for_update()
        .filter(Q(system_role=SystemRole.ADMIN, is_active=True) | Q(pk=user.pk))
        .order_by("pk")
        .values_list("pk", "system_role", "is_active")
    )
    state = {pk: (role, active) for pk, role, active in rows}
    if user.pk not in state:
        raise ServiceError(f"The user “{user.username}” no longer exists.")
    user.system_role, user.is_active = state[user.pk]
    enabled_admins = [pk for pk, (role, active) in state.items() if role == SystemRole.ADMIN and active]
    return enabled_admins == [user.pk]


def refusal(user, change):
    """The error for ``change`` (e.g. "disable them") of the last enabled System Admin ``user``."""
    return LastSystemAdmin(
        f"“{user.username}” is the only enabled System Admin, so you cannot {change}. "
        "Make another user a System Admin first."
    )

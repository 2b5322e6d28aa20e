"""Users: create, change system role, disable / enable / remove, passwords, the first-login wizard.

The guide's rules: a new local user is a System User; only a disabled user can be removed;
nobody disables or removes themselves; only a System Admin changes system roles. Ours: only a
System Admin acts on another System Admin (``rbac.may_manage_user``), and the last enabled System
Admin is never disabled, removed or given another role (``last_admin``).
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from core import events
from core.errors import NotAllowed, ServiceError

from ..rbac import Action, can, may_manage_user
from ..roles import SystemRole
from . import initial_password, last_admin, password_policy

User = get_user_model()


def _require(actor, action):
    if actor is not None and not can(actor, action):
        raise NotAllowed(f"You are not allowed to {action.replace('_', ' ')}.")


def _require_over(actor, user):
    """``actor`` may act on ``user`` in the Users widget (``user`` as stored now: lock it first)."""
    _require(actor, Action.MANAGE_USERS)
    if actor is not None and not may_manage_user(actor, user):
        raise NotAllowed(f"Only a System Admin can change the System Admin “{user.username}”.")


def _lock(user):
    """Lock ``user``'s row and reload the columns the rules read."""
    try:
        user.refresh_from_db(
            fields=["system_role", "is_active", "source"], from_queryset=User.objects.select_for_update()
        )
    except User.DoesNotExist:
        raise ServiceError(f"The user “{user.username}” no longer exists.") from None
    return user


def _check_password(password, user):
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ServiceError(" ".join(error.messages), field="password") from error


def store_password(user, *, raw=None, encoded=None, also=()):
    """Set and save the password of an existing ``user``: the one place a password changes.

    ``raw`` (already validated by the caller) is hashed here, or ``encoded`` is a hash made
    earlier (the wizard keeps only that between its steps); ``also`` names other fields the
    caller changed on ``user``, saved with it. The new hash joins the password history, the
    expiry clock starts again, and every API token the user got with the old password is
    revoked. (Django's own ``set_password()`` followed by ``save()``, as its ``changepassword``
    command does, revokes the tokens through ``SecurityPolicyValidator.password_changed``.)
    """
    from .api_grants import revoke_user_tokens

    # make_password, not set_password: the latter would have save() call the validators'
    # password_changed hook, revoking the tokens a second time.
    user.password = make_password(raw) if encoded is None else encoded
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password", "password_changed_at", *also])
    password_policy.remember(user)
    revoke_user_tokens(user)
    return user


@transaction.atomic
def create_user(
    *,
    actor,
    username,
    password,
    email="",
    first_name="",
    last_name="",
    description="",
    system_role=SystemRole.USER,
    needs_first_login_wizard=True,
):
    """Add a local user (System User unless a System Admin chooses otherwise)."""
    _require(actor, Action.MANAGE_USERS)
    if system_role != SystemRole.USER:
        _require(actor, Action.CHANGE_SYSTEM_ROLE)
    if system_role not in SystemRole.values:
        raise ServiceError(f"Unknown system role “{system_role}”.", field="system_role")
    username = username.strip()
    if User.objects.filter(username__iexact=username).exists():
        raise ServiceError(f"A user named “{username}” already exists.", field="username")
    user = User(
        username=username,
        email=email,
        first_name=first_name,
        last_name=last_name,
        description=description,
        system_role=system_role,
        needs_first_login_wizard=needs_first_login_wizard,
    )
    _check_password(password, user)
    user.password = make_password(password)  # a new row: no history yet, no tokens to revoke
    user.password_changed_at = timezone.now()
    user.full_clean()
    user.save()
    password_policy.remember(user)
    events.record("user.added", actor=actor, user_name=user.username)
    return user


@transaction.atomic
def change_system_role(*, actor, user, system_role):
    _require(actor, Action.CHANGE_SYSTEM_ROLE)
    if system_role not in SystemRole.values:
        raise ServiceError(f"Unknown system role “{system_role}”.", field="system_role")
    if actor is not None and actor.pk == user.pk:
        raise ServiceError("You cannot change your own system role.")
    if last_admin.lock(user) and system_role != SystemRole.ADMIN:
        raise last_admin.refusal(user, "change their system role")
    user.system_role = system_role
    user.save(update_fields=["system_role"])
    events.record(
        "user.system_role_changed",
        actor=actor,
        notify=[user],
        user_name=user.username,
        role_name=SystemRole(system_role).label,
    )
    return user


def _refuse_self(actor, user, verb):
    if actor is not None and actor.pk == user.pk:
        raise ServiceError(f"You cannot {verb} yourself.")


@transaction.atomic
def disable_user(*, actor, user):
    _require(actor, Action.MANAGE_USERS)
    _refuse_self(actor, user, "disable")
    is_last_admin = last_admin.lock(user)
    _require_over(actor, user)
    if not user.is_active:
        raise ServiceError(f"The user “{user.username}” is already disabled.")
    if is_last_admin:
        raise last_admin.refusal(user, "disable them")
    user.is_active = False
    user.save(update_fields=["is_active"])
    # Existing sessions die with it: Django's ModelBackend refuses inactive users on every request.
    events.record("user.disabled", actor=actor, user_name=user.username)
    return user


@transaction.atomic
def enable_user(*, actor, user):
    _require(actor, Action.MANAGE_USERS)
    _require_over(actor, _lock(user))
    if user.is_active:
        raise ServiceError(f"The user “{user.username}” is already enabled.")
    user.is_active = True
    user.save(update_fields=["is_active"])
    events.record("user.enabled", actor=actor, user_name=user.username)
    return user


@transaction.atomic
def remove_user(*, actor, user):
    """Remove a user. The guide: "You must first disable a user before you can remove them." """
    _require(actor, Action.MANAGE_USERS)
    _refuse_self(actor, user, "remove")
    # Locked so a concurrent "enable" cannot slip in between the check below and the delete: only
    # a disabled user is removed, so never the last enabled System Admin.
    _require_over(actor, _lock(user))
    if user.is_active:
        raise ServiceError("You must first disable a user before you can remove them.")
    username = user.username
    user.delete()
    events.record("user.removed", actor=actor, user_name=username)


@transaction.atomic
def change_password(*, user, new_password, actor=None):
    """Set a new password after the strength rules; the user's own or by an administrator."""
    if actor is not None and actor.pk != user.pk:
        _require_over(actor, user)
    _check_password(new_password, user)
    store_password(user, raw=new_password)
    events.record("user.password_changed", actor=actor or user, notify=[user], user_name=user.username)
    return user


def check_new_password(user, new_password):
    """Validate a password the user chose for themselves (strength rules, differs from the current)."""
    if user.check_password(new_password):
        raise ServiceError("The new password must differ from the current one.", field="new_password")
    _check_password(new_password, user)


@transaction.atomic
def complete_first_login(*, user, language, password_hash):
    """Finish the initial login wizard: the language and the new password (already validated by
    ``check_new_password`` and kept only as a hash between the wizard's steps).

    Returns True when the generated first-admin password file is deleted with it."""
    from django.conf import settings
    from django.contrib.auth.hashers import identify_hasher

    if language not in dict(settings.LANGUAGES):
        raise ServiceError(f"Unknown language “{language}”.", field="language")
    try:
        identify_hasher(password_hash)
    except ValueError as error:
        raise ServiceError("Choose your new password again.", field="new_password") from error
    # The generated password ensure_admin kept on disk is useless once replaced: delete it after
    # the commit (only when it is this user's, so another user's wizard leaves it alone).
    forgets_file = initial_password.is_for(user)
    if forgets_file:
        transaction.on_commit(initial_password.forget)
    user.language = language
    user.needs_first_login_wizard = False
    store_password(user, encoded=password_hash, also=["language", "needs_first_login_wizard"])
    events.record("user.password_changed", actor=user, notify=[user], user_name=user.username)
    events.record("user.first_login_completed", actor=user, user_name=user.username)
    return forgets_file


@transaction.atomic
def reset_password(*, actor, user, new_password):
    """An administrator sets a new password for another local user (the Users widget).

    The user must run the initial login wizard again at their next login, so the password the
    administrator knows is replaced by one only the user knows. Changing the password also ends
    the user's existing sessions (Django checks the password hash kept in each session).
    Resetting a System Admin's password takes a System Admin: otherwise a System Operator could
    sign in as one. The user's API tokens are revoked (``store_password``), so a token got with
    the old password does not outlive it.
    """
    _require(actor, Action.MANAGE_USERS)
    if actor is not None and actor.pk == user.pk:
        raise ServiceError("You cannot reset your own password.")
    _require_over(actor, _lock(user))
    if user.source != User.Source.LOCAL:
        raise ServiceError(
            f"The password of “{user.username}” is kept by its {user.get_source_display()} server, not here."
        )
    _check_password(new_password, user)
    # The Security widget's "Force users to change password after the administrator resets it".
    user.needs_first_login_wizard = password_policy.current().force_change_after_reset
    store_password(user, raw=new_password, also=["needs_first_login_wizard"])
    events.record("user.password_reset", actor=actor, notify=[user], user_name=user.username)
    return user

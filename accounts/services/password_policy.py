"""The Security widget's policy row and the password rules (guide "Security Widget", Password tab).

Every place that sets a password validates it through Django's ``validate_password``, whose
validator (``accounts.password_validators.SecurityPolicyValidator``) asks ``password_errors``
here, and then calls ``remember`` so the hash joins the user's history. The rules apply to
local users only: LDAP and ADFS users' passwords are kept by their own servers.
"""

import datetime
import string

from django.contrib.auth.hashers import check_password
from django.contrib.auth.password_validation import (
    CommonPasswordValidator,
    MinimumLengthValidator,
    NumericPasswordValidator,
)
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core import events
from core.errors import NotAllowed, ServiceError

from ..rbac import Action, can
from ..security_models import PasswordHistory, SecurityPolicy

# The most passwords any history setting can look back on (the guide's range is 1-99).
HISTORY_KEEP = 99
SPECIAL_CHARACTERS = set(string.punctuation) | {" "}

ACCOUNT_FIELDS = [
    "auto_lock_enabled",
    "auto_lock_attempts",
    "auto_lock_window_minutes",
    "lock_expiration_enabled",
    "lock_expiration_minutes",
    "session_limit_enabled",
    "session_limit",
    "registration_limit_per_token",
    "registration_limit_per_va",  # registration limits
    # the device channel: who may push to the CSLU endpoint, and the usage bounds
    "cslu_access",
    "cslu_networks",
    "device_max_license_count",
    "device_max_licenses_per_message",
]
PASSWORD_FIELDS = [
    "login_error_hints",
    "forgot_password_enabled",
    "force_change_after_reset",
    "strength_rules_enabled",
    "rule_not_username",
    "rule_mixed_case",
    "rule_digit",
    "rule_special",
    "rule_not_common",
    "min_length",
    "history_enabled",
    "history_count",
    "expiration_enabled",
    "expiration_days",
    "expiration_warning_enabled",
    "expiration_warning_days",
    "change_after_expiry_allowed",
    "expiration_email_enabled",
    "expiration_email_days",
]
TAB_FIELDS = {"account": ACCOUNT_FIELDS, "password": PASSWORD_FIELDS}


def now():
    """The clock of the password and lock rules (tests move it)."""
    return timezone.now()


def current():
    """The policy row; the defaults of the guide until an administrator saves one."""
    policy = SecurityPolicy.objects.filter(pk=1).first()
    return policy or SecurityPolicy(pk=1)


def cached():
    """``current()`` from this process's copy (``core.process_settings``), for the device path:
    no query while the policy has not changed (a save bumps the stamp: ``accounts.signals``)."""
    from core import process_settings

    return process_settings.read("security-policy", current)


@transaction.atomic
def update(tab, *, actor, **values):
    """Save the fields of one tab (``account`` or ``password``) and log who changed them."""
    if actor is not None and not can(actor, Action.CHANGE_SYSTEM_CONFIG):
        raise NotAllowed(_("Only a System Administrator can change the security settings."))
    unknown = set(values) - set(TAB_FIELDS[tab])
    if unknown:
        raise ServiceError(f"Unknown setting {sorted(unknown)[0]}.")
    policy = SecurityPolicy.objects.select_for_update().filter(pk=1).first() or SecurityPolicy(pk=1)
    for name, value in values.items():
        setattr(policy, name, value)
    try:
        policy.full_clean()
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise ServiceError(" ".join(messages), field=field) from error
    policy.save()
    events.record(f"security.{tab}_settings_changed", actor=actor, user_name=getattr(actor, "username", "system"))
    return policy


def applies_to(user):
    """Local users only (None: a user being created here, so local too)."""
    from django.contrib.auth import get_user_model

    return user is None or getattr(user, "source", get_user_model().Source.LOCAL) == get_user_model().Source.LOCAL


def password_errors(password, user=None, policy=None):
    """The guide's strength rules ``password`` breaks, as messages (empty: acceptable)."""
    if not applies_to(user):
        return []
    policy = policy or current()
    if not policy.strength_rules_enabled:
        return []
    errors = []
    # Django's own validators where the rule is theirs, so the messages read the same everywhere.
    errors += _django_errors(MinimumLengthValidator(policy.min_length), password)
    errors += _django_errors(NumericPasswordValidator(), password)
    if policy.rule_mixed_case and not (any(c.islower() for c in password) and any(c.isupper() for c in password)):
        errors.append(_("The password must include upper and lower case letters."))
    if policy.rule_digit and not any(c.isdigit() for c in password):
        errors.append(_("The password must include numeric characters (0-9)."))
    if policy.rule_special and not any(c in SPECIAL_CHARACTERS for c in password):
        errors.append(_("The password must include special characters such as ! ? -."))
    username = getattr(user, "username", "") or ""
    if policy.rule_not_username and username and username.lower() in password.lower():
        errors.append(_("The password is too similar to the username: it must not contain the user's name."))
    if policy.rule_not_common:
        errors += _django_errors(CommonPasswordValidator(), password)
    if policy.history_enabled and user is not None and user.pk and in_history(user, password, policy.history_count):
        errors.append(
            _("The password must not be one of the last %(count)d passwords used.") % {"count": policy.history_count}
        )
    return errors


def _django_errors(validator, password):
    try:
        validator.validate(password)
    except ValidationError as error:
        return list(error.messages)
    return []


def help_text(policy=None):
    policy = policy or current()
    if not policy.strength_rules_enabled:
        return ""
    parts = [_("at least %(count)d characters") % {"count": policy.min_length}]
    if policy.rule_mixed_case:
        parts.append(_("upper and lower case letters"))
    if policy.rule_digit:
        parts.append(_("a digit"))
    if policy.rule_special:
        parts.append(_("a special character"))
    return _("Passwords need %(rules)s.") % {"rules": ", ".join(parts)}


def in_history(user, password, count):
    hashes = PasswordHistory.objects.filter(user=user).order_by("-created_at", "-pk").values_list("password", flat=True)
    return any(check_password(password, encoded) for encoded in hashes[:count])


def remember(user):
    """Add the user's current password hash to their history (call after every password change)."""
    if not user.password or not applies_to(user):
        return
    PasswordHistory.objects.create(user=user, password=user.password, created_at=now())
    stale = PasswordHistory.objects.filter(user=user).order_by("-created_at", "-pk").values_list("pk", flat=True)
    old = list(stale[HISTORY_KEEP:])
    if old:
        PasswordHistory.objects.filter(pk__in=old).delete()


# --- Expiration ---------------------------------------------------------------------------------


def expires_at(user, policy=None):
    """When the user's password expires, or None (expiration off, not local, never set)."""
    policy = policy or current()
    if not policy.expiration_enabled or not applies_to(user) or not user.password_changed_at:
        return None
    return user.password_changed_at + datetime.timedelta(days=policy.expiration_days)


def expiry_state(user, policy=None):
    """("ok" | "warn" | "expired", days left or None)."""
    policy = policy or current()
    when = expires_at(user, policy)
    if when is None:
        return "ok", None
    left = when - now()
    if left <= datetime.timedelta(0):
        return "expired", 0
    days = left.days + (1 if left.seconds or left.microseconds else 0)
    if policy.expiration_warning_enabled and left <= datetime.timedelta(days=policy.expiration_warning_days):
        return "warn", days
    return "ok", days


def send_expiration_notices():
    """Mail local users whose password expires within the policy's notice days (once per password).

    Meant for a daily run (Celery beat); returns how many mails were queued.
    """
    from django.contrib.auth import get_user_model

    from core import mail
    from core.models import Event

    policy = current()
    if not policy.expiration_enabled or not policy.expiration_email_enabled:
        return 0
    User = get_user_model()
    moment = now()
    oldest = moment - datetime.timedelta(days=policy.expiration_days)
    latest = oldest + datetime.timedelta(days=policy.expiration_email_days)
    sent = 0
    candidates = User.objects.filter(
        is_active=True,
        source=User.Source.LOCAL,
        password_changed_at__gt=oldest,
        password_changed_at__lte=latest,
    ).exclude(email="")
    for user in candidates:
        if Event.objects.filter(
            event_type="security.password_expiry_notice", user=user, created_at__gte=user.password_changed_at
        ).exists():
            continue
        when = expires_at(user, policy)
        body = _(
            "Hello %(name)s,\n\nyour password for the license server expires on %(date)s UTC. "
            "Sign in and change it before then.\n"
        ) % {"name": user.username, "date": f"{when:%Y-%m-%d %H:%M}"}
        # The mail is A.5's "User Password Expiration Notification" (accounts.notifications),
        # sent once this commits.
        with transaction.atomic():
            events.record(
                "security.password_expiry_notice",
                actor=user,
                notify=[user],
                mail=mail.Content(body=body),
                user_name=user.username,
                date=f"{when:%Y-%m-%d %H:%M} UTC",
            )
        sent += 1
    return sent


# --- At login ------------------------------------------------------------------------------------


def refusal_at_login(user):
    """An expired password the policy does not let the user change themselves refuses the login."""
    policy = current()
    state, _days = expiry_state(user, policy)
    if state != "expired" or policy.change_after_expiry_allowed:
        return ""
    events.record("security.login_refused_expired", actor=user, user_name=user.username)
    if not policy.login_error_hints:
        return _("Invalid username or password.")
    return _("Your password has expired. Contact your administrator to reset it.")


def at_login(request, user):
    """After a login: an expired password must be changed at once (the initial login wizard's
    password step), one about to expire gets a warning."""
    from django.contrib import messages

    policy = current()
    state, days = expiry_state(user, policy)
    if state == "expired":
        if not user.needs_first_login_wizard:
            user.needs_first_login_wizard = True
            user.save(update_fields=["needs_first_login_wizard"])
            events.record("security.password_expired", actor=user, user_name=user.username)
        messages.warning(request, _("Your password has expired. Choose a new password."))
    elif state == "warn":
        messages.warning(
            request, _("Your password expires in %(days)d day(s). Change it before then.") % {"days": days}
        )

"""The sign-in policy: every rule a sign-in with a user name and password must pass, in one place.

Two ways in take a password: the login form (``accounts/views.py``, ``LoginForm``) and the OAuth2
password grant of the token endpoint (``accounts/oauth_validator.py``). Both call ``check``, so a
rule added to ``RULES`` holds for both; only when every rule passes does the failure count start
again from zero. The rules in order, and what each way in answers: docs/security.md, "Sign-in
policy: the login form and the password grant".
"""

from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.utils.translation import gettext as _

from core import events

from . import lockout, password_policy

# The backend whose password check may open a user of each source (``user.backend`` after
# authenticate()); sources not listed (OAuth2 ADFS, SSO) never sign in with a password.
PASSWORD_BACKENDS = {
    "local": "django.contrib.auth.backends.ModelBackend",
    "ldap": "accounts.ldap_backend.LDAPBackend",
}


@dataclass
class Attempt:
    request: object  # the HttpRequest (the backends may read it), or None
    username: str
    password: str
    web: bool  # the login form: it can lead the user on into the wizard
    invalid_message: str  # what a wrong user name or password is told, before the hints
    user: object = None  # set by the credentials rule


@dataclass(frozen=True)
class Verdict:
    user: object = None  # the user signing in, when every rule passed
    message: str = ""  # why not, as the person may be told
    rule: str = ""  # the rule that refused

    @property
    def allowed(self):
        return self.user is not None and not self.message


def not_locked(attempt):
    return lockout.refusal_before_password(attempt.username)


def credentials(attempt):
    user = _authenticate(attempt)
    if user is None:
        return lockout.failed_login_message(attempt.username, attempt.password, attempt.invalid_message)
    attempt.user = user
    return ""


def _authenticate(attempt):
    """The user whose password this is, through the backend of their source; else None."""
    user = authenticate(attempt.request, username=attempt.username, password=attempt.password)
    if user is None or not user.is_active:
        return None
    if getattr(user, "backend", None) != PASSWORD_BACKENDS.get(user.source):
        # A failure like any other, in the event log too (authenticate() itself saw a match).
        user_login_failed.send(sender=__name__, credentials={"username": attempt.username}, request=attempt.request)
        return None
    return user


def password_not_expired(attempt):
    return password_policy.refusal_at_login(attempt.user)


def no_password_change_due(attempt):
    if attempt.web or password_policy.expiry_state(attempt.user)[0] != "expired":
        return ""
    _web_first(attempt.user, "change the expired password")
    return _("Your password has expired. Sign in to the web UI to change it, then ask for a token again.")


def first_login_done(attempt):
    if attempt.web or not attempt.user.needs_first_login_wizard:
        return ""
    _web_first(attempt.user, "finish the initial login")
    return _(
        "Sign in to the web UI first: the initial login asks you to choose a new password. Then ask for a token again."
    )


def _web_first(user, task):
    events.record("security.login_refused_web_first", actor=user, user_name=user.username, task=task)


RULES = [not_locked, credentials, password_not_expired, no_password_change_due, first_login_done]


def check(request, username, password, *, web, invalid_message=None):
    """Apply every rule to one sign-in attempt; a ``Verdict`` with the user, or the refusal.

    ``web``: the attempt comes from the login form, which takes a user whose password must be
    changed on into the wizard; elsewhere (the password grant) such a user is refused.
    """
    attempt = Attempt(
        request=request,
        username=(username or "")[:150],
        password=password or "",
        web=web,
        invalid_message=invalid_message or lockout.generic_error(),
    )
    if "\x00" in attempt.username:
        # No user name holds a NUL byte, and PostgreSQL refuses to look one up (ValueError).
        return Verdict(message=str(attempt.invalid_message), rule=credentials.__name__)
    for rule in RULES:
        message = rule(attempt)
        if message:
            return Verdict(message=str(message), rule=rule.__name__)
    lockout.login_succeeded(attempt.user)
    return Verdict(user=attempt.user)

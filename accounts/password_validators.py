"""The Security widget's password rules as a Django password validator.

``AUTH_PASSWORD_VALIDATORS`` names only this validator, so ``validate_password`` everywhere
(the services in ``accounts/services/users.py``, forms, ``changepassword``) follows the rules
the administrator set on the Password tab, read at the moment of the change.

Django tells the validators when a password was set with ``set_password()`` and saved
(``password_changed``): that is how a change made outside the services (Django's own
``changepassword`` and ``createsuperuser`` commands, a shell) still revokes the user's API
tokens. The services store passwords through ``accounts.services.users.store_password``,
which revokes them itself.
"""

from django.core.exceptions import ValidationError


class SecurityPolicyValidator:
    def validate(self, password, user=None):
        from .services.password_policy import password_errors

        errors = password_errors(password, user)
        if errors:
            raise ValidationError([ValidationError(message, code="password_policy") for message in errors])

    def get_help_text(self):
        from .services.password_policy import help_text

        return help_text()

    def password_changed(self, password, user=None):
        from .services.api_grants import revoke_user_tokens

        revoke_user_tokens(user)

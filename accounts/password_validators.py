"""The Security widget's password rules as a Django password validator.

``AUTH_PASSWORD_VALIDATORS`` names only this validator, so ``validate_password`` everywhere
(the services in ``accounts/services/users.py``, forms, ``changepassword``) follows the rules
the administrator set on the Password tab, read at the moment of the change.
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

"""API Toolkit records (guide "API Toolkit Widget", "Setting API Access Control").

The embedded OAuth2 server is django-oauth-toolkit: every grant the widget creates owns one
DOT ``Application`` (client id, hashed client secret, allowed grant type). What the guide adds
on top lives here: the API Console switch, the grant's name, description and expiration date,
and a client-credentials grant's access-control entries (account roles).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from .roles import ACCOUNT_WIDE_ROLES, VIRTUAL_ACCOUNT_ROLES, AccountRole


class ApiConsole(models.Model):
    """The one row holding the API Console toggle (the guide: "The default is Disabled")."""

    enabled = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(pk=1), name="api_console_single_row")]

    def __str__(self):
        return f"API Console {'enabled' if self.enabled else 'disabled'}"


def api_console_enabled():
    return ApiConsole.objects.filter(pk=1, enabled=True).exists()


class ApiGrant(models.Model):
    """A Client Credentials Grant or a Resource Owner Grant, created in the API Toolkit widget."""

    class GrantType(models.TextChoices):
        CLIENT_CREDENTIALS = "client_credentials", "Client Credentials Grant"
        PASSWORD = "password", "Resource Owner Grant"

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="api_grant"
    )
    grant_type = models.CharField(max_length=20, choices=GrantType.choices)
    name = models.CharField(max_length=100, unique=True)
    description = models.CharField(max_length=255, blank=True)
    # The grant stops working at this instant (the widget's "Expiration Date" is midnight UTC
    # of the chosen day); empty means it never expires.
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    secret_regenerated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def client_id(self):
        return self.application.client_id

    def is_expired(self, now=None):
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class ApiAccessEntry(models.Model):
    """One line of a client-credentials grant's API Access Control: an account role it holds."""

    grant = models.ForeignKey(ApiGrant, on_delete=models.CASCADE, related_name="access_entries")
    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="api_access_entries")
    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="api_access_entries"
    )
    role = models.CharField(max_length=20, choices=AccountRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(virtual_account__isnull=True, role__in=sorted(ACCOUNT_WIDE_ROLES))
                    | Q(virtual_account__isnull=False, role__in=sorted(VIRTUAL_ACCOUNT_ROLES))
                ),
                name="api_access_role_matches_scope",
            ),
            models.UniqueConstraint(
                fields=["grant", "account"], condition=Q(virtual_account__isnull=True), name="api_access_account_once"
            ),
            models.UniqueConstraint(
                fields=["grant", "virtual_account"],
                condition=Q(virtual_account__isnull=False),
                name="api_access_va_once",
            ),
        ]
        indexes = [models.Index(fields=["grant", "account"], name="api_access_grant_account")]

    def __str__(self):
        scope = self.virtual_account or self.account
        return f"{self.grant}: {self.get_role_display()} on {scope}"

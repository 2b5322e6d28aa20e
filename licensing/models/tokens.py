"""Product instance registration tokens of a local virtual account."""

from django.conf import settings
from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils.translation import gettext_lazy as _


class RegistrationTokenQuerySet(models.QuerySet):
    def active(self, now):
        """Tokens a product instance could register with at ``now`` (the API's "active tokens")."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=now).filter(
            Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses"))
        )

    def with_status(self, now):
        """Annotate ``current_status`` (a RegistrationToken.Status value) for list pages and filters."""
        statuses = RegistrationToken.Status
        return self.annotate(
            current_status=Case(
                When(revoked_at__isnull=False, then=Value(statuses.REVOKED)),
                When(expires_at__lte=now, then=Value(statuses.EXPIRED)),
                When(max_uses__isnull=False, uses__gte=F("max_uses"), then=Value(statuses.EXPIRED)),
                default=Value(statuses.ACTIVE),
                output_field=models.CharField(),
            )
        )


class RegistrationToken(models.Model):
    """A "Product Instance Registration Token": lets product instances register into one VA.

    Status is not stored: a token is *revoked* once ``revoked_at`` is set, *expired* once
    ``expires_at`` has passed or its uses reached ``max_uses`` ("the number of uses specified
    for this token before it expires"), otherwise *active*.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        EXPIRED = "expired", _("Expired")
        REVOKED = "revoked", _("Revoked")

    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", on_delete=models.CASCADE, related_name="registration_tokens"
    )
    # The string shown, copied and downloaded (the guide's format: URL-encoded, line-wrapped base64).
    token = models.CharField(max_length=255)
    # SHA-256 of the canonical form of ``token`` (see services.tokens.canonical_token): the lookup key.
    token_digest = models.CharField(max_length=64, unique=True)
    description = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField()
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    export_controlled = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept beside the foreign key so "Created By" still names the user after the user is removed.
    created_by_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = RegistrationTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["virtual_account", "expires_at"], name="token_va_expires"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(max_uses__gte=1), name="token_max_uses_positive"
            ),
            # The last line of defence against over-use: the database refuses uses > max_uses.
            models.CheckConstraint(
                condition=Q(max_uses__isnull=True) | Q(uses__lte=F("max_uses")), name="token_uses_within_max"
            ),
        ]

    def __str__(self):
        return self.token

    def status_at(self, now):
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= now or (self.max_uses is not None and self.uses >= self.max_uses):
            return self.Status.EXPIRED
        return self.Status.ACTIVE

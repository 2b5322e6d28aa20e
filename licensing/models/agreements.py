"""The Smart Licensing Agreement as CSSM last sent it to a local account, and its acceptance.

CSSM publishes the agreement; a synchronization brings it (docs/sync-protocol.md, "What CSSM
says"). An Account Administrator accepts it in the Licensing workspace; the acceptance goes to
CSSM with the next synchronization, whose response says it is on record (``cssm_accepted``).
"""

from django.conf import settings
from django.db import models


class LicenseAgreement(models.Model):
    account = models.OneToOneField("licensing.LocalAccount", on_delete=models.CASCADE, related_name="agreement")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=255)
    text = models.TextField()
    digest = models.CharField(max_length=64)  # SHA-256 (hex) of the text, as CSSM computed it
    published_on = models.DateField()
    # CSSM has this account's acceptance of ``version`` on record.
    cssm_accepted = models.BooleanField(default=False)
    # Accepted here (sent to CSSM with the next synchronization until it is on record there).
    accepted_version = models.PositiveIntegerField(null=True, blank=True)
    accepted_digest = models.CharField(max_length=64, blank=True, default="")
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_by_name = models.CharField(max_length=255, blank=True, default="")
    updated_at = models.DateTimeField()

    @property
    def accepted_here(self):
        return self.accepted_version == self.version and self.accepted_digest == self.digest

    @property
    def needs_acceptance(self):
        return not self.cssm_accepted and not self.accepted_here

    @property
    def acceptance_pending(self):
        return not self.cssm_accepted and self.accepted_here

    def __str__(self):
        return f"{self.title} v{self.version}"

"""Third-party keys (TPL): keys for third-party services a product instance uses (the guide's
"Third-Party Software Support (TPL)": Speech View in Unity Connection, Apple Push Notification in
Unified Communication Manager), granted by CSSM per license and brought by the synchronization;
a product instance fetches them with GET_THIRD_PARTY_KEY (docs/protocol.md)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedTextField


class ThirdPartyKey(models.Model):
    """A key CSSM granted the local account for one license (CSSM is its source of truth: the
    synchronization replaces the set). The key itself is stored encrypted and never shown."""

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="third_party_keys")
    # CSSM's name for the key: stable across synchronizations, unique per local account.
    key_id = models.CharField(max_length=64)
    # The license whose product instances may receive it (an entitlement tag).
    tag = models.CharField(max_length=255)
    service = models.CharField(_("service"), max_length=255)
    secret = EncryptedTextField()
    expires_on = models.DateField(null=True, blank=True)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "key_id"], name="third_party_key_once")]
        indexes = [models.Index(fields=["account", "tag"], name="third_party_key_tag")]

    def __str__(self):
        return f"{self.service} ({self.key_id})"


class ThirdPartyKeyDelivery(models.Model):
    """A product instance received a key (the last time it did): what Inventory shows, never the key."""

    product_instance = models.ForeignKey(
        "licensing.ProductInstance", on_delete=models.CASCADE, related_name="third_party_key_deliveries"
    )
    key = models.ForeignKey(ThirdPartyKey, on_delete=models.CASCADE, related_name="deliveries")
    delivered_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["product_instance", "key"], name="third_party_key_delivered_once")
        ]

    def __str__(self):
        return f"{self.key_id} -> {self.product_instance_id}"

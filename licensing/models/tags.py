"""License tags: per local account labels on licenses ("classifying, locating, and grouping licenses")."""

from django.db import models


class LicenseTag(models.Model):
    """A tag of one local account. Names are case-sensitive ("aaa and AAA are ... different tag
    names"), unique in the account, and never contain a comma (the comma ends a name)."""

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="license_tags")
    name = models.CharField(max_length=100)
    licenses = models.ManyToManyField("licensing.LicenseDefinition", related_name="license_tags", blank=True)
    # The License Transaction Detail level: tags on single license lines (Show License Transactions).
    lines = models.ManyToManyField("licensing.Entitlement", related_name="line_tags", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="license_tag_unique_name"),
            models.CheckConstraint(
                condition=~models.Q(name__contains=",") & ~models.Q(name=""), name="license_tag_name_valid"
            ),
        ]

    def __str__(self):
        return self.name

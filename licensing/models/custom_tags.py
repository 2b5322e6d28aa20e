"""Manage Account > Custom Tags: tags with values that classify local virtual accounts.

A tag is Required (every local virtual account holds at least one of its values) or Optional,
and allows One Tag Value Only (at most one value per virtual account) or Multiple Tag Values.
The services (``licensing.services.custom_tags``) keep those rules; the database keeps names
unique and free of commas (the wizard separates values with commas).
"""

from django.db import models
from django.db.models import Q


class VirtualAccountTag(models.Model):
    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="custom_tags")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=255, blank=True)
    required = models.BooleanField(default=False)
    multiple_values = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="custom_tag_unique_name"),
            models.CheckConstraint(condition=~Q(name=""), name="custom_tag_name_not_empty"),
        ]

    def __str__(self):
        return self.name


class VirtualAccountTagValue(models.Model):
    tag = models.ForeignKey(VirtualAccountTag, on_delete=models.CASCADE, related_name="values")
    value = models.CharField(max_length=100)
    virtual_accounts = models.ManyToManyField("licensing.VirtualAccount", blank=True, related_name="custom_tag_values")

    class Meta:
        ordering = ["value"]
        constraints = [
            models.UniqueConstraint(fields=["tag", "value"], name="custom_tag_value_unique"),
            models.CheckConstraint(condition=~Q(value="") & ~Q(value__contains=","), name="custom_tag_value_valid"),
        ]

    def __str__(self):
        return self.value

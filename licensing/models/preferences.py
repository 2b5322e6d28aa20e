"""Smart Licensing > Preferences: a user's own preferences on one local account, and their change log.

docs/rbac.md (``set_preferences``): every role may set preferences, and they are the
user's own: Alice enabling License Transaction Details changes Alice's Licenses tab only.
Each change is kept (who, when, old -> new, the user's note) for the tab's "View Change Log".
"""

from django.conf import settings
from django.db import models


class UserPreference(models.Model):
    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="user_preferences")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="licensing_preferences")
    # "Show License Transaction Details in Inventory Tab": Disabled (the default) or Enabled.
    license_transaction_details = models.BooleanField(default=False)
    # The Alerts tab's virtual account view (not the guide's Preferences, so no change log): its
    # Major / Minor toggle buttons and "Hide Alerts", kept from one visit to the next.
    alerts_show_major = models.BooleanField(default=True)
    alerts_show_minor = models.BooleanField(default=True)
    alerts_hidden = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "user"], name="user_preference_one_per_account")]

    def __str__(self):
        return f"preferences of {self.user_id} on {self.account_id}"


class PreferenceChange(models.Model):
    """One row of the change log: Date/Time, Type of Event, User, Notes (and old -> new)."""

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="preference_changes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    # Kept as text so the log still names the user after the account is removed.
    username = models.CharField(max_length=150)
    preference = models.CharField(max_length=64)
    old_value = models.CharField(max_length=64)
    new_value = models.CharField(max_length=64)
    note = models.CharField(max_length=500, blank=True)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["account", "user", "changed_at"], name="pref_change_account_user")]

    def __str__(self):
        return f"{self.preference}: {self.old_value} -> {self.new_value}"

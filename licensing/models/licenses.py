"""The license catalogue and the lines of licenses a local virtual account holds.

Licenses are counts, never one row per seat: an ``Entitlement`` line says "this virtual
account holds N of this license, of this type, valid from .. to ..". Balances and compliance
are computed from these lines by aggregate queries (``licensing.services.compliance``).
"""

import datetime

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

# "Demo Licenses must be renewed after 60 days" (guide, "About Licenses"); the guide's API
# example shows a demo line from 2017-05-22 to 2017-07-21, i.e. end = start + 60 days.
DEMO_PERIOD = datetime.timedelta(days=60)


class LicenseDefinition(models.Model):
    """One license of the catalogue (e.g. "Network Advantage"), identified by its entitlement tag.

    ``substitutes_for`` is the tier hierarchy: a license stands in for the licenses listed
    there ("if a Network Advantage license (parent) exists, it can be used (borrowed) to
    satisfy a request for a Network Essentials license (child)"). A license may have several
    parents and several children.
    """

    class Billing(models.TextChoices):
        PREPAID = "prepaid", _("Prepaid")
        USAGE = "usage", _("Usage")

    name = models.CharField(max_length=255, db_index=True)
    # Case-sensitive, matched exactly, as every name users type (docs/protocol.md).
    entitlement_tag = models.CharField(max_length=255, unique=True)
    description = models.TextField(blank=True)
    product_family = models.CharField(max_length=255, blank=True)
    export_restricted = models.BooleanField(default=False)
    billing_type = models.CharField(max_length=10, choices=Billing.choices, default=Billing.PREPAID)
    substitutes_for = models.ManyToManyField(
        "self",
        through="LicenseHierarchy",
        through_fields=("higher", "lower"),
        symmetrical=False,
        related_name="substituted_by",
        blank=True,
    )

    class Meta:
        ordering = ["name", "entitlement_tag"]

    def __str__(self):
        return self.name


class LicenseHierarchy(models.Model):
    """One edge of the tier hierarchy: ``higher`` can stand in for ``lower``."""

    higher = models.ForeignKey(LicenseDefinition, on_delete=models.CASCADE, related_name="+")
    lower = models.ForeignKey(LicenseDefinition, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["higher", "lower"], name="license_hierarchy_unique_edge"),
            models.CheckConstraint(condition=~Q(higher=F("lower")), name="license_hierarchy_not_self"),
        ]

    def __str__(self):
        return f"{self.higher_id} > {self.lower_id}"


class Entitlement(models.Model):
    """A line of licenses in a local virtual account: a quantity of one license, one type, one period."""

    class LicenseType(models.TextChoices):
        PERPETUAL = "perpetual", _("Perpetual")
        TERM = "term", _("Term")
        DEMO = "demo", _("Demo")
        SUBSCRIPTION = "subscription", _("Subscription")

    class Source(models.TextChoices):
        PAK = "pak", _("PAK")
        EA = "ea", _("Enterprise Agreement")
        ORDER = "order", _("Order")
        DEVICE_MIGRATION = "device_migration", _("Device Led Conversion")
        OTHER = "other", _("Other")
        # Added by a System Admin in the Administration workspace (Accounts > License
        # Transactions > Add License): not from CSSM, so the synchronization leaves it alone.
        MANUAL = "manual", _("Manual")

    license = models.ForeignKey(LicenseDefinition, on_delete=models.PROTECT, related_name="entitlements")
    virtual_account = models.ForeignKey(
        "licensing.VirtualAccount", on_delete=models.CASCADE, related_name="entitlements"
    )
    license_type = models.CharField(max_length=12, choices=LicenseType.choices)
    quantity = models.PositiveIntegerField()
    start_date = models.DateField(null=True, blank=True)
    # Inclusive: the line counts on its end date and leaves the pool the day after.
    end_date = models.DateField(null=True, blank=True)
    subscription_id = models.CharField(max_length=100, blank=True)
    sku = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.OTHER)
    pending_quantity = models.PositiveIntegerField(
        default=0, help_text="Licenses of this line pending an upgrade (the API's pendingQuantity)."
    )
    # An upgrade line from CSSM ("Upgrade Pending"): ``upgrade_id`` is CSSM's id of the upgrade,
    # ``upgrade_from`` the license its licenses replace. It arrives with ``quantity`` 0 and the
    # upgrade licenses in ``pending_quantity``; completing the upgrade (licensing.services.upgrades)
    # removes that many replaced licenses and makes them the line's quantity.
    upgrade_id = models.CharField(max_length=64, blank=True, db_index=True)
    upgrade_from = models.ForeignKey(
        LicenseDefinition, null=True, blank=True, on_delete=models.PROTECT, related_name="upgraded_by_lines"
    )
    # A copy made by Change Virtual Account Assignment: the line whose licenses it repeats in
    # another local virtual account. Copies go with their original (and synchronization keeps
    # them out of its comparison with CSSM's lines).
    copied_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="copies")
    # Made by porting licenses of another license into this one (licensing.services.ports): the
    # License Transactions row says "Ported from" it.
    ported_from = models.ForeignKey(
        LicenseDefinition, null=True, blank=True, on_delete=models.PROTECT, related_name="ported_to_lines"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set once by expire_entitlements(): the "expired" event was recorded for this line.
    expired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["virtual_account", "license", "end_date", "id"]
        indexes = [
            models.Index(fields=["virtual_account", "license"], name="entitlement_va_license"),
            models.Index(fields=["end_date"], name="entitlement_end_date"),
        ]
        constraints = [
            # A line holds licenses, or licenses pending an upgrade (quantity 0 until it completes).
            models.CheckConstraint(
                condition=Q(quantity__gte=1) | Q(pending_quantity__gte=1), name="entitlement_quantity_positive"
            ),
            # Perpetual licenses do not expire; every other type has an end date.
            models.CheckConstraint(
                condition=(
                    Q(license_type="perpetual", end_date__isnull=True)
                    | (~Q(license_type="perpetual") & Q(end_date__isnull=False))
                ),
                name="entitlement_end_date_by_type",
            ),
            models.CheckConstraint(
                condition=Q(start_date__isnull=True) | Q(end_date__isnull=True) | Q(end_date__gte=F("start_date")),
                name="entitlement_ends_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.license_id} ({self.license_type})"

    def create_like(self, quantity, **changes):
        """A new line of ``quantity`` with this line's terms (license, virtual account, type, period,
        subscription, SKU, source), ``changes`` applied: a transfer's, a port's or a copy's new line."""
        terms = {
            "license_id": self.license_id,
            "virtual_account_id": self.virtual_account_id,
            "license_type": self.license_type,
            "start_date": self.start_date,
            "end_date": self.end_date,
            "subscription_id": self.subscription_id,
            "sku": self.sku,
            "source": self.source,
        }
        for name in ("license", "virtual_account"):
            if name in changes:
                terms.pop(f"{name}_id")
        terms.update(changes)
        return Entitlement.objects.create(**terms, quantity=quantity)

    def save(self, *args, **kwargs):
        if self.license_type == self.LicenseType.DEMO and self.end_date is None and self.start_date is not None:
            self.end_date = self.start_date + DEMO_PERIOD
        super().save(*args, **kwargs)


class UpgradeCompletion(models.Model):
    """An upgrade completed on the On-Prem, for the synchronization to tell CSSM: the licenses it
    replaced, as the request's ``upgrade_completions`` carries them. Sent until a response no
    longer lists the upgrade as pending (``acknowledged_at``)."""

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="+")
    upgrade_id = models.CharField(max_length=64)
    replaced = models.JSONField(default=list)
    completed_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "upgrade_id"], name="upgrade_completion_unique"),
        ]

    def __str__(self):
        return f"{self.account_id}:{self.upgrade_id}"


class PortableLicense(models.Model):
    """License portability as CSSM grants it to the local account: licenses of ``license`` may be
    ported (converted) into licenses of ``target``. The synchronization's ``portable_licenses``
    is the complete set (licensing.services.ports.apply_cssm_portability)."""

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="+")
    license = models.ForeignKey(LicenseDefinition, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(LicenseDefinition, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "license", "target"], name="portable_license_unique"),
            models.CheckConstraint(condition=~Q(license=F("target")), name="portable_license_not_itself"),
        ]

    def __str__(self):
        return f"{self.account_id}:{self.license_id}->{self.target_id}"


class PortCompletion(models.Model):
    """Licenses ported on the On-Prem, for the synchronization to tell CSSM: the lines taken from
    (``ported``, as REPLACED_LINE entries) and the license they became (``target_tag``). Sent
    until a response names it in ``port_results`` (``acknowledged_at``; ``refused`` when CSSM
    did not apply it, so its lines come back as CSSM holds them)."""

    account = models.ForeignKey("licensing.LocalAccount", on_delete=models.CASCADE, related_name="+")
    port_id = models.CharField(max_length=64)
    target_tag = models.CharField(max_length=255)
    ported = models.JSONField(default=list)
    completed_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    refused = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "port_id"], name="port_completion_unique")]

    def __str__(self):
        return f"{self.account_id}:{self.port_id}"


def valid_on_q(day, prefix=""):
    """A filter for lines that count on ``day``: started, and not past their end date."""
    return (Q(**{f"{prefix}start_date__isnull": True}) | Q(**{f"{prefix}start_date__lte": day})) & (
        Q(**{f"{prefix}end_date__isnull": True}) | Q(**{f"{prefix}end_date__gte": day})
    )

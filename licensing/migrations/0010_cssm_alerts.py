"""Alerts whose cause is CSSM or the synchronization calendar, and the Smart Licensing Agreement as CSSM sent it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0009_reregistration_refused_alert"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="alert",
            name="alert_type",
            field=models.CharField(
                choices=[
                    ("insufficient_licenses", "Insufficient Licenses"),
                    ("licenses_expiring", "Licenses Expiring"),
                    ("pi_failed_to_connect", "Product Instance Failed to Connect"),
                    ("pi_failed_to_renew", "Product Instance Failed to Renew"),
                    ("licenses_expired", "Licenses Expired"),
                    ("duplicate_licenses", "Duplicate Licenses"),
                    ("synchronization_required", "Synchronization Required"),
                    ("synchronization_overdue", "Synchronization Overdue"),
                    ("reregistration_required", "Re-registration Required"),
                    ("registration_limited", "Registration Limit Reached"),
                    ("reregistration_refused", "Re-registration Refused"),
                    ("agreement_updated", "Updated Smart License Agreement"),
                    ("agreement_pending", "Smart Licensing Agreement Pending"),
                    ("onprem_removed", "SSM On-Prem Unregistered and Removed"),
                    ("authorization_pending", "Authorization Pending"),
                    ("sync_deadline", "Upcoming SSM On-Prem Sync Deadline (30 Day)"),
                    ("onprem_expired", "SSM On-Prem expired and removed (90 Days of no sync)"),
                    ("version_note", "Version Compatibility Note"),
                ],
                max_length=24,
            ),
        ),
        migrations.CreateModel(
            name="LicenseAgreement",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("version", models.PositiveIntegerField()),
                ("title", models.CharField(max_length=255)),
                ("text", models.TextField()),
                ("digest", models.CharField(max_length=64)),
                ("published_on", models.DateField()),
                ("cssm_accepted", models.BooleanField(default=False)),
                ("accepted_version", models.PositiveIntegerField(blank=True, null=True)),
                ("accepted_digest", models.CharField(blank=True, default="", max_length=64)),
                ("accepted_at", models.DateTimeField(blank=True, null=True)),
                ("accepted_by_name", models.CharField(blank=True, default="", max_length=255)),
                ("updated_at", models.DateTimeField()),
                (
                    "accepted_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "account",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="agreement",
                        to="licensing.localaccount",
                    ),
                ),
            ],
        ),
    ]

"""Registration limits: what created a product instance, and its alert type."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0006_bench_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="deviceidentity",
            name="created_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="deviceidentity",
            name="created_in_virtual_account",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="licensing.virtualaccount",
            ),
        ),
        migrations.AddField(
            model_name="deviceidentity",
            name="created_with_token",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="licensing.registrationtoken",
            ),
        ),
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
                ],
                max_length=24,
            ),
        ),
        migrations.AddIndex(
            model_name="deviceidentity",
            index=models.Index(fields=["created_with_token", "created_at"], name="device_created_token"),
        ),
        migrations.AddIndex(
            model_name="deviceidentity",
            index=models.Index(fields=["created_in_virtual_account", "created_at"], name="device_created_va"),
        ),
    ]

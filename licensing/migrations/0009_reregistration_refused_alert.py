"""The "Re-registration Refused" alert type (a REGISTER that may not take over or move a product instance)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0008_usage_totals"),
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
                ],
                max_length=24,
            ),
        ),
    ]

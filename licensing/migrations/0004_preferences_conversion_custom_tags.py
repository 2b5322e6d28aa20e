# Preferences, Convert to Smart Licensing (DLC) and custom virtual account tags,
# and the Alert types the rest of the guide's Alerts tab list needs.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0003_alerts_tags"),
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
                ],
                max_length=24,
            ),
        ),
        migrations.CreateModel(
            name="UserPreference",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("license_transaction_details", models.BooleanField(default=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="user_preferences",
                        to="licensing.localaccount",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="licensing_preferences",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(fields=("account", "user"), name="user_preference_one_per_account")
                ],
            },
        ),
        migrations.CreateModel(
            name="PreferenceChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("username", models.CharField(max_length=150)),
                ("preference", models.CharField(max_length=64)),
                ("old_value", models.CharField(max_length=64)),
                ("new_value", models.CharField(max_length=64)),
                ("note", models.CharField(blank=True, max_length=500)),
                ("changed_at", models.DateTimeField()),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="preference_changes",
                        to="licensing.localaccount",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-changed_at", "-id"],
                "indexes": [models.Index(fields=["account", "user", "changed_at"], name="pref_change_account_user")],
            },
        ),
        migrations.CreateModel(
            name="ConversionSettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "mode",
                    models.CharField(
                        choices=[
                            ("all", "Enable Device Led Conversion for all local Virtual Accounts"),
                            ("selected", "Enable Device Led Conversion only on selected local Virtual Accounts"),
                        ],
                        default="selected",
                        max_length=8,
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "account",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conversion_settings",
                        to="licensing.localaccount",
                    ),
                ),
                (
                    "enabled_virtual_accounts",
                    models.ManyToManyField(blank=True, related_name="+", to="licensing.virtualaccount"),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Conversion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("product_instance_name", models.CharField(max_length=255)),
                ("device_identifier", models.CharField(db_index=True, max_length=512)),
                ("product_family", models.CharField(blank=True, max_length=255)),
                ("licenses", models.JSONField(default=list)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("success", "Conversion Successful"),
                            ("failed", "Conversion Failed"),
                            ("already_converted", "License Already Converted"),
                        ],
                        default="pending",
                        max_length=17,
                    ),
                ),
                ("reason", models.TextField(blank=True)),
                ("poll_id", models.CharField(blank=True, db_index=True, max_length=64)),
                ("requested_at", models.DateTimeField()),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conversions",
                        to="licensing.localaccount",
                    ),
                ),
                (
                    "product_instance",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="conversions",
                        to="licensing.productinstance",
                    ),
                ),
                (
                    "virtual_account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="conversions",
                        to="licensing.virtualaccount",
                    ),
                ),
            ],
            options={
                "ordering": ["-requested_at", "-id"],
                "indexes": [
                    models.Index(fields=["account", "status"], name="conversion_account_status"),
                    models.Index(fields=["account", "requested_at"], name="conversion_account_time"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("status", "pending"), ("decided_at__isnull", False), _connector="OR"),
                        name="conversion_decided_has_time",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="VirtualAccountTag",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("description", models.CharField(blank=True, max_length=255)),
                ("required", models.BooleanField(default=False)),
                ("multiple_values", models.BooleanField(default=False)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="custom_tags",
                        to="licensing.localaccount",
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
                "constraints": [
                    models.UniqueConstraint(fields=("account", "name"), name="custom_tag_unique_name"),
                    models.CheckConstraint(
                        condition=models.Q(("name", ""), _negated=True), name="custom_tag_name_not_empty"
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="VirtualAccountTagValue",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("value", models.CharField(max_length=100)),
                (
                    "tag",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="values",
                        to="licensing.virtualaccounttag",
                    ),
                ),
                (
                    "virtual_accounts",
                    models.ManyToManyField(blank=True, related_name="custom_tag_values", to="licensing.virtualaccount"),
                ),
            ],
            options={
                "ordering": ["value"],
                "constraints": [
                    models.UniqueConstraint(fields=("tag", "value"), name="custom_tag_value_unique"),
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("value", ""), _negated=True), models.Q(("value__contains", ","), _negated=True)
                        ),
                        name="custom_tag_value_valid",
                    ),
                ],
            },
        ),
    ]

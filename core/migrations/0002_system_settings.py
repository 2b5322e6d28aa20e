# The Settings widget's single row of system-wide settings.
from django.db import migrations, models

import core.models


class Migration(migrations.Migration):
    dependencies = [
        ("onprem", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SystemSettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("banner_text", models.CharField(blank=True, max_length=500)),
                ("banner_on_login", models.BooleanField(default=False)),
                (
                    "banner_text_color",
                    models.CharField(default="#000000", max_length=7, validators=[core.models._hex_colour]),
                ),
                (
                    "banner_background_color",
                    models.CharField(default="#e2231a", max_length=7, validators=[core.models._hex_colour]),
                ),
                ("login_message", models.TextField(blank=True, max_length=2000)),
                ("syslog_enabled", models.BooleanField(default=False)),
                ("syslog_host", models.CharField(blank=True, max_length=255)),
                ("syslog_port", models.PositiveIntegerField(default=514)),
                ("default_language", models.CharField(default="en", max_length=10)),
                ("smtp_host", models.CharField(blank=True, max_length=255)),
                ("smtp_port", models.PositiveIntegerField(default=25)),
                ("smtp_helo_domain", models.CharField(blank=True, max_length=255)),
                ("smtp_from", models.EmailField(blank=True, max_length=254)),
                ("smtp_auth_required", models.BooleanField(default=False)),
                ("smtp_username", models.CharField(blank=True, max_length=255)),
                ("smtp_password", models.TextField(blank=True)),
                ("smtp_starttls", models.BooleanField(default=False)),
                ("time_zone", models.CharField(default="UTC", max_length=64)),
                ("message_of_the_day", models.TextField(blank=True, max_length=2000)),
                ("before_login_message", models.TextField(blank=True, max_length=2000)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "verbose_name": "system settings",
                "verbose_name_plural": "system settings",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("pk", 1)), name="system_settings_single_row")
                ],
            },
        ),
    ]

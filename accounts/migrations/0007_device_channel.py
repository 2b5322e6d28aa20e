"""The device channel's settings: who may push to the CSLU endpoint, and the usage bounds."""

import django.core.validators
from django.db import migrations, models

import accounts.security_models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_registration_limits"),
    ]

    operations = [
        migrations.AddField(
            model_name="securitypolicy",
            name="cslu_access",
            field=models.CharField(
                choices=[
                    ("open", "Open: any source, no token (as the guide describes CSLU)"),
                    ("token", "Require a registration token to add a product instance"),
                    ("networks", "Only from the listed source networks"),
                ],
                default="networks",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="securitypolicy",
            name="cslu_networks",
            field=models.TextField(
                blank=True,
                default="127.0.0.0/8\n10.0.0.0/8\n172.16.0.0/12\n192.168.0.0/16\n::1/128\nfc00::/7",
                max_length=4000,
                validators=[
                    django.core.validators.MaxLengthValidator(4000),
                    accounts.security_models.validate_networks,
                ],
            ),
        ),
        migrations.AddField(
            model_name="securitypolicy",
            name="device_max_license_count",
            field=models.PositiveIntegerField(
                default=100000,
                validators=[
                    django.core.validators.MinValueValidator(1),
                    django.core.validators.MaxValueValidator(1000000),
                ],
            ),
        ),
        migrations.AddField(
            model_name="securitypolicy",
            name="device_max_licenses_per_message",
            field=models.PositiveIntegerField(
                default=100,
                validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(500)],
            ),
        ),
    ]

"""Registration limits: new product instances per token / per virtual account per hour."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_security"),
    ]

    operations = [
        migrations.AddField(
            model_name="securitypolicy",
            name="registration_limit_per_token",
            field=models.PositiveIntegerField(
                default=1000,
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(1000000),
                ],
            ),
        ),
        migrations.AddField(
            model_name="securitypolicy",
            name="registration_limit_per_va",
            field=models.PositiveIntegerField(
                default=5000,
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(1000000),
                ],
            ),
        ),
    ]

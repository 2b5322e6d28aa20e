"""The Alerts tab's virtual account view per user: the Major / Minor toggles and "Hide Alerts"."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0010_cssm_alerts"),
    ]

    operations = [
        migrations.AddField(
            model_name="userpreference",
            name="alerts_show_major",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="userpreference",
            name="alerts_show_minor",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="userpreference",
            name="alerts_hidden",
            field=models.BooleanField(default=False),
        ),
    ]

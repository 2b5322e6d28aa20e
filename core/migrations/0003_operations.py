# The Network widget's settings: the SSM On-Prem Name and the explicit HTTPS proxy.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("onprem", "0002_system_settings"),
    ]

    operations = [
        migrations.AddField(
            model_name="systemsettings",
            name="onprem_name",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="systemsettings",
            name="proxy_enabled",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="systemsettings",
            name="proxy_host",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AddField(
            model_name="systemsettings",
            name="proxy_password",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="systemsettings",
            name="proxy_port",
            field=models.PositiveIntegerField(default=3128),
        ),
        migrations.AddField(
            model_name="systemsettings",
            name="proxy_username",
            field=models.CharField(blank=True, max_length=255),
        ),
    ]

"""Indexes in the order of the product-instance lists, so a page walks an index (docs/performance.md)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0005_device_pki"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="productinstance",
            index=models.Index(
                fields=["account", "hostname", "udi_pid", "udi_serial_number", "id"], name="pi_account_list_order"
            ),
        ),
        migrations.AddIndex(
            model_name="productinstance",
            index=models.Index(fields=["virtual_account", "hostname", "id"], name="pi_va_list_order"),
        ),
    ]

# Device protocol: signing authorities, device ID certificates, device details,
# nonces, RUM reports, requests pending a synchronization. Filled in by hand.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import core.crypto


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0004_preferences_conversion_custom_tags"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DeviceNonce",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("device_key", models.CharField(max_length=64)),
                ("nonce", models.CharField(max_length=128)),
                ("expires_at", models.DateTimeField(db_index=True)),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("device_key", "nonce"), name="device_nonce_once")],
            },
        ),
        migrations.CreateModel(
            name="SigningAuthority",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "source",
                    models.CharField(
                        choices=[("local", "Generated locally"), ("cssm", "Signed by CSSM")],
                        default="local",
                        max_length=8,
                    ),
                ),
                ("certificate_pem", models.TextField()),
                ("chain_pem", models.TextField(blank=True)),
                ("private_key", core.crypto.EncryptedTextField()),
                ("serial_hex", models.CharField(max_length=40)),
                ("not_after", models.DateTimeField()),
                ("is_current", models.BooleanField(default=True)),
                ("created_at", models.DateTimeField()),
                ("retired_at", models.DateTimeField(blank=True, null=True)),
                (
                    "account",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="signing_authorities",
                        to="licensing.localaccount",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="DeviceCertificate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("serial_hex", models.CharField(max_length=40, unique=True)),
                ("certificate_pem", models.TextField()),
                ("public_key_sha256", models.CharField(max_length=64)),
                ("issued_at", models.DateTimeField()),
                ("not_after", models.DateTimeField()),
                ("renew_after", models.DateTimeField()),
                ("superseded_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                (
                    "product_instance",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="id_certificates",
                        to="licensing.productinstance",
                    ),
                ),
                (
                    "authority",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.RESTRICT,
                        related_name="issued_certificates",
                        to="licensing.signingauthority",
                    ),
                ),
            ],
            options={
                "ordering": ["-issued_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="DeviceIdentity",
            fields=[
                (
                    "product_instance",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="device",
                        serialize=False,
                        to="licensing.productinstance",
                    ),
                ),
                ("udi_vid", models.CharField(blank=True, max_length=64)),
                ("uuid", models.CharField(blank=True, max_length=64)),
                ("suvi", models.CharField(blank=True, max_length=255)),
                ("host_identifier", models.CharField(blank=True, max_length=255)),
                ("mac_address", models.CharField(blank=True, max_length=64)),
                ("ip_address", models.CharField(blank=True, max_length=64)),
                ("software_tag", models.CharField(blank=True, max_length=255)),
                ("product_type", models.CharField(blank=True, max_length=64)),
                ("agent_version", models.CharField(blank=True, max_length=64)),
                (
                    "transport",
                    models.CharField(
                        choices=[
                            ("smart_transport", "Smart Transport"),
                            ("call_home", "Smart Call Home"),
                            ("cslu", "Smart Licensing Using Policy"),
                        ],
                        default="smart_transport",
                        max_length=16,
                    ),
                ),
                ("export_controlled", models.BooleanField(default=False)),
                ("pinned_key_sha256", models.CharField(blank=True, max_length=64)),
                ("updated_at", models.DateTimeField()),
                (
                    "registration_token",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="licensing.registrationtoken",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["mac_address"], name="device_mac"),
                    models.Index(fields=["uuid"], name="device_uuid"),
                ],
            },
        ),
        migrations.CreateModel(
            name="DeviceRequest",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("export_authorize", "Export Control Authorization"),
                            ("export_return", "Export Control Authorization Return"),
                        ],
                        max_length=16,
                    ),
                ),
                ("poll_id", models.CharField(max_length=64, unique=True)),
                ("items", models.JSONField(default=list)),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Pending"), ("complete", "Complete")], default="pending", max_length=8
                    ),
                ),
                ("result", models.CharField(blank=True, max_length=64)),
                ("message", models.TextField(blank=True)),
                ("detail", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField()),
                ("decided_at", models.DateTimeField(blank=True, null=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="device_requests",
                        to="licensing.localaccount",
                    ),
                ),
                (
                    "product_instance",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="device_requests",
                        to="licensing.productinstance",
                    ),
                ),
            ],
            options={
                "ordering": ["created_at", "id"],
                "indexes": [models.Index(fields=["account", "status"], name="devreq_account_status")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("status", "pending"), ("decided_at__isnull", False), _connector="OR"),
                        name="devreq_decided_has_time",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="RumReport",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("device_key", models.CharField(max_length=64)),
                ("report_id", models.CharField(max_length=128)),
                ("header", models.JSONField()),
                ("payload", models.TextField()),
                ("signing_type", models.CharField(max_length=32)),
                ("signature_key", models.CharField(max_length=255)),
                ("signature_value", models.TextField()),
                ("received_at", models.DateTimeField()),
                ("synced_at", models.DateTimeField(blank=True, null=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rum_reports",
                        to="licensing.localaccount",
                    ),
                ),
                (
                    "product_instance",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="rum_reports",
                        to="licensing.productinstance",
                    ),
                ),
            ],
            options={
                "ordering": ["-received_at", "-id"],
                "indexes": [models.Index(fields=["account", "synced_at"], name="rum_account_synced")],
                "constraints": [
                    models.UniqueConstraint(fields=("account", "device_key", "report_id"), name="rum_report_once")
                ],
            },
        ),
        migrations.AddConstraint(
            model_name="signingauthority",
            constraint=models.UniqueConstraint(
                condition=models.Q(("account__isnull", False), ("is_current", True)),
                fields=("account",),
                name="signing_authority_one_current_per_account",
            ),
        ),
        migrations.AddConstraint(
            model_name="signingauthority",
            constraint=models.UniqueConstraint(
                condition=models.Q(("account__isnull", True), ("is_current", True)),
                fields=("is_current",),
                name="signing_authority_one_current_server",
            ),
        ),
        migrations.AddIndex(
            model_name="devicecertificate",
            index=models.Index(fields=["product_instance", "revoked_at"], name="devcert_pi_revoked"),
        ),
    ]

# The API Toolkit: the API Console toggle, API grants (each owning one OAuth application of the
# embedded django-oauth-toolkit server) and their API access-control entries.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
        ("licensing", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        migrations.swappable_dependency(settings.OAUTH2_PROVIDER_APPLICATION_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiConsole",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("enabled", models.BooleanField(default=False)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("pk", 1)), name="api_console_single_row")],
            },
        ),
        migrations.CreateModel(
            name="ApiGrant",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "grant_type",
                    models.CharField(
                        choices=[
                            ("client_credentials", "Client Credentials Grant"),
                            ("password", "Resource Owner Grant"),
                        ],
                        max_length=20,
                    ),
                ),
                ("name", models.CharField(max_length=100, unique=True)),
                ("description", models.CharField(blank=True, max_length=255)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("secret_regenerated_at", models.DateTimeField(blank=True, null=True)),
                (
                    "application",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_grant",
                        to=settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="ApiAccessEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "role",
                    models.CharField(
                        choices=[
                            ("account_admin", "Account Administrator"),
                            ("account_user", "Account User"),
                            ("va_admin", "Virtual Account Administrator"),
                            ("va_user", "Virtual Account User"),
                        ],
                        max_length=20,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_access_entries",
                        to="licensing.localaccount",
                    ),
                ),
                (
                    "virtual_account",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_access_entries",
                        to="licensing.virtualaccount",
                    ),
                ),
                (
                    "grant",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="access_entries",
                        to="accounts.apigrant",
                    ),
                ),
            ],
            options={
                "ordering": ["id"],
                "indexes": [models.Index(fields=["grant", "account"], name="api_access_grant_account")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("role__in", ["account_admin", "account_user"]), ("virtual_account__isnull", True)
                            ),
                            models.Q(("role__in", ["va_admin", "va_user"]), ("virtual_account__isnull", False)),
                            _connector="OR",
                        ),
                        name="api_access_role_matches_scope",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("virtual_account__isnull", True)),
                        fields=("grant", "account"),
                        name="api_access_account_once",
                    ),
                    models.UniqueConstraint(
                        condition=models.Q(("virtual_account__isnull", False)),
                        fields=("grant", "virtual_account"),
                        name="api_access_va_once",
                    ),
                ],
            },
        ),
        # Failed credential checks per window, for accounts/services/ratelimit.py (token endpoint, sign-in).
        migrations.CreateModel(
            name="FailureCounter",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("scope", models.CharField(max_length=16)),
                ("key_hash", models.CharField(max_length=64)),
                ("window_start", models.BigIntegerField()),
                ("count", models.PositiveIntegerField(default=0)),
            ],
            options={
                "indexes": [models.Index(fields=["window_start"], name="failure_counter_window")],
                "constraints": [
                    models.UniqueConstraint(fields=("scope", "key_hash", "window_start"), name="failure_counter_once")
                ],
            },
        ),
    ]

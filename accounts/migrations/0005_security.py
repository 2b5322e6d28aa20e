# Written by hand: the Security widget's models.
import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import core.crypto


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_access_management"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # --- Security widget: policy, lockout, sessions, password history, CSR key ---
        migrations.CreateModel(
            name="PendingCsr",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("common_name", models.CharField(max_length=253)),
                ("csr_pem", models.TextField()),
                ("private_key", core.crypto.EncryptedTextField()),
                ("created_at", models.DateTimeField()),
            ],
            options={
                "constraints": [models.CheckConstraint(condition=models.Q(("pk", 1)), name="pending_csr_single_row")],
            },
        ),
        migrations.CreateModel(
            name="SecurityPolicy",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("auto_lock_enabled", models.BooleanField(default=False)),
                (
                    "auto_lock_attempts",
                    models.PositiveSmallIntegerField(
                        default=5,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(99),
                        ],
                    ),
                ),
                (
                    "auto_lock_window_minutes",
                    models.PositiveIntegerField(
                        default=15,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(1440),
                        ],
                    ),
                ),
                ("lock_expiration_enabled", models.BooleanField(default=False)),
                (
                    "lock_expiration_minutes",
                    models.PositiveIntegerField(
                        default=30,
                        validators=[
                            django.core.validators.MinValueValidator(2),
                            django.core.validators.MaxValueValidator(525600),
                        ],
                    ),
                ),
                ("session_limit_enabled", models.BooleanField(default=False)),
                (
                    "session_limit",
                    models.PositiveSmallIntegerField(
                        default=5,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(999),
                        ],
                    ),
                ),
                ("login_error_hints", models.BooleanField(default=True)),
                ("forgot_password_enabled", models.BooleanField(default=False)),
                ("force_change_after_reset", models.BooleanField(default=True)),
                ("strength_rules_enabled", models.BooleanField(default=True)),
                ("rule_not_username", models.BooleanField(default=True)),
                ("rule_mixed_case", models.BooleanField(default=False)),
                ("rule_digit", models.BooleanField(default=False)),
                ("rule_special", models.BooleanField(default=False)),
                ("rule_not_common", models.BooleanField(default=True)),
                (
                    "min_length",
                    models.PositiveSmallIntegerField(
                        default=8,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(15),
                        ],
                    ),
                ),
                ("history_enabled", models.BooleanField(default=False)),
                (
                    "history_count",
                    models.PositiveSmallIntegerField(
                        default=5,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(99),
                        ],
                    ),
                ),
                ("expiration_enabled", models.BooleanField(default=False)),
                (
                    "expiration_days",
                    models.PositiveIntegerField(
                        default=60,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(3650),
                        ],
                    ),
                ),
                ("expiration_warning_enabled", models.BooleanField(default=True)),
                (
                    "expiration_warning_days",
                    models.PositiveIntegerField(
                        default=7,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(365),
                        ],
                    ),
                ),
                ("change_after_expiry_allowed", models.BooleanField(default=True)),
                ("expiration_email_enabled", models.BooleanField(default=False)),
                (
                    "expiration_email_days",
                    models.PositiveIntegerField(
                        default=7,
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(365),
                        ],
                    ),
                ),
                ("host_common_name", models.CharField(blank=True, max_length=253)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("pk", 1)), name="security_policy_single_row")
                ],
            },
        ),
        migrations.CreateModel(
            name="UserLock",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("locked_at", models.DateTimeField()),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="security_lock",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="LoginFailure",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["user", "at"], name="login_failure_user_at")],
            },
        ),
        migrations.CreateModel(
            name="PasswordHistory",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("password", models.CharField(max_length=128)),
                ("created_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["user", "-created_at"], name="password_history_user")],
            },
        ),
        migrations.CreateModel(
            name="UserSession",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("session_key", models.CharField(max_length=40, unique=True)),
                ("started_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["user", "started_at"], name="user_session_started")],
            },
        ),
    ]

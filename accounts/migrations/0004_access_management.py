# Access Management widget: LDAP configuration and imported groups, OAuth2 ADFS / SSO client.
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

import core.crypto


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_api_clients"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="LdapConfig",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("enabled", models.BooleanField(default=False)),
                ("title", models.CharField(blank=True, max_length=100)),
                ("host", models.CharField(blank=True, max_length=255)),
                ("port", models.PositiveIntegerField(default=389)),
                ("user_base_dn", models.CharField(blank=True, max_length=500)),
                ("uid_attribute", models.CharField(default="uid", max_length=100)),
                (
                    "encryption",
                    models.CharField(
                        choices=[
                            ("plain", "plain (Plain Text Authentication)"),
                            ("simple-tls", "simple-tls (Transport Layer Security)"),
                        ],
                        default="plain",
                        max_length=12,
                    ),
                ),
                ("bind_dn", models.CharField(blank=True, max_length=500)),
                ("bind_password", core.crypto.EncryptedTextField(blank=True, default="")),
                ("ca_certificate", models.TextField(blank=True, default="")),
                ("group_base_dn", models.CharField(blank=True, max_length=500)),
                (
                    "ldap_type",
                    models.CharField(
                        choices=[("ad", "ActiveDirectory"), ("openldap", "OpenLDAP")], default="openldap", max_length=10
                    ),
                ),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.CreateModel(
            name="LdapGroup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("dn", models.CharField(max_length=500, unique=True)),
                ("name", models.CharField(max_length=255)),
                ("description", models.CharField(blank=True, max_length=255)),
                ("member_uids", models.JSONField(blank=True, default=list)),
                ("imported_at", models.DateTimeField()),
            ],
            options={"ordering": ["name"]},
        ),
        migrations.CreateModel(
            name="LdapGroupLink",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "ldap_group",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="links", to="accounts.ldapgroup"
                    ),
                ),
                (
                    "user_group",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="ldap_link", to="accounts.usergroup"
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("ldap_group", "user_group"), name="ldap_link_once")],
            },
        ),
        migrations.CreateModel(
            name="ExternalIdentityProvider",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[("adfs", "OAuth2 ADFS"), ("sso", "SSO Client")], max_length=10, unique=True
                    ),
                ),
                ("enabled", models.BooleanField(default=False)),
                ("server_url", models.CharField(blank=True, max_length=500)),
                (
                    "adfs_mode",
                    models.CharField(
                        choices=[("v3", "ADFS V3 Mode"), ("v4", "ADFS V4 Mode")], default="v4", max_length=2
                    ),
                ),
                ("import_claims", models.BooleanField(default=True)),
                ("resource_name", models.CharField(blank=True, max_length=255)),
                ("client_id", models.CharField(blank=True, max_length=255)),
                ("client_secret", core.crypto.EncryptedTextField(blank=True, default="")),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]

"""manage.py seed_demo: a living demo account, made by the real services, refusing to run twice."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.models import RoleGrant
from accounts.roles import AccountRole
from licensing.models import (
    Alert,
    Entitlement,
    LicenseDefinition,
    LicenseUsage,
    LocalAccount,
    ProductInstance,
    RegistrationToken,
)
from licensing.services.compliance import FROM_HIGHER_TIER, OUT_OF_COMPLIANCE, account_compliance, license_positions

N = 60


def seed(*args):
    out = io.StringIO()
    call_command("seed_demo", "--product-instances", str(N), *args, stdout=out)
    return out.getvalue()


def snapshot(account):
    """What the seed decides, with times relative to the run (they move with the clock)."""
    pis = list(ProductInstance.objects.filter(account=account).order_by("udi_serial_number"))
    ref = max(pi.last_contact_at for pi in pis)
    lines = sorted(
        Entitlement.objects.filter(virtual_account__account=account).values_list(
            "virtual_account__name",
            "license__entitlement_tag",
            "license_type",
            "quantity",
            "start_date",
            "end_date",
            "subscription_id",
            "sku",
        )
    )
    usage = sorted(
        LicenseUsage.objects.filter(product_instance__account=account).values_list(
            "product_instance__udi_serial_number", "license__entitlement_tag", "count"
        )
    )
    return (
        [
            (
                pi.virtual_account.name,
                pi.udi_pid,
                pi.udi_serial_number,
                pi.hostname,
                pi.redundancy_role,
                pi.redundancy_group,
                ref - pi.last_contact_at,
                ref - pi.registered_at,
            )
            for pi in pis
        ],
        lines,
        usage,
    )


@pytest.mark.django_db
def test_seed_demo_fills_one_living_account():
    output = seed("--seed", "5")
    assert "WITHOUT registration with CSSM" in output
    account = LocalAccount.objects.get(name="Demo")
    assert account.status == LocalAccount.Status.ACTIVE
    vas = set(account.virtual_accounts.values_list("name", flat=True))
    assert "Default" in vas and 4 <= len(vas) <= 5

    # Product instances: N of them, over every VA, bulk-created with their account.
    pis = ProductInstance.objects.filter(account=account)
    assert pis.count() == N
    assert set(pis.values_list("virtual_account__name", flat=True)) == vas
    assert {"C9300-24T", "ISR4331/K9", "ASR1001-X"} <= set(pis.values_list("udi_pid", flat=True))
    # Redundancy pairs: each group has exactly one ACTIVE and one STANDBY, in the same VA.
    groups = {}
    for group, role, va in pis.exclude(redundancy_group="").values_list(
        "redundancy_group", "redundancy_role", "virtual_account_id"
    ):
        groups.setdefault(group, []).append((role, va))
    assert groups
    for members in groups.values():
        assert sorted(role for role, _ in members) == ["active", "standby"]
        assert len({va for _, va in members}) == 1
    assert LicenseUsage.objects.filter(product_instance__account=account).count() >= N

    # License lines: every type, something expiring within 30/60/90 days, one already expired.
    lines = Entitlement.objects.filter(virtual_account__account=account)
    assert set(lines.values_list("license_type", flat=True)) == set(Entitlement.LicenseType.values)
    today = account_compliance(account).as_of
    ends = [(end - today).days for end in lines.exclude(end_date=None).values_list("end_date", flat=True)]
    assert any(0 <= d <= 30 for d in ends) and any(30 < d <= 60 for d in ends) and any(60 < d <= 90 for d in ends)
    assert any(d < 0 for d in ends)
    terms = {(s, e) for s, e in lines.filter(license_type="term").values_list("start_date", "end_date")}
    assert {(e - s).days for s, e in terms} >= {365, 1095}
    demo = lines.get(license_type="demo")
    assert (demo.end_date - demo.start_date).days == 60
    assert LicenseDefinition.objects.filter(export_restricted=True, entitlements__in=lines).exists()

    # Compliance: a lower tier borrows from a higher one, and one license is out of compliance.
    positions = license_positions(account)
    assert any(s.substitution_type == FROM_HIGHER_TIER for p in positions for s in p.substitutions)
    summary = account_compliance(account)
    assert summary.status == OUT_OF_COMPLIANCE
    assert [t.license for t in summary.out_of_compliance] == ["DNA Advantage"]

    # Tokens: one unlimited, one with max uses, one revoked.
    tokens = RegistrationToken.objects.filter(virtual_account__account=account)
    assert tokens.count() == 3
    assert tokens.filter(max_uses=None, revoked_at=None).exists()
    assert tokens.filter(max_uses__isnull=False, revoked_at=None).exists()
    assert tokens.filter(revoked_at__isnull=False).count() == 1

    assert account.license_tags.count() >= 2 and all(tag.licenses.exists() for tag in account.license_tags.all())

    # Alerts: shortage, expiring lines, failed to connect and failed to renew.
    types = set(Alert.objects.filter(account=account, status=Alert.Status.OPEN).values_list("alert_type", flat=True))
    # (Licenses Expired, Duplicate Licenses and the synchronization alerts are not seeded.)
    assert types >= {
        Alert.Type.INSUFFICIENT_LICENSES,
        Alert.Type.LICENSES_EXPIRING,
        Alert.Type.PI_FAILED_TO_CONNECT,
        Alert.Type.PI_FAILED_TO_RENEW,
    }


@pytest.mark.django_db
def test_second_run_refuses_and_replace_recreates():
    seed()
    first = LocalAccount.objects.get(name="Demo")
    with pytest.raises(CommandError, match="already exists.*--replace"):
        seed()
    assert LocalAccount.objects.filter(name="Demo").count() == 1
    assert ProductInstance.objects.filter(account=first).count() == N

    seed("--replace")
    again = LocalAccount.objects.get(name="Demo")
    assert again.pk != first.pk
    assert not LocalAccount.objects.filter(pk=first.pk).exists()
    assert ProductInstance.objects.count() == N
    # The catalogue is reused by entitlement tag, not duplicated.
    assert LicenseDefinition.objects.count() == 9


@pytest.mark.django_db
def test_replace_leaves_an_account_not_made_by_seed_demo(make_account):
    make_account("Demo")
    with pytest.raises(CommandError, match="not made by seed_demo"):
        seed("--replace")
    assert ProductInstance.objects.count() == 0


@pytest.mark.django_db
def test_same_seed_same_data_other_seed_other_data():
    seed("--seed", "11")
    first = snapshot(LocalAccount.objects.get(name="Demo"))
    seed("--seed", "11", "--replace")
    assert snapshot(LocalAccount.objects.get(name="Demo")) == first
    seed("--seed", "12", "--replace")
    assert snapshot(LocalAccount.objects.get(name="Demo")) != first


@pytest.mark.django_db
def test_with_users_prints_passwords_once_and_grants_roles():
    output = seed("--with-users", "--account", "Showroom")
    account = LocalAccount.objects.get(name="Showroom")
    User = get_user_model()
    admin, va_user = User.objects.get(username="demo-admin"), User.objects.get(username="demo-va-user")
    password = output.split("demo-admin")[1].split("password: ")[1].split()[0]
    assert admin.check_password(password)
    assert RoleGrant.objects.get(user=admin).role == AccountRole.ACCOUNT_ADMIN
    grant = RoleGrant.objects.get(user=va_user)
    assert grant.role == AccountRole.VA_USER and grant.virtual_account.account == account
    with pytest.raises(CommandError, match="already exists"):
        seed("--with-users", "--account", "Other")


@pytest.mark.django_db
def test_seed_demo_writes_a_usage_history_every_chart_can_draw():
    """The license "Usage over time" chart drew an empty line near 0 next to hundreds in use: the
    demo data sent no usage reports. Now each license a virtual account uses has a history that
    covers its instances, growing to today's counts."""
    from licensing.models import RumReport
    from licensing.services.usage_history import reported_usage

    seed("--seed", "5")
    account = LocalAccount.objects.get(name="Demo")
    assert RumReport.objects.filter(account=account).count() > 0
    used = LicenseUsage.objects.filter(product_instance__account=account, count__gt=0)
    pairs = set(used.values_list("product_instance__virtual_account", "license").distinct())
    assert pairs
    for va_id, license_id in pairs:
        va = account.virtual_accounts.get(pk=va_id)
        license = LicenseUsage.objects.filter(license_id=license_id).first().license
        history = reported_usage(va, license, days=90)
        assert history.has_data and not history.too_little, (va.name, license.name)
        assert history.values[-1] >= history.values[0]  # it grew into its licenses


@pytest.mark.django_db
def test_a_history_from_too_few_reporting_instances_says_so(admin_client):
    from licensing.models import RumReport

    seed("--seed", "5")
    account = LocalAccount.objects.get(name="Demo")
    usage = LicenseUsage.objects.filter(product_instance__account=account, count__gt=0).select_related(
        "license", "product_instance__virtual_account"
    )
    by_pair = {}
    for row in usage:
        by_pair.setdefault((row.product_instance.virtual_account, row.license), []).append(row.product_instance)
    (va, license), users = max(by_pair.items(), key=lambda item: len(item[1]))
    assert len(users) >= 3
    row = usage.filter(product_instance=users[0]).first()
    # Keep the reports of a single instance: the rest now use the license without reporting it.
    RumReport.objects.filter(account=account).exclude(product_instance=row.product_instance).delete()
    from licensing.services.usage_history import reported_usage

    history = reported_usage(va, license, days=90)
    assert history.too_little
    page = admin_client.get(
        f"/accounts/{account.pk}/inventory/virtual-accounts/{va.pk}/licenses/{license.pk}/?tab=overview&days=90"
    ).content.decode()
    assert "Too few of the product instances using this license report their usage" in page
    assert 'class="chart-history-svg"' not in page

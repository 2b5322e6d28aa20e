"""The trigger-kept usage totals (migration 0008) against the rule they stand for.

``compliance._in_use`` reads ``UsageTotal`` and ``RedundancyExclusion`` instead of summing every
usage row. These tests drive every kind of write that can change what those tables must say
(usage rows added, changed, deleted; product instances transferred, re-roled, regrouped,
made stale, removed; bulk loads) in a random order, and after each step compare

- both tables with what the rows say (``usage_totals.drift``), and
- ``_in_use`` with the rule computed from scratch by a plain aggregate (``reference_in_use``
  below: every row, the correlated EXISTS for the redundancy rule).

They run on SQLite and on PostgreSQL (each has its own trigger code).
"""

import datetime
import random

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Exists, OuterRef, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from licensing.models import LicenseUsage, ProductInstance, RedundancyExclusion, UsageTotal
from licensing.services import compliance, usage_totals
from licensing.services.product_instances import remove_product_instance, transfer_product_instance

Role = ProductInstance.RedundancyRole


def reference_in_use(va_ids, as_of):
    """The rule as a plain aggregate: in use per (VA, license) summed over every usage row."""
    active_peer_uses_it = LicenseUsage.objects.filter(
        license_id=OuterRef("license_id"),
        product_instance__account_id=OuterRef("product_instance__account_id"),
        product_instance__redundancy_group=OuterRef("product_instance__redundancy_group"),
        product_instance__redundancy_role=Role.ACTIVE,
    )
    rows = (
        LicenseUsage.objects.filter(product_instance__virtual_account_id__in=list(va_ids))
        .filter(
            ~Q(product_instance__redundancy_role=Role.STANDBY)
            | Q(product_instance__redundancy_group="")
            | ~Exists(active_peer_uses_it)
        )
        .alias(last_seen=Coalesce("product_instance__last_contact_at", "product_instance__registered_at"))
        .exclude(Q(last_seen__lte=compliance._renewal_cutoff(as_of)) & Q(license__export_restricted=False))
        .values("product_instance__virtual_account_id", "license_id")
        .annotate(in_use=Sum("count"))
        .order_by()
    )
    return {(r["product_instance__virtual_account_id"], r["license_id"]): r["in_use"] for r in rows}


def assert_consistent(va_ids, as_of=None):
    as_of = as_of or compliance.today()
    assert usage_totals.drift() == {"totals": {}, "redundancy": {}}
    assert compliance._in_use(va_ids, as_of) == reference_in_use(va_ids, as_of)


@pytest.fixture
def world(acme, default_va, new_va, license_def):
    vas = [default_va, new_va("East"), new_va("West")]
    restricted = license_def("Export Crypto", export_restricted=True)
    licenses = [license_def("Essentials"), license_def("Advantage"), restricted]
    return vas, licenses


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_writes_keep_the_totals_and_the_rule(world, add_pi, seed):
    """Hundreds of random writes of every kind; after each, the kept numbers equal the rows'."""
    vas, licenses = world
    rng = random.Random(seed)
    va_ids = [va.pk for va in vas]
    pis = []
    groups = ["app:g1", "app:g2", "app:g3"]
    now = timezone.now()
    for step in range(80):
        action = rng.choice(
            [
                "add",
                "add",
                "use",
                "use",
                "use",
                "change",
                "release",
                "transfer",
                "role",
                "stale",
                "fresh",
                "remove",
                "bulk",
            ]
        )
        if action == "add" or not pis:
            role, group = rng.choice(
                [
                    (Role.NONE, ""),
                    (Role.ACTIVE, rng.choice(groups)),
                    (Role.STANDBY, rng.choice(groups)),
                    (Role.STANDBY, ""),
                ]
            )
            pis.append(add_pi(rng.choice(vas), f"S{seed}-{step}", role=role, group=group))
        elif action == "use":
            pi, lic = rng.choice(pis), rng.choice(licenses)
            LicenseUsage.objects.update_or_create(
                product_instance=pi, license=lic, defaults={"count": rng.randint(1, 5)}
            )
        elif action == "change":
            rows = list(LicenseUsage.objects.order_by("pk")[:50])
            if rows:
                for row in rng.sample(rows, min(3, len(rows))):
                    row.count = rng.randint(1, 9)
                LicenseUsage.objects.bulk_update(rows, ["count"])
        elif action == "release":
            LicenseUsage.objects.filter(product_instance=rng.choice(pis)).delete()
        elif action == "transfer":
            pi = rng.choice(pis)
            pi.refresh_from_db()
            to_va = rng.choice([va for va in vas if va.pk != pi.virtual_account_id])
            transfer_product_instance(actor=None, pi=pi, to_va=to_va)
        elif action == "role":
            pi = rng.choice(pis)
            ProductInstance.objects.filter(pk=pi.pk).update(
                redundancy_role=rng.choice([Role.NONE, Role.ACTIVE, Role.STANDBY]), redundancy_group=rng.choice(groups)
            )
        elif action == "stale":
            ProductInstance.objects.filter(pk=rng.choice(pis).pk).update(
                last_contact_at=now - datetime.timedelta(days=rng.randint(91, 400))
            )
        elif action == "fresh":
            ProductInstance.objects.filter(pk=rng.choice(pis).pk).update(last_contact_at=now)
        elif action == "remove":
            pi = pis.pop(rng.randrange(len(pis)))
            pi.refresh_from_db()
            remove_product_instance(actor=None, pi=pi)
        elif action == "bulk":
            used = set(LicenseUsage.objects.values_list("product_instance_id", "license_id"))
            new = [
                LicenseUsage(product_instance=pi, license=lic, count=rng.randint(1, 4))
                for pi in rng.sample(pis, min(4, len(pis)))
                for lic in licenses
                if (pi.pk, lic.pk) not in used
            ]
            LicenseUsage.objects.bulk_create(new)
        assert_consistent(va_ids), (step, action)
    # not a vacuous walk: both tables held something along the way
    assert UsageTotal.objects.exists()


def test_a_standby_peer_is_left_out_only_while_its_active_peer_uses_the_license(world, add_pi):
    vas, (essentials, advantage, _) = world
    va = vas[0]
    active = add_pi(va, "A1", role=Role.ACTIVE, group="app:x")
    standby = add_pi(va, "B1", role=Role.STANDBY, group="app:x")
    LicenseUsage.objects.create(product_instance=standby, license=essentials, count=2)
    assert compliance._in_use([va.pk], compliance.today()) == {(va.pk, essentials.pk): 2}
    LicenseUsage.objects.create(product_instance=active, license=essentials, count=2)
    assert compliance._in_use([va.pk], compliance.today()) == {(va.pk, essentials.pk): 2}
    assert RedundancyExclusion.objects.get().count == 2
    LicenseUsage.objects.create(product_instance=standby, license=advantage, count=1)  # not used by the active
    assert compliance._in_use([va.pk], compliance.today()) == {(va.pk, essentials.pk): 2, (va.pk, advantage.pk): 1}
    LicenseUsage.objects.filter(product_instance=active).delete()
    assert compliance._in_use([va.pk], compliance.today()) == {(va.pk, essentials.pk): 2, (va.pk, advantage.pk): 1}
    assert not RedundancyExclusion.objects.exists()
    assert_consistent([va.pk])


def test_a_removed_active_peer_gives_the_standby_its_count_back(world, add_pi):
    vas, (essentials, _, _) = world
    va = vas[1]
    active = add_pi(va, "A2", role=Role.ACTIVE, group="app:y")
    standby = add_pi(va, "B2", role=Role.STANDBY, group="app:y")
    for pi in (active, standby):
        LicenseUsage.objects.create(product_instance=pi, license=essentials, count=3)
    assert compliance._in_use([va.pk], compliance.today()) == {(va.pk, essentials.pk): 3}
    remove_product_instance(actor=None, pi=active)
    assert compliance._in_use([va.pk], compliance.today()) == {(va.pk, essentials.pk): 3}
    assert_consistent([va.pk])


def test_a_raw_delete_of_a_product_instance_keeps_the_totals(world, add_pi):
    """Deleting the product instance before its usage rows (raw SQL, no Django collector)."""
    from django.db import connection

    vas, (essentials, _, _) = world
    pi = add_pi(vas[0], "RAW1", identity=False)  # the raw delete removes no identity row
    LicenseUsage.objects.create(product_instance=pi, license=essentials, count=4)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # the usage rows' foreign key is checked at commit
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute("DELETE FROM licensing_productinstance WHERE id = %s", [pi.pk])
        cursor.execute("DELETE FROM licensing_licenseusage WHERE product_instance_id = %s", [pi.pk])
    assert_consistent([vas[0].pk])


def test_the_command_finds_drift_and_rebuild_repairs_it(world, add_pi, capsys):
    vas, (essentials, _, _) = world
    pi = add_pi(vas[0], "CMD1")
    LicenseUsage.objects.create(product_instance=pi, license=essentials, count=4)
    call_command("usage_totals", "--check")
    UsageTotal.objects.update(count=99)  # what a load with triggers disabled could leave
    with pytest.raises(CommandError, match="differ"):
        call_command("usage_totals", "--check")
    assert "kept 99, rows say 4" in capsys.readouterr().err
    call_command("usage_totals", "--rebuild")
    call_command("usage_totals", "--check")
    assert compliance._in_use([vas[0].pk], compliance.today()) == {(vas[0].pk, essentials.pk): 4}


def test_compliance_reads_one_query_for_usage_however_many_product_instances(world, add_pi, django_assert_num_queries):
    """The in-use part of the positions is one query, with 5 or 200 product instances."""
    vas, (essentials, _, _) = world
    for n in range(200):
        pi = add_pi(
            vas[0], f"MANY{n}", role=Role.STANDBY if n % 10 == 0 else Role.NONE, group=f"app:{n}" if n % 10 == 0 else ""
        )
        LicenseUsage.objects.create(product_instance=pi, license=essentials, count=1)
    with django_assert_num_queries(1):
        in_use = compliance._in_use([vas[0].pk], compliance.today())
    assert in_use == {(vas[0].pk, essentials.pk): 200}

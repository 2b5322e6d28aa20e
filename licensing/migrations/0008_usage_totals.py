"""Running usage totals and left-out redundancy usage, kept by triggers.

So that compliance need not sum every product instance's usage, nor pair every STANDBY peer
with its ACTIVE one, for each AUTHORIZE (docs/performance.md), the triggers below keep

- ``licensing_usagetotal``: the sum of the usage counts per (virtual account, license, shard),
  on every insert, update and delete of ``licensing_licenseusage`` and when a product instance
  moves to another virtual account;
- ``licensing_redundancyexclusion``: per (local account, redundancy group, license, virtual
  account) the usage of STANDBY peers whose ACTIVE peer uses the same license, recomputed for
  the one group a write touches (a group has a handful of members);

whatever code writes (services, bulk loads, cascading deletes, raw SQL). The data migration
fills both from the rows already there.

The SQL is frozen here on purpose (a migration must not change when the code does);
``licensing.services.usage_totals`` rebuilds and checks what the triggers keep.
"""

import django.db.models.deletion
from django.db import migrations, models

SHARDS = 16

# -- PostgreSQL -------------------------------------------------------------------------------

POSTGRES = [
    f"""
    CREATE OR REPLACE FUNCTION licensing_usage_total_add(va bigint, lic bigint, pi bigint, delta bigint)
    RETURNS void AS $$
    BEGIN
        IF va IS NULL OR delta = 0 THEN
            RETURN;
        END IF;
        INSERT INTO licensing_usagetotal (virtual_account_id, license_id, shard, count)
        VALUES (va, lic, pi % {SHARDS}, delta)
        ON CONFLICT (virtual_account_id, license_id, shard)
        DO UPDATE SET count = licensing_usagetotal.count + EXCLUDED.count;
    END $$ LANGUAGE plpgsql
    """,
    # One group's left-out usage, recomputed from its members. The advisory lock serialises two
    # transactions recomputing the same group (an ACTIVE and a STANDBY peer authorizing at once):
    # the second then sees the first's rows once it commits (READ COMMITTED: a new snapshot per
    # statement) instead of inserting the same keys.
    """
    CREATE OR REPLACE FUNCTION licensing_redundancy_refresh(acct bigint, grp varchar)
    RETURNS void AS $$
    BEGIN
        IF acct IS NULL OR grp IS NULL OR grp = '' THEN
            RETURN;
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('licensing_redundancy'), hashtext(acct::text || ':' || grp));
        DELETE FROM licensing_redundancyexclusion WHERE account_id = acct AND redundancy_group = grp;
        INSERT INTO licensing_redundancyexclusion (account_id, redundancy_group, license_id, virtual_account_id, count)
        SELECT s.account_id, s.redundancy_group, su.license_id, s.virtual_account_id, SUM(su.count)
        FROM licensing_productinstance s
        JOIN licensing_licenseusage su ON su.product_instance_id = s.id
        WHERE s.account_id = acct AND s.redundancy_group = grp AND s.redundancy_role = 'standby'
          AND EXISTS (SELECT 1 FROM licensing_productinstance a
                      JOIN licensing_licenseusage au ON au.product_instance_id = a.id
                      WHERE a.account_id = acct AND a.redundancy_group = grp AND a.redundancy_role = 'active'
                        AND au.license_id = su.license_id)
        GROUP BY s.account_id, s.redundancy_group, su.license_id, s.virtual_account_id;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE OR REPLACE FUNCTION licensing_usage_totals_on_usage() RETURNS trigger AS $$
    DECLARE
        old_pi record;
        new_pi record;
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            SELECT virtual_account_id, account_id, redundancy_group INTO old_pi
            FROM licensing_productinstance WHERE id = OLD.product_instance_id;
        END IF;
        IF TG_OP IN ('UPDATE', 'INSERT') THEN
            SELECT virtual_account_id, account_id, redundancy_group INTO new_pi
            FROM licensing_productinstance WHERE id = NEW.product_instance_id;
        END IF;
        IF TG_OP = 'UPDATE' AND OLD.product_instance_id = NEW.product_instance_id
                AND OLD.license_id = NEW.license_id THEN
            PERFORM licensing_usage_total_add(new_pi.virtual_account_id, NEW.license_id, NEW.product_instance_id,
                                              NEW.count::bigint - OLD.count::bigint);
        ELSE
            IF TG_OP IN ('UPDATE', 'DELETE') THEN
                PERFORM licensing_usage_total_add(old_pi.virtual_account_id, OLD.license_id, OLD.product_instance_id,
                                                  -OLD.count::bigint);
            END IF;
            IF TG_OP IN ('UPDATE', 'INSERT') THEN
                PERFORM licensing_usage_total_add(new_pi.virtual_account_id, NEW.license_id, NEW.product_instance_id,
                                                  NEW.count::bigint);
            END IF;
        END IF;
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            PERFORM licensing_redundancy_refresh(old_pi.account_id, old_pi.redundancy_group);
        END IF;
        IF TG_OP = 'INSERT' THEN
            PERFORM licensing_redundancy_refresh(new_pi.account_id, new_pi.redundancy_group);
        ELSIF TG_OP = 'UPDATE' THEN
            IF (new_pi.account_id, new_pi.redundancy_group) IS DISTINCT FROM (old_pi.account_id, old_pi.redundancy_group) THEN
                PERFORM licensing_redundancy_refresh(new_pi.account_id, new_pi.redundancy_group);
            END IF;
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER licensing_usage_totals_on_usage
    AFTER INSERT OR DELETE OR UPDATE OF count, product_instance_id, license_id ON licensing_licenseusage
    FOR EACH ROW EXECUTE FUNCTION licensing_usage_totals_on_usage()
    """,
    # A product instance moving to another virtual account takes its usage along; a change of
    # role, group or virtual account changes what its group leaves out.
    """
    CREATE OR REPLACE FUNCTION licensing_usage_totals_on_pi_update() RETURNS trigger AS $$
    DECLARE
        usage record;
    BEGIN
        IF OLD.virtual_account_id IS DISTINCT FROM NEW.virtual_account_id THEN
            FOR usage IN SELECT license_id, count FROM licensing_licenseusage
                         WHERE product_instance_id = NEW.id ORDER BY license_id LOOP
                PERFORM licensing_usage_total_add(OLD.virtual_account_id, usage.license_id, NEW.id, -usage.count::bigint);
                PERFORM licensing_usage_total_add(NEW.virtual_account_id, usage.license_id, NEW.id, usage.count::bigint);
            END LOOP;
        END IF;
        PERFORM licensing_redundancy_refresh(OLD.account_id, OLD.redundancy_group);
        IF (NEW.account_id, NEW.redundancy_group) IS DISTINCT FROM (OLD.account_id, OLD.redundancy_group) THEN
            PERFORM licensing_redundancy_refresh(NEW.account_id, NEW.redundancy_group);
        END IF;
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER licensing_usage_totals_on_pi_update
    AFTER UPDATE OF virtual_account_id, account_id, redundancy_role, redundancy_group ON licensing_productinstance
    FOR EACH ROW WHEN ((OLD.virtual_account_id, OLD.account_id, OLD.redundancy_role, OLD.redundancy_group)
                       IS DISTINCT FROM (NEW.virtual_account_id, NEW.account_id, NEW.redundancy_role, NEW.redundancy_group))
    EXECUTE FUNCTION licensing_usage_totals_on_pi_update()
    """,
    # Django deletes a product instance's usage rows before the product instance; a delete that
    # goes the other way (raw SQL, a database cascade) still leaves the totals right: the rows
    # are subtracted here and their own delete then finds no product instance and adds nothing.
    """
    CREATE OR REPLACE FUNCTION licensing_usage_totals_on_pi_delete() RETURNS trigger AS $$
    DECLARE
        usage record;
    BEGIN
        FOR usage IN SELECT license_id, count FROM licensing_licenseusage
                     WHERE product_instance_id = OLD.id ORDER BY license_id LOOP
            PERFORM licensing_usage_total_add(OLD.virtual_account_id, usage.license_id, OLD.id, -usage.count::bigint);
        END LOOP;
        RETURN OLD;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER licensing_usage_totals_on_pi_delete
    BEFORE DELETE ON licensing_productinstance
    FOR EACH ROW EXECUTE FUNCTION licensing_usage_totals_on_pi_delete()
    """,
    """
    CREATE OR REPLACE FUNCTION licensing_redundancy_on_pi_deleted() RETURNS trigger AS $$
    BEGIN
        PERFORM licensing_redundancy_refresh(OLD.account_id, OLD.redundancy_group);
        RETURN NULL;
    END $$ LANGUAGE plpgsql
    """,
    """
    CREATE TRIGGER licensing_redundancy_on_pi_deleted
    AFTER DELETE ON licensing_productinstance
    FOR EACH ROW WHEN (OLD.redundancy_group <> '')
    EXECUTE FUNCTION licensing_redundancy_on_pi_deleted()
    """,
]

POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS licensing_usage_totals_on_usage ON licensing_licenseusage",
    "DROP TRIGGER IF EXISTS licensing_usage_totals_on_pi_update ON licensing_productinstance",
    "DROP TRIGGER IF EXISTS licensing_usage_totals_on_pi_delete ON licensing_productinstance",
    "DROP TRIGGER IF EXISTS licensing_redundancy_on_pi_deleted ON licensing_productinstance",
    "DROP FUNCTION IF EXISTS licensing_usage_totals_on_usage()",
    "DROP FUNCTION IF EXISTS licensing_usage_totals_on_pi_update()",
    "DROP FUNCTION IF EXISTS licensing_usage_totals_on_pi_delete()",
    "DROP FUNCTION IF EXISTS licensing_redundancy_on_pi_deleted()",
    "DROP FUNCTION IF EXISTS licensing_redundancy_refresh(bigint, varchar)",
    "DROP FUNCTION IF EXISTS licensing_usage_total_add(bigint, bigint, bigint, bigint)",
]

# -- SQLite (no procedural language: each trigger body spells its statements out) ------------


def _sqlite_add(va_sql, lic, pi, delta):
    # "WHERE true"-style filter: SQLite's parser needs a WHERE before ON CONFLICT in INSERT ... SELECT.
    return f"""
        INSERT INTO licensing_usagetotal (virtual_account_id, license_id, shard, count)
        SELECT va, {lic}, {pi} % {SHARDS}, {delta} FROM (SELECT ({va_sql}) AS va)
        WHERE va IS NOT NULL AND {delta} != 0
        ON CONFLICT (virtual_account_id, license_id, shard) DO UPDATE SET count = count + excluded.count;"""


def _pi(column, pi):
    return f"SELECT {column} FROM licensing_productinstance WHERE id = {pi}"


def _sqlite_refresh(acct, grp):
    """Recompute one group's rows; ``acct`` and ``grp`` are SQL expressions."""
    return f"""
        DELETE FROM licensing_redundancyexclusion WHERE account_id = ({acct}) AND redundancy_group = ({grp});
        INSERT INTO licensing_redundancyexclusion (account_id, redundancy_group, license_id, virtual_account_id, count)
        SELECT s.account_id, s.redundancy_group, su.license_id, s.virtual_account_id, SUM(su.count)
        FROM licensing_productinstance s
        JOIN licensing_licenseusage su ON su.product_instance_id = s.id
        WHERE s.account_id = ({acct}) AND s.redundancy_group = ({grp}) AND s.redundancy_group <> ''
          AND s.redundancy_role = 'standby'
          AND EXISTS (SELECT 1 FROM licensing_productinstance a
                      JOIN licensing_licenseusage au ON au.product_instance_id = a.id
                      WHERE a.account_id = s.account_id AND a.redundancy_group = s.redundancy_group
                        AND a.redundancy_role = 'active' AND au.license_id = su.license_id)
        GROUP BY s.account_id, s.redundancy_group, su.license_id, s.virtual_account_id;"""


SQLITE = [
    f"""CREATE TRIGGER licensing_usage_totals_on_insert AFTER INSERT ON licensing_licenseusage BEGIN
        {
        _sqlite_add(
            _pi("virtual_account_id", "NEW.product_instance_id"),
            "NEW.license_id",
            "NEW.product_instance_id",
            "NEW.count",
        )
    }
        {
        _sqlite_refresh(
            _pi("account_id", "NEW.product_instance_id"), _pi("redundancy_group", "NEW.product_instance_id")
        )
    }
    END""",
    f"""CREATE TRIGGER licensing_usage_totals_on_delete AFTER DELETE ON licensing_licenseusage BEGIN
        {
        _sqlite_add(
            _pi("virtual_account_id", "OLD.product_instance_id"),
            "OLD.license_id",
            "OLD.product_instance_id",
            "-OLD.count",
        )
    }
        {
        _sqlite_refresh(
            _pi("account_id", "OLD.product_instance_id"), _pi("redundancy_group", "OLD.product_instance_id")
        )
    }
    END""",
    f"""CREATE TRIGGER licensing_usage_totals_on_update
    AFTER UPDATE OF count, product_instance_id, license_id ON licensing_licenseusage BEGIN
        {
        _sqlite_add(
            _pi("virtual_account_id", "OLD.product_instance_id"),
            "OLD.license_id",
            "OLD.product_instance_id",
            "-OLD.count",
        )
    }
        {
        _sqlite_add(
            _pi("virtual_account_id", "NEW.product_instance_id"),
            "NEW.license_id",
            "NEW.product_instance_id",
            "NEW.count",
        )
    }
        {
        _sqlite_refresh(
            _pi("account_id", "OLD.product_instance_id"), _pi("redundancy_group", "OLD.product_instance_id")
        )
    }
        {
        _sqlite_refresh(
            _pi("account_id", "NEW.product_instance_id"), _pi("redundancy_group", "NEW.product_instance_id")
        )
    }
    END""",
    f"""CREATE TRIGGER licensing_usage_totals_on_move AFTER UPDATE OF virtual_account_id ON licensing_productinstance
    WHEN OLD.virtual_account_id IS NOT NEW.virtual_account_id BEGIN
        INSERT INTO licensing_usagetotal (virtual_account_id, license_id, shard, count)
        SELECT OLD.virtual_account_id, license_id, NEW.id % {SHARDS}, -count FROM licensing_licenseusage
        WHERE product_instance_id = NEW.id
        ON CONFLICT (virtual_account_id, license_id, shard) DO UPDATE SET count = count + excluded.count;
        INSERT INTO licensing_usagetotal (virtual_account_id, license_id, shard, count)
        SELECT NEW.virtual_account_id, license_id, NEW.id % {SHARDS}, count FROM licensing_licenseusage
        WHERE product_instance_id = NEW.id
        ON CONFLICT (virtual_account_id, license_id, shard) DO UPDATE SET count = count + excluded.count;
    END""",
    f"""CREATE TRIGGER licensing_redundancy_on_pi_update
    AFTER UPDATE OF virtual_account_id, account_id, redundancy_role, redundancy_group ON licensing_productinstance
    WHEN OLD.virtual_account_id IS NOT NEW.virtual_account_id OR OLD.account_id IS NOT NEW.account_id
      OR OLD.redundancy_role IS NOT NEW.redundancy_role OR OLD.redundancy_group IS NOT NEW.redundancy_group BEGIN
        {_sqlite_refresh("OLD.account_id", "OLD.redundancy_group")}
        {_sqlite_refresh("NEW.account_id", "NEW.redundancy_group")}
    END""",
    f"""CREATE TRIGGER licensing_usage_totals_on_pi_delete BEFORE DELETE ON licensing_productinstance BEGIN
        INSERT INTO licensing_usagetotal (virtual_account_id, license_id, shard, count)
        SELECT OLD.virtual_account_id, license_id, OLD.id % {SHARDS}, -count FROM licensing_licenseusage
        WHERE product_instance_id = OLD.id
        ON CONFLICT (virtual_account_id, license_id, shard) DO UPDATE SET count = count + excluded.count;
    END""",
    f"""CREATE TRIGGER licensing_redundancy_on_pi_deleted AFTER DELETE ON licensing_productinstance
    WHEN OLD.redundancy_group <> '' BEGIN
        {_sqlite_refresh("OLD.account_id", "OLD.redundancy_group")}
    END""",
]

SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "licensing_usage_totals_on_insert",
        "licensing_usage_totals_on_delete",
        "licensing_usage_totals_on_update",
        "licensing_usage_totals_on_move",
        "licensing_redundancy_on_pi_update",
        "licensing_usage_totals_on_pi_delete",
        "licensing_redundancy_on_pi_deleted",
    )
]

# -- both: fill from the rows already there ----------------------------------------------------

BACKFILL = [
    "DELETE FROM licensing_usagetotal",
    f"""
    INSERT INTO licensing_usagetotal (virtual_account_id, license_id, shard, count)
    SELECT pi.virtual_account_id, u.license_id, pi.id % {SHARDS}, SUM(u.count)
    FROM licensing_licenseusage u JOIN licensing_productinstance pi ON pi.id = u.product_instance_id
    GROUP BY pi.virtual_account_id, u.license_id, pi.id % {SHARDS}
    """,
    "DELETE FROM licensing_redundancyexclusion",
    """
    INSERT INTO licensing_redundancyexclusion (account_id, redundancy_group, license_id, virtual_account_id, count)
    SELECT s.account_id, s.redundancy_group, su.license_id, s.virtual_account_id, SUM(su.count)
    FROM licensing_productinstance s
    JOIN licensing_licenseusage su ON su.product_instance_id = s.id
    WHERE s.redundancy_role = 'standby' AND s.redundancy_group <> ''
      AND EXISTS (SELECT 1 FROM licensing_productinstance a
                  JOIN licensing_licenseusage au ON au.product_instance_id = a.id
                  WHERE a.account_id = s.account_id AND a.redundancy_group = s.redundancy_group
                    AND a.redundancy_role = 'active' AND au.license_id = su.license_id)
    GROUP BY s.account_id, s.redundancy_group, su.license_id, s.virtual_account_id
    """,
]


def _statements(vendor, postgres, sqlite):
    if vendor == "postgresql":
        return postgres
    if vendor == "sqlite":
        return sqlite
    raise RuntimeError(f"usage totals need triggers written for {vendor}")


def install(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for statement in _statements(schema_editor.connection.vendor, POSTGRES, SQLITE) + BACKFILL:
            cursor.execute(statement)


def uninstall(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        for statement in _statements(schema_editor.connection.vendor, POSTGRES_DROP, SQLITE_DROP):
            cursor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("licensing", "0007_registration_limits"),
    ]

    operations = [
        migrations.CreateModel(
            name="RedundancyExclusion",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("redundancy_group", models.CharField(max_length=255)),
                ("count", models.BigIntegerField()),
            ],
        ),
        migrations.CreateModel(
            name="UsageTotal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("shard", models.SmallIntegerField()),
                ("count", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.AddIndex(
            model_name="productinstance",
            index=models.Index(fields=["virtual_account", "last_contact_at"], name="pi_va_last_contact"),
        ),
        migrations.AddField(
            model_name="redundancyexclusion",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="licensing.localaccount",
            ),
        ),
        migrations.AddField(
            model_name="redundancyexclusion",
            name="license",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="licensing.licensedefinition",
            ),
        ),
        migrations.AddField(
            model_name="redundancyexclusion",
            name="virtual_account",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="licensing.virtualaccount",
            ),
        ),
        migrations.AddField(
            model_name="usagetotal",
            name="license",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="licensing.licensedefinition",
            ),
        ),
        migrations.AddField(
            model_name="usagetotal",
            name="virtual_account",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="licensing.virtualaccount",
            ),
        ),
        migrations.AddIndex(
            model_name="redundancyexclusion",
            index=models.Index(fields=["virtual_account", "license"], name="redundancy_exclusion_va"),
        ),
        migrations.AddConstraint(
            model_name="redundancyexclusion",
            constraint=models.UniqueConstraint(
                fields=("account", "redundancy_group", "license", "virtual_account"),
                name="redundancy_exclusion_one_row",
            ),
        ),
        migrations.AddConstraint(
            model_name="usagetotal",
            constraint=models.UniqueConstraint(
                fields=("virtual_account", "license", "shard"), name="usage_total_one_row"
            ),
        ),
        migrations.RunPython(install, uninstall),
    ]

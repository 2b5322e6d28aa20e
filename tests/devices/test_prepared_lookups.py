"""The hand-written hot-path statements (licensing/services/prepared.py) answer what the ORM did.

The certificate, token and product-instance lookups build model instances from raw rows: each
is compared field by field with the ORM's answer (both databases: SQLite's converters too). On
PostgreSQL they are server-side prepared statements: they must survive a rolled-back
transaction and a new connection.
"""

import pytest
from django.db import connection, transaction

from licensing.models import DeviceCertificate, DeviceIdentity, ProductInstance, RegistrationToken
from licensing.services import device_registration, prepared
from licensing.services.device_pki import current_authority, find_certificate
from licensing.services.tokens import _token_by_digest, canonical_token, token_digest

pytestmark = pytest.mark.django_db


def values(instance):
    """The instance's loaded field values (deferred ones left out)."""
    deferred = instance.get_deferred_fields()
    return {
        f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields if f.attname not in deferred
    }


def test_the_certificate_lookup_answers_as_the_orm(registered):
    dev = registered("SN-PREP-1")
    found = find_certificate(dev.cert_serial)
    orm = (
        DeviceCertificate.objects.select_related(
            "product_instance__virtual_account__account", "product_instance__device", "authority"
        )
        .defer("authority__private_key", "authority__chain_pem")
        .get(serial_hex=dev.cert_serial)
    )
    assert values(found) == values(orm)
    assert values(found.product_instance) == values(orm.product_instance)
    assert values(found.product_instance.device) == values(orm.product_instance.device)
    assert values(found.product_instance.virtual_account) == values(orm.product_instance.virtual_account)
    assert values(found.product_instance.virtual_account.account) == values(
        orm.product_instance.virtual_account.account
    )
    assert values(found.authority) == values(orm.authority)
    assert found.authority.get_deferred_fields() == {"private_key", "chain_pem"}
    assert find_certificate("0" * 40) is None


def test_the_certificate_lookup_reads_no_more_and_sees_a_missing_identity(registered, django_assert_num_queries):
    dev = registered("SN-PREP-2")
    DeviceIdentity.objects.filter(product_instance__udi_serial_number="SN-PREP-2").delete()
    with django_assert_num_queries(1):
        found = find_certificate(dev.cert_serial)
        pi = found.product_instance
        assert pi.virtual_account.account.is_active and pi.account.pk == pi.account_id
        assert found.authority.serial_hex
    with pytest.raises(DeviceIdentity.DoesNotExist):
        pi.device  # noqa: B018 - the access is the test


def test_a_revoked_certificate_is_seen_at_once(registered):
    dev = registered("SN-PREP-3")
    assert find_certificate(dev.cert_serial).revoked_at is None
    DeviceCertificate.objects.filter(serial_hex=dev.cert_serial).update(revoked_at="2020-01-01T00:00:00Z")
    assert find_certificate(dev.cert_serial).revoked_at is not None


def test_the_token_and_product_instance_lookups_answer_as_the_orm(registered, token, acme):
    tok = token(max_uses=3)
    registered("SN-PREP-4")
    found = _token_by_digest(token_digest(tok.token))
    orm = RegistrationToken.objects.select_related("virtual_account__account").get(pk=tok.pk)
    assert values(found) == values(orm)
    assert values(found.virtual_account) == values(orm.virtual_account)
    assert values(found.virtual_account.account) == values(orm.virtual_account.account)
    assert canonical_token(found.token) == canonical_token(tok.token)
    with transaction.atomic():
        pi = device_registration._locked_pi(acme, {"udi_pid": "CSR1000V", "udi_serial_number": "SN-PREP-4"})
        orm_pi = ProductInstance.objects.select_related("virtual_account__account").get(udi_serial_number="SN-PREP-4")
        assert values(pi) == values(orm_pi)
        assert values(pi.virtual_account.account) == values(orm_pi.virtual_account.account)
    authority = current_authority(acme)
    assert authority.is_current and authority.account_id == acme.pk
    assert authority.get_deferred_fields() == {"private_key"}


@pytest.mark.postgres
def test_prepared_statements_survive_a_rollback_and_a_forgotten_list(registered):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: prepared statements are PostgreSQL's")
    dev = registered("SN-PREP-5")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            assert find_certificate(dev.cert_serial) is not None  # prepared inside, then rolled back
            raise RuntimeError
    assert find_certificate(dev.cert_serial) is not None
    names = set(prepared._prepared_names(connection))
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements WHERE left(name, 7) = 'onprem_'")
        assert {name for (name,) in cursor.fetchall()} == names != set()
    # The list is read back from the session when it is not known (a new connection object):
    # the statements already there are used, never prepared twice (an error would break the message).
    connection._onprem_prepared = None
    assert find_certificate(dev.cert_serial) is not None
    assert prepared._prepared_names(connection) == names


def test_a_session_the_database_dropped_raises_djangos_error_not_the_drivers():
    """The PREPARE and the session's statement list go over the raw connection: a database restart
    there must still raise django.db's OperationalError/InterfaceError, which
    core/db_unavailable.py answers with 503 + Retry-After (psycopg2's own class would be a 500)."""
    from django.db import DatabaseError, connections

    if connection.vendor != "postgresql":
        pytest.skip("server-side prepared statements are PostgreSQL's")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with connection.cursor() as cursor:  # what a restart does to every session
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(DatabaseError) as raised:
            with other.cursor() as cursor:
                prepared.execute(cursor, "SELECT %s + 41 AS dropped_session_probe", [1])
        assert type(raised.value).__module__ == "django.db.utils", type(raised.value)
        assert other.errors_occurred  # Django knows: the connection is replaced, not reused
    finally:
        other.close()


def test_the_event_insert_writes_the_row_the_orm_writes(registered, acme, sysadmin):
    """core.events.record inserts through core.prepared_statements: the row is the one
    ``Event.objects.create`` writes with the same arguments (created_at from auto_now_add too)."""
    import datetime
    from unittest import mock

    from core import events
    from core.models import Event

    dev = registered("SN-PREP-EVENT")
    va = ProductInstance.objects.get(udi_serial_number="SN-PREP-EVENT").virtual_account
    moment = datetime.datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=datetime.timezone.utc)
    for actor, va_arg in ((None, va), (sysadmin, None)):
        with mock.patch("django.utils.timezone.now", return_value=moment):
            ours = events.record(
                "device.connected",
                actor=actor,
                virtual_account=va_arg,
                identifier=dev.sudi["udi_serial_number"],
                pool_name="Default",
            )
            theirs = Event.objects.create(
                event_type=ours.event_type,
                severity=ours.severity,
                message=ours.message,
                account=va_arg.account if va_arg else None,
                virtual_account=va_arg,
                user=actor,
                username=getattr(actor, "username", ""),
            )
        assert ours.pk is not None and ours.pk != theirs.pk and not ours._state.adding
        rows = {row.pop("id"): row for row in Event.objects.filter(pk__in=[ours.pk, theirs.pk]).values()}
        assert rows[ours.pk] == rows[theirs.pk]
        assert rows[ours.pk]["created_at"] == moment
        assert Event.objects.get(pk=ours.pk).account_id == (va_arg.account_id if va_arg else None)
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: prepared statements are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE left(name, 7) = 'onprem_'")
        assert any('INSERT INTO "onprem_event"' in text for (text,) in cursor.fetchall())

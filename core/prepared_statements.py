"""Server-side prepared statements (PostgreSQL) and the one-row INSERT of the hot paths.

The device services' hand-written statements (``licensing.services.prepared``) and the event
log's insert (``core.events.record``) run through here: a statement is written once per process
(``_sql_of``) and, on PostgreSQL, planned once per connection (``execute``).
"""

import hashlib
import re

from django.db import connection

# -- server-side prepared statements (PostgreSQL) ------------------------------------------

# Statements a connection keeps planned at most: beyond it (a statement whose text varies with its
# number of parameters, say) statements run unprepared.
MAX_PREPARED = 32
_PLACEHOLDER = re.compile(r"%s")


def _prepared_names(conn):
    """The names prepared on ``conn``'s current session, read from the session itself the first
    time (one query per connection), so a PREPARE can never meet a name the session already has."""
    state = getattr(conn, "_onprem_prepared", None)
    if state is None or state[0] is not conn.connection:
        with conn.wrap_database_errors, conn.connection.cursor() as raw:
            raw.execute("SELECT name FROM pg_prepared_statements WHERE left(name, 7) = 'onprem_'")
            state = (conn.connection, {name for (name,) in raw.fetchall()})
        conn._onprem_prepared = state
    return state[1]


def execute(cursor, sql, params):
    """``cursor.execute(sql, params)``; on PostgreSQL as a statement prepared once per connection.

    PostgreSQL spends more time planning the hot path's joins than running them (the certificate
    lookup: 0.5 ms of planning for 0.1 ms of execution; docs/performance.md): a prepared statement
    is planned once, then, when PostgreSQL finds its generic plan as cheap as the custom ones,
    never again. ``PREPARE`` is connection setup, sent on the raw connection (not logged as a
    statement of the message, like Django's own ``SET TIME ZONE``); it outlives transactions,
    rolled back ones included, and ends with the session, which the names are tracked by.
    Statements are named by their text: one text, one name, whichever process prepared it.
    psycopg2 prepares nothing itself; psycopg 3's automatic preparation was measured against this
    and is not clearly faster (docs/performance.md, "psycopg 3's automatic preparation").
    """
    conn = cursor.db
    # "%%" (a literal percent) would reach PREPARE doubled: psycopg2 un-doubles it only when it
    # interpolates parameters, which the raw PREPARE below does not. Such a statement runs plainly.
    if conn.vendor != "postgresql" or "%%" in sql:
        cursor.execute(sql, params)
        return
    name = "onprem_" + hashlib.blake2s(sql.encode(), digest_size=8).hexdigest()
    conn.validate_no_broken_transaction()  # as Django's cursor does, before the raw statements below
    names = _prepared_names(conn)
    if name not in names:
        if len(names) >= MAX_PREPARED:
            cursor.execute(sql, params)
            return
        numbered = iter(range(1, len(params) + 1))
        # Django's error classes, as its own cursors raise them: a session the database dropped
        # (a restart) is an OperationalError the 503 of core/db_unavailable.py answers, and
        # Django learns that the connection is broken.
        with conn.wrap_database_errors, conn.connection.cursor() as raw:
            raw.execute(f"PREPARE {name} AS {_PLACEHOLDER.sub(lambda _: f'${next(numbered)}', sql)}")
        names.add(name)
    cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}", params)


_statements: dict[tuple[str, type, object], str] = {}  # (statement kind, model, shape): its SQL


def _sql_of(key, make):
    sql = _statements.get(key)
    if sql is None:
        sql = _statements[key] = make()
    return sql


def returning_supported():
    """Whether the database answers ``INSERT ... RETURNING`` (PostgreSQL; SQLite from 3.35)."""
    return connection.features.can_return_columns_from_insert


def insert(obj, *, ignore_conflicts=False, prepare=False):
    """INSERT ``obj`` (a new model instance) as ``obj.save()`` would, its primary key read back.

    ``prepare``: on PostgreSQL as a server-side prepared statement (``execute``), for a row
    inserted by every message of a hot path (the event log's).

    ``auto_now`` / ``auto_now_add`` values are filled in (``Field.pre_save``); no model has save
    signals here, and ``save()`` overrides are not called (callers check what those would).
    With ``ignore_conflicts`` a row that breaks a unique constraint is not inserted (``ON
    CONFLICT DO NOTHING``: no error, so no savepoint is needed around it in a transaction) and
    False is returned; needs ``returning_supported()``.
    """
    meta = obj._meta
    auto = meta.auto_field
    if ignore_conflicts and (auto is None or not returning_supported()):
        raise ValueError("ignore_conflicts needs an automatic primary key and INSERT ... RETURNING")
    fields = [f for f in meta.concrete_fields if f is not auto]

    def make():
        quote = connection.ops.quote_name
        sql = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES ({', '.join(['%s'] * len(fields))})"
        )
        if ignore_conflicts:
            sql += " ON CONFLICT DO NOTHING"
        if auto is not None and returning_supported():
            sql += f" RETURNING {quote(auto.column)}"
        return sql

    sql = _sql_of(("insert-instance", type(obj), ignore_conflicts), make)
    values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        if prepare:
            execute(cursor, sql, values)
        else:
            cursor.execute(sql, values)
        if auto is not None:
            if returning_supported():
                row = cursor.fetchone()
                if row is None:
                    return False  # a conflict: nothing inserted
                obj.pk = row[0]
            else:
                obj.pk = connection.ops.last_insert_id(cursor, meta.db_table, auto.column)
    obj._state.adding = False
    obj._state.db = connection.alias
    return True


__all__ = ["execute", "insert", "returning_supported", "MAX_PREPARED"]

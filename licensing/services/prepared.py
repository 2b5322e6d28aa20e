"""Hand-written SQL for the device hot path, with rows turned back into model instances.

Every device message runs a handful of statements; building them through the ORM (resolving
filters and joins, compiling expressions) cost more CPU than the database spent answering them
(docs/performance.md, "Where a device message's time goes"). The statements here are written
once, their column lists taken from the models' own metadata (a field added to a model is
selected without touching this file), and rows come back as ordinary model instances with the
database's converters applied, as the ORM would have returned them. On PostgreSQL the joins are
also planned once per connection (``execute``: server-side prepared statements).

Nothing here caches rows: every statement reads the database, so a certificate revoked or a
token used up a moment ago is seen at once.
"""

import hashlib
import re

from django.db import connection


class Columns:
    """The concrete columns of ``model`` (less ``exclude``, which stay deferred) under ``alias``.

    ``select`` is the SQL column list; ``build(values)`` makes the instance from that many values
    of a row, converted as the ORM converts them (SQLite's datetimes and booleans, encrypted
    fields), with the excluded fields deferred as ``QuerySet.defer`` would leave them.
    """

    def __init__(self, model, alias, *, exclude=()):
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if f.attname not in exclude]
        self.attnames = [f.attname for f in self.fields]
        quote = connection.ops.quote_name
        self.select = ", ".join(f"{alias}.{quote(f.column)}" for f in self.fields)
        self.width = len(self.fields)
        self._pk_index = self.attnames.index(model._meta.pk.attname)
        self._converters = {}

    def _converters_for(self, conn):
        found = self._converters.get(conn.vendor)
        if found is None:
            found = []
            for index, f in enumerate(self.fields):
                col = f.get_col(self.model._meta.db_table)
                chain = conn.ops.get_db_converters(col) + f.get_db_converters(conn)
                if chain:
                    found.append((index, col, chain))
            self._converters[conn.vendor] = found
        return found

    def build(self, values, conn=connection):
        """The instance for ``values`` (exactly ``width`` of them), or None when its key is NULL
        (the missing side of a LEFT JOIN)."""
        values = list(values)
        for index, col, chain in self._converters_for(conn):
            for convert in chain:
                values[index] = convert(values[index], col, conn)
        if values[self._pk_index] is None:
            return None
        return self.model.from_db(conn.alias, self.attnames, values)


def split(row, *columns):
    """``row`` cut into one slice per ``Columns`` (in select order)."""
    parts, start = [], 0
    for cols in columns:
        parts.append(row[start : start + cols.width])
        start += cols.width
    return parts


def cache_related(instance, field_name, related):
    """Set what ``instance.<field_name>`` returns without a query (as select_related would)."""
    instance._meta.get_field(field_name).set_cached_value(instance, related)


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


def _db_values(model, values):
    """``values`` ({attname: value}) as the database takes them (``Field.get_db_prep_save``)."""
    meta = model._meta
    return [meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()]


def update_row(model, pk, **values):
    """``UPDATE <model> SET <values> WHERE pk = <pk>``; the number of rows changed (0 or 1).

    What ``Model.objects.filter(pk=pk).update(**values)`` does for plain column values, without
    building the statement through the ORM each time (it is cached per set of columns).
    """

    def make():
        quote, meta = connection.ops.quote_name, model._meta
        columns = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in values)
        return f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {quote(meta.pk.column)} = %s"

    sql = _sql_of(("update", model, tuple(values)), make)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*_db_values(model, values), pk])
        return cursor.rowcount


def insert_row(model, **values):
    """``INSERT INTO <model> (<values>)``, without a primary key read back (a row nobody reads
    again in the request: a nonce, say). Raises ``IntegrityError`` as ``create`` would."""

    def make():
        quote, meta = connection.ops.quote_name, model._meta
        columns = ", ".join(quote(meta.get_field(name).column) for name in values)
        return f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(values))})"

    sql = _sql_of(("insert", model, tuple(values)), make)
    with connection.cursor() as cursor:
        cursor.execute(sql, _db_values(model, values))


def insert_rows(objs):
    """INSERT the new model instances ``objs`` (one model) in as few statements as the database's
    parameter limit allows, as ``bulk_create`` does, without reading primary keys back (the
    callers never read them again) and without building the statement through the ORM each time.
    """
    if not objs:
        return
    model = type(objs[0])
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    batch = max(1, connection.ops.bulk_batch_size(fields, objs))
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) VALUES "
    row = f"({', '.join(['%s'] * len(fields))})"
    for start in range(0, len(objs), batch):
        chunk = objs[start : start + batch]
        values = [f.get_db_prep_save(f.pre_save(obj, True), connection) for obj in chunk for f in fields]
        with connection.cursor() as cursor:
            execute(cursor, head + ", ".join([row] * len(chunk)), values)
        for obj in chunk:
            obj._state.adding = False
            obj._state.db = connection.alias


def returning_supported():
    """Whether the database answers ``INSERT ... RETURNING`` (PostgreSQL; SQLite from 3.35)."""
    return connection.features.can_return_columns_from_insert


def insert(obj, *, ignore_conflicts=False):
    """INSERT ``obj`` (a new model instance) as ``obj.save()`` would, its primary key read back.

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


__all__ = [
    "Columns",
    "split",
    "cache_related",
    "update_row",
    "insert_row",
    "insert",
    "returning_supported",
    "execute",
    "insert_rows",
]

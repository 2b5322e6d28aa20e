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

from django.db import connection

# The server-side prepared statements and the one-row INSERT are the base's (the event log's insert
# runs them too); the device services take them from here.
from core.prepared_statements import (  # noqa: F401  (MAX_PREPARED, _prepared_names: read through this module)
    MAX_PREPARED,
    _prepared_names,
    _sql_of,
    execute,
    insert,
    returning_supported,
)


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


def lock_row(model, pk):
    """Lock the row of ``model`` with primary key ``pk`` until the transaction ends, as an UPDATE
    of it would (``FOR NO KEY UPDATE``: foreign keys to it stay insertable), without writing it.
    On SQLite, whose transactions here take the database's write lock up front, nothing to do."""
    if not connection.features.has_select_for_no_key_update:
        return

    def make():
        quote, meta = connection.ops.quote_name, model._meta
        return f"SELECT 1 FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s FOR NO KEY UPDATE"

    with connection.cursor() as cursor:
        execute(cursor, _sql_of(("lock", model, None), make), [pk])


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


__all__ = [
    "Columns",
    "split",
    "cache_related",
    "update_row",
    "lock_row",
    "insert_row",
    "insert",
    "returning_supported",
    "execute",
    "insert_rows",
]

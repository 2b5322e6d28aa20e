"""Cursor (keyset) pagination of the list endpoints, beside the guide's ``limit`` / ``offset``.

An offset page is "skip N rows": a row inserted or deleted before the page shifts every later
row, so a caller paging through a list that changes meanwhile skips or repeats rows. A cursor
page is "the rows after this one" in the list's own order, with a unique last column as the
tie-breaker: rows that exist throughout are each seen exactly once, whatever is inserted or
deleted between pages; and the database starts from the cursor in the list-order index rather
than counting rows from the start.

A cursor is the sort key of the last row sent, signed (``django.core.signing``: tamper-evident,
not encrypted) together with the endpoint and a digest of the account and filters it was made
for, so a cursor made up, edited, of an older format, or from another list, account or filter
set is refused with 422 and the caller starts again. It carries no authority: every page
re-applies the caller's access, so a cursor cannot show what its bearer may not see.
"""

import datetime
import hashlib
import json

from django.core import signing
from django.db import connections
from django.db.models import BooleanField, F, Func, Q, Value
from django.utils.dateparse import parse_datetime

from .pagination import ALL
from .replies import unprocessable
from .streaming import iterate

VERSION = 1  # bump when a list's order (its key) changes: older cursors are then refused
SALT = "licensing.api.cursors"
MAX_LENGTH = 2000
INVALID_CURSOR = "Invalid cursor value"
FOREIGN_CURSOR = 'Invalid cursor value: it was made for another list, account or filters; start again with "cursor": ""'
WITH_OFFSET = "offset cannot be combined with cursor"


class _JSON:
    """Cursor payloads as compact JSON, datetimes as ISO text to the microsecond (Django's
    JSON encoder keeps milliseconds only: a key must be exact, or a row is sent twice)."""

    def dumps(self, obj):
        return json.dumps(obj, default=_iso, separators=(",", ":")).encode("latin-1")

    def loads(self, data):
        return json.loads(data.decode("latin-1"))


def _iso(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a cursor key value")


class RowAfter(Func):
    """``(a, b, c) > (x, y, z)``: SQL row-value comparison (PostgreSQL, SQLite >= 3.15).

    Unlike the equivalent ``a > x OR (a = x AND ...)``, the database reads it as a range of
    a multi-column index, so a page starts at the cursor instead of scanning up to it.
    """

    output_field = BooleanField()

    def __init__(self, columns, values):
        super().__init__(*[F(c) for c in columns], *[Value(v) for v in values])
        self.width = len(columns)

    def as_sql(self, compiler, connection, **extra_context):
        compiled = [compiler.compile(expression) for expression in self.get_source_expressions()]
        left = ", ".join(sql for sql, _ in compiled[: self.width])
        right = ", ".join(sql for sql, _ in compiled[self.width :])
        return f"({left}) > ({right})", [param for _, params in compiled for param in params]


class Keyset:
    """The order of one list: ``columns`` ascending (ORM lookups), the last one unique and not null.

    ``types`` says what each key value is (``str``, ``int``, ``datetime.datetime``);
    ``nullable`` names columns that may hold NULL; ``key_of`` reads the key of one row as sent.
    """

    def __init__(self, endpoint, columns, types, *, key_of, nullable=()):
        assert len(columns) == len(types) and columns[-1] not in nullable
        self.endpoint = endpoint
        self.columns = tuple(columns)
        self.types = tuple(types)
        self.nullable = frozenset(nullable)
        self.key_of = key_of

    def after(self, key, connection):
        """A filter for the rows after ``key`` in this order, as the database sorts them."""
        if not self.nullable:
            return RowAfter(self.columns, key)
        return self._after_with_nulls(self.columns, key, connection.features.nulls_order_largest)

    def _after_with_nulls(self, columns, key, nulls_largest):
        # Row values compare NULL to nothing, so a nullable column is spelled out; where NULL
        # sorts (last on PostgreSQL, first on SQLite) is the database's, as in its ORDER BY.
        column, value, rest = columns[0], key[0], columns[1:]
        if not rest:
            return Q(**{f"{column}__gt": value})
        ties = self._after_with_nulls(rest, key[1:], nulls_largest)
        if column not in self.nullable:
            return Q(**{f"{column}__gt": value}) | (Q(**{column: value}) & ties)
        if value is None:
            same = Q(**{f"{column}__isnull": True}) & ties
            return same if nulls_largest else Q(**{f"{column}__isnull": False}) | same
        later = Q(**{f"{column}__gt": value})
        if nulls_largest:
            later |= Q(**{f"{column}__isnull": True})
        return later | (Q(**{column: value}) & ties)

    def check(self, key):
        """The key as Python values, or None when it does not fit this order (an older format)."""
        if not isinstance(key, list) or len(key) != len(self.columns):
            return None
        values = []
        for column, kind, value in zip(self.columns, self.types, key, strict=True):
            if value is None and column in self.nullable:
                values.append(None)
            elif kind is datetime.datetime and isinstance(value, str) and parse_datetime(value):
                values.append(parse_datetime(value))
            elif kind in (str, int) and type(value) is kind:
                values.append(value)
            else:
                return None
        return tuple(values)


def scope_digest(account, **filters):
    """What a cursor is bound to besides its endpoint: the account and the filters, normalized
    (the order of names in a filter list does not change the list, so it does not count)."""
    normal = {
        name: sorted(set(value)) if isinstance(value, (list, tuple)) else value
        for name, value in filters.items()
        if value not in (None, "", [], ())
    }
    text = json.dumps({"account": account.pk, **normal}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class CursorPage:
    """One request in cursor mode: where it starts, and the ``next_cursor`` its page ends with.

    ``cursor`` is what the caller sent: ``""`` for the first page, else a ``next_cursor``.
    """

    def __init__(self, keyset, cursor, *, scope):
        self.keyset = keyset
        self.scope = scope
        self.start = self._decode(cursor) if cursor else None
        self.next_cursor = None

    def _decode(self, text):
        try:
            payload = signing.loads(text, salt=SALT, serializer=_JSON)
        except (signing.BadSignature, ValueError, UnicodeError):
            raise unprocessable(INVALID_CURSOR) from None
        if not isinstance(payload, dict) or payload.get("v") != VERSION:
            raise unprocessable(INVALID_CURSOR)
        if payload.get("e") != self.keyset.endpoint or payload.get("s") != self.scope:
            raise unprocessable(FOREIGN_CURSOR)
        key = self.keyset.check(payload.get("k"))
        if key is None:
            raise unprocessable(INVALID_CURSOR)
        return key

    def _encode(self, key):
        payload = {"v": VERSION, "e": self.keyset.endpoint, "s": self.scope, "k": list(key)}
        return signing.dumps(payload, salt=SALT, serializer=_JSON, compress=True)

    def queryset(self, rows, limit, cap=None):
        """``rows`` (ordered by the keyset) from the cursor on, one row more than the page: the
        extra row, never sent, tells whether there is a next page."""
        if self.start is not None:
            rows = rows.filter(self.keyset.after(self.start, connections[rows.db]))
        size = self._size(limit, cap)
        return rows if size is None else rows[: size + 1]

    def rows(self, queryset, limit, cap=None):
        """The page of ``queryset`` (ordered by the keyset) from the cursor on, read in chunks."""
        return self.page(iterate(self.queryset(queryset, limit, cap)), limit, cap)

    def items(self, items, limit, cap=None):
        """A Python list (already in keyset order) from the cursor on, one more than the page."""
        if self.start is not None:
            items = [item for item in items if self.keyset.key_of(item) > self.start]
        size = self._size(limit, cap)
        return items if size is None else items[: size + 1]

    def page(self, rows, limit, cap=None):
        """Yields the page's rows from what ``queryset``/``items`` gave; once it is done,
        ``next_cursor`` is the last row's cursor if another row follows, else None."""
        size = self._size(limit, cap)
        last = more = None
        for index, row in enumerate(rows):
            if size is not None and index >= size:
                more = True  # the extra row; read to the end so the database cursor is done with
                continue
            last = row
            yield row
        if more:
            self.next_cursor = self._encode(self.keyset.key_of(last))

    @staticmethod
    def _size(limit, cap):
        return cap if limit == ALL else limit


def cursor_page(keyset, data, account, **filters):
    """A CursorPage when the request asks for cursor mode (it sent ``cursor``), else None."""
    if "cursor" not in data:
        return None
    return CursorPage(keyset, data["cursor"], scope=scope_digest(account, **filters))


def tail_of(cursor):
    """A streamed reply's trailing fields: ``next_cursor`` in cursor mode, nothing otherwise (an
    offset reply stays the guide's, unchanged)."""
    return (lambda: {"next_cursor": cursor.next_cursor}) if cursor else None

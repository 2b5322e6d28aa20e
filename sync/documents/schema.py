"""Strict schema classes for document bodies: unknown keys are errors and only JSON types pass,
so the canonical form of a parsed document is exactly the one its sender signed. A failure is a
``SchemaError`` naming its path: ``body.product_instances[17].hostname: must be at most 255
characters``.

pydantic was measured as a replacement and kept out: docs/performance.md says why.
"""

import datetime
import re

from .canonical import CanonicalList
from .document import DATE_RE, TIMESTAMP_RE


class SchemaError(ValueError):
    def __init__(self, path, problem):
        self.path, self.problem = path, problem
        super().__init__(f"{path}: {problem}")


class _Invalid(Exception):
    """Raised inside a check; ``check`` turns it into a SchemaError with the full path.

    The path is assembled only on failure (segments collected on the way out): building it
    for every field of every item was most of the cost of validating a 250,000-instance request.
    """

    def __init__(self, problem):
        super().__init__(problem)
        self.problem, self.segments = problem, []

    def path_from(self, path):
        for segment in reversed(self.segments):
            if isinstance(segment, int):
                path = f"{path}[{segment}]"
            else:
                path = f"{path}.{segment}" if path else segment
        return path


class Field:
    def __init__(self, *, optional=False, nullable=False):
        self.optional, self.nullable = optional, nullable

    def check(self, value, path):
        try:
            self.validate(value)
        except _Invalid as exc:
            raise SchemaError(exc.path_from(path), exc.problem) from None

    def validate(self, value):
        if value is None:
            if not self.nullable:
                raise _Invalid("must not be empty")
            return
        self._check(value)

    def _check(self, value):  # pragma: no cover - abstract
        raise NotImplementedError


class Str(Field):
    def __init__(self, max_length=255, *, choices=None, pattern=None, min_length=0, **kw):
        super().__init__(**kw)
        self.max_length, self.choices, self.pattern, self.min_length = max_length, choices, pattern, min_length
        self._regex = re.compile(pattern) if pattern else None

    def _check(self, value):
        if not isinstance(value, str):
            raise _Invalid("must be a string")
        if len(value) > self.max_length:
            raise _Invalid(f"must be at most {self.max_length} characters")
        if len(value) < self.min_length:
            raise _Invalid(
                "must not be empty" if self.min_length == 1 else f"must be at least {self.min_length} characters"
            )
        if self.choices and value not in self.choices:
            raise _Invalid("must be one of " + ", ".join(self.choices))
        if self._regex is not None and not self._regex.fullmatch(value):
            raise _Invalid("is not in the expected format")


class Name(Str):
    def __init__(self, max_length=255, **kw):
        super().__init__(max_length, min_length=1, **kw)


class Timestamp(Str):
    def __init__(self, **kw):
        super().__init__(20, pattern=TIMESTAMP_RE.pattern, **kw)


class Date(Str):
    def __init__(self, **kw):
        super().__init__(10, pattern=DATE_RE.pattern, **kw)

    def _check(self, value):
        super()._check(value)
        try:
            datetime.date.fromisoformat(value)
        except ValueError:
            raise _Invalid("is not a valid date (YYYY-MM-DD)") from None


class Pem(Str):
    def __init__(self, label="CERTIFICATE", **kw):
        super().__init__(16384, **kw)
        self.label = label

    def _check(self, value):
        super()._check(value)
        if f"-----BEGIN {self.label}-----" not in value:
            raise _Invalid(f"must be a PEM {self.label.lower()}")


class Int(Field):
    def __init__(self, minimum=0, maximum=2**31 - 1, **kw):
        super().__init__(**kw)
        self.minimum, self.maximum = minimum, maximum

    def _check(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid("must be an integer")
        if not self.minimum <= value <= self.maximum:
            raise _Invalid(f"must be between {self.minimum} and {self.maximum}")


class Bool(Field):
    def _check(self, value):
        if not isinstance(value, bool):
            raise _Invalid("must be true or false")


class List(Field):
    def __init__(self, item, max_items=100_000, **kw):
        super().__init__(**kw)
        self.item, self.max_items = item, max_items

    def _check(self, value):
        if isinstance(value, CanonicalList):
            # Its items were checked against a schema as they were added: it must be this one.
            if value.item_schema is not self.item:
                raise _Invalid("was checked against another schema")
            if len(value) > self.max_items:
                raise _Invalid(f"must have at most {self.max_items} items")
            return
        if not isinstance(value, list):
            raise _Invalid("must be a list")
        if len(value) > self.max_items:
            raise _Invalid(f"must have at most {self.max_items} items")
        validate = self.item.validate
        for index, element in enumerate(value):
            try:
                validate(element)
            except _Invalid as exc:
                exc.segments.append(index)
                raise


class Obj(Field):
    def __init__(self, fields, **kw):
        super().__init__(**kw)
        self.fields = fields
        self._keys = frozenset(fields)
        self._items = tuple((key, field, field.optional) for key, field in fields.items())

    def _check(self, value):
        if not isinstance(value, dict):
            raise _Invalid("must be a mapping")
        if not self._keys.issuperset(value):
            unknown = sorted(str(key) for key in value if key not in self.fields)
            raise _Invalid("unknown field(s): " + ", ".join(unknown))
        for key, field, optional in self._items:
            if key not in value:
                if not optional:
                    exc = _Invalid("is missing")
                    exc.segments.append(key)
                    raise exc
                continue
            try:
                field.validate(value[key])
            except _Invalid as exc:
                exc.segments.append(key)
                raise

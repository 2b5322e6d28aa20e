"""The canonical form signatures cover: JSON, keys sorted, no whitespace, UTF-8 (non-ASCII kept
as is), and ``CanonicalList``, a long list kept only as the canonical texts of its items."""

import hashlib
import json


def canonical_bytes(data) -> bytes:
    """JSON, keys sorted, no whitespace, UTF-8 (non-ASCII kept as is): what signatures cover."""
    if holds_canonical_list(data):
        return b"".join(part.encode("utf-8") for part in canonical_parts(data))
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


# One encoder for the many small encodings of a large request (json.dumps builds one per call).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
canonical_text = _CANONICAL.encode  # canonical_bytes without the final UTF-8 encoding


class CanonicalList:
    """A long list of a document body (the product instances of a full request), each item kept
    only as its canonical JSON text, checked against ``item_schema`` when it is added.

    The sender builds the canonical form, the signature and the YAML text from these texts
    without holding the items as dicts (a 250,000-instance request: ~300 MB less), and without
    a second pass of the schema in ``build``. It stands where a list would in ``Document.body``;
    iterating it gives the items back as dicts. Receivers never see one: ``parse`` gives lists.
    """

    def __init__(self, item_schema, path):
        self.item_schema, self.path, self.texts = item_schema, path, []

    def append(self, item):
        """Check ``item`` (SchemaError with its path in the body) and add it; returns its canonical text."""
        self.item_schema.check(item, f"{self.path}[{len(self.texts)}]")
        text = canonical_text(item)
        self.texts.append(text)
        return text

    def __len__(self):
        return len(self.texts)

    def __iter__(self):
        return (json.loads(text) for text in self.texts)


def holds_canonical_list(data):
    if isinstance(data, CanonicalList):
        return True
    if isinstance(data, dict):
        return any(holds_canonical_list(value) for value in data.values())
    return False


def canonical_parts(data):
    """``canonical_bytes(data)`` as text pieces. Compact sorted JSON is compositional (an object
    is ``{`` + ``"key":value`` joined by commas + ``}``), so it can be produced piecewise, with a
    CanonicalList's texts used as they are."""
    if isinstance(data, CanonicalList):
        yield "["
        first = True
        for text in data.texts:
            if not first:
                yield ","
            first = False
            yield text
        yield "]"
    elif isinstance(data, dict) and holds_canonical_list(data):
        yield "{"
        for index, key in enumerate(sorted(data)):
            if not isinstance(key, str):
                raise TypeError(f"keys must be strings, not {type(key).__name__}")
            yield ("," if index else "") + canonical_text(key) + ":"
            yield from canonical_parts(data[key])
        yield "}"
    else:
        yield canonical_text(data)


def canonical_digest(data) -> bytes:
    """SHA-256 of ``canonical_bytes(data)``, hashed piece by piece (no copy of a large document)."""
    digest = hashlib.sha256()
    for part in canonical_parts(data):
        digest.update(part.encode("utf-8"))
    return digest.digest()

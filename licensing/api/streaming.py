"""Long lists as streamed JSON: ``limit: -1`` on 25,000 product instances must not build them all.

The reply head (``status``, ``statusMessage``, ``totalRecords``) is written first, then the
records one by one as the database cursor yields them in chunks (``QuerySet.iterator``;
``prefetch_related`` lookups are fetched per chunk), so memory stays flat and the number of
queries depends on the number of chunks, not on per-row lookups. Fields known only once the
records are written (a cursor page's ``next_cursor``) follow the list, from ``tail()``.
"""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse

CHUNK_SIZE = 1000

_encoder = DjangoJSONEncoder(ensure_ascii=False)


def _chunks(head, key, records, tail):
    head_json = _encoder.encode(head)
    # ``head`` is a non-empty object: reopen it to append the list.
    yield f"{head_json[:-1]}, {json.dumps(key)}: [".encode()
    first = True
    for record in records:
        yield (("" if first else ", ") + _encoder.encode(record)).encode()
        first = False
    trailer = "".join(
        f", {json.dumps(name)}: {_encoder.encode(value)}" for name, value in (tail() if tail else {}).items()
    )
    yield f"]{trailer}}}".encode()


def streamed_reply(head, key, records, status=200, tail=None):
    """A 200 JSON reply ``{**head, key: [records...], **tail()}`` written as ``records`` (an
    iterator) yields; ``tail``, if given, is called once the records are written."""
    response = StreamingHttpResponse(_chunks(head, key, records, tail), status=status, content_type="application/json")
    response["Cache-Control"] = "no-store"
    return response


def iterate(queryset, chunk_size=None):
    return queryset.iterator(chunk_size=chunk_size or CHUNK_SIZE)

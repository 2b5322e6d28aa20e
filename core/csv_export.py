"""CSV downloads of tables, streamed row by row.

    return csv_response("accounts.csv", ["Name", "Status"],
                        ((a.name, a.get_status_display()) for a in queryset.iterator()))

Text a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``+1``, ``-1``, ``@SUM``, or a
leading tab / carriage return) is prefixed with an apostrophe, so a value someone typed into
the server never executes on the desk of whoever opens the download. Numbers stay as they are.
"""

import csv

from django.http import StreamingHttpResponse
from django.utils.text import get_valid_filename

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value):
    """One cell: None as empty, formula-looking text prefixed with ``'``."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose ``write`` hands the line back instead of storing it."""

    def write(self, value):
        return value


def csv_rows(header, rows):
    """The encoded lines of the CSV: ``header`` first, then every row of ``rows``, one at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow([csv_cell(value) for value in header])
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(filename, header, rows):
    """A streaming ``text/csv`` attachment named ``filename``; ``rows`` is consumed lazily."""
    response = StreamingHttpResponse(csv_rows(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{get_valid_filename(filename)}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


__all__ = ["csv_cell", "csv_rows", "csv_response", "FORMULA_STARTS"]

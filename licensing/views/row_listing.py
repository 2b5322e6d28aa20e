"""``RowListing``: the ``Listing`` of a table whose rows are already in memory."""

from django.core.paginator import Paginator

from core.listing import DEFAULT_PAGE_SIZE, Listing


class RowListing(Listing):
    """``Listing`` for rows already in memory (the compliance table): search by one text
    attribute, sort by whitelisted key functions, paginate; the same URLs as ``Listing``."""

    def __init__(self, request, rows, *, search=None, sorts=None, default_sort=None, page_size=DEFAULT_PAGE_SIZE):
        self.request = request
        self.sorts = sorts or {}
        self.query = request.GET.get("q", "").strip()[:200]
        if self.query and search:
            needle = self.query.casefold()
            rows = [row for row in rows if needle in search(row).casefold()]
        requested = request.GET.get("sort", "")
        self.sort = requested if requested.lstrip("-") in self.sorts else (default_sort or "")
        key = self.sort.lstrip("-")
        if key in self.sorts:
            # Stable sorts: ties keep the service's order (by license name).
            rows = sorted(rows, key=self.sorts[key], reverse=self.sort.startswith("-"))
        self.rows = list(rows)
        self.paginator = Paginator(self.rows, page_size)
        self.page = self.paginator.get_page(request.GET.get("page"))

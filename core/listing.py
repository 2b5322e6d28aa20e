"""One way to list things on a page: search, sort by a whitelisted column, paginate.

    table = Listing(request, User.objects.all(), search=["username", "email"],
                    sorts={"username": "username", "role": "system_role"}, default_sort="username")
    render(..., {"table": table})   # table.page (a Page), table.sort, table.query, table.sort_url(col)

Only whitelisted sort keys reach ``order_by`` (bad input falls back to the default sort), and
the page number is clamped, so a hand-edited URL never errors.
"""

from django.core.paginator import Paginator
from django.db.models import Q

DEFAULT_PAGE_SIZE = 25


class Listing:
    def __init__(self, request, queryset, *, search=(), sorts=None, default_sort=None, page_size=DEFAULT_PAGE_SIZE):
        self.request = request
        self.sorts = sorts or {}
        self.query = request.GET.get("q", "").strip()[:200]
        if self.query and search:
            condition = Q()
            for field in search:
                condition |= Q(**{f"{field}__icontains": self.query})
            queryset = queryset.filter(condition)
        requested = request.GET.get("sort", "")
        key = requested.lstrip("-")
        if key in self.sorts:
            self.sort = requested
        else:
            self.sort = default_sort or ""
            key = self.sort.lstrip("-")
        if key in self.sorts:
            field = self.sorts[key]
            descending = self.sort.startswith("-")
            queryset = queryset.order_by(f"-{field}" if descending else field, "-pk" if descending else "pk")
        self.paginator = Paginator(queryset, page_size)
        self.page = self.paginator.get_page(request.GET.get("page"))

    def sort_url(self, column):
        """The query string that sorts by ``column``, flipping direction if it is the current sort."""
        params = self.request.GET.copy()
        params["sort"] = f"-{column}" if self.sort == column else column
        params.pop("page", None)
        return "?" + params.urlencode()

    def page_url(self, number):
        params = self.request.GET.copy()
        params["page"] = number
        return "?" + params.urlencode()

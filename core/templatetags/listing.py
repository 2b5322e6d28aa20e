"""Template helpers for ``core.listing.Listing``: ``{{ table|sort_url:"name" }}``, ``{{ table|page_url:n }}``."""

from django import template

register = template.Library()


@register.filter
def sort_url(table, column):
    return table.sort_url(column)


@register.filter
def page_url(table, number):
    return table.page_url(number)


@register.filter
def sort_mark(table, column):
    """▲ / ▼ beside the column the table is sorted by."""
    if table.sort == column:
        return "▲"
    if table.sort == f"-{column}":
        return "▼"
    return ""


@register.filter
def aria_sort(table, column):
    """`` aria-sort="ascending"`` / ``"descending"`` for the header of the column the table is sorted
    by (nothing for the others), so a screen reader says how the table is ordered:
    ``<th scope="col"{{ table|aria_sort:"name" }}>``."""
    from django.utils.safestring import mark_safe

    if table.sort == column:
        return mark_safe(' aria-sort="ascending"')
    if table.sort == f"-{column}":
        return mark_safe(' aria-sort="descending"')
    return ""

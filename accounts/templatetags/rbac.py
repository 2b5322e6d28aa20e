"""``{% if request|may:"open_admin_workspace" %}``: the RBAC policy, asked from templates."""

from django import template

from accounts.rbac import can

register = template.Library()


@register.filter
def may(request, action):
    """System actions only; account actions are decided in the view and passed in the context."""
    return can(request, action)

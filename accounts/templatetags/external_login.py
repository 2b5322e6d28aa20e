"""``{% external_logins as buttons %}``: the OAuth2 ADFS / SSO buttons the login page shows."""

from django import template

from ..oidc.config import login_buttons

register = template.Library()


@register.simple_tag
def external_logins():
    return login_buttons()

"""Periodic housekeeping of the embedded OAuth2 server."""

from celery import shared_task


@shared_task(name="accounts.clear_expired_tokens")
def clear_expired_tokens():
    """Delete expired access tokens (django-oauth-toolkit's ``clear_expired``): an API token
    lives one hour, so without this the table grows by one row per client per hour forever."""
    from oauth2_provider.models import clear_expired

    clear_expired()


@shared_task(name="accounts.password_expiration_notices")
def password_expiration_notices():
    """Daily: mail local users whose password expires soon (Security widget, Password tab)."""
    from accounts.services.password_policy import send_expiration_notices

    return send_expiration_notices()


@shared_task(name="accounts.send_password_reset_link")
def send_password_reset_link(username, site_url, language):
    """Forgot Password: the lookup, the link and the mail, off the request (the page answers the
    same, in the same time, whatever name was typed)."""
    from accounts.services.password_reset import send_link

    return send_link(username, site_url, language)

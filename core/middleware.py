"""Per-request effects of the Settings widget: the display time zone and the default language."""

import zoneinfo

from django.utils import timezone, translation

from .system_settings import current


class SystemSettingsMiddleware:
    """Show times in the configured time zone; show signed-out pages in the default language.

    Storage stays UTC (``USE_TZ``): only rendering changes. Signed-in users get their own
    language from ``accounts.middleware.UserLanguageMiddleware``, which runs after this one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        config = current()
        try:
            zone = zoneinfo.ZoneInfo(config.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = zoneinfo.ZoneInfo("UTC")
        with timezone.override(zone):
            user = getattr(request, "user", None)
            if (user is None or not user.is_authenticated) and config.default_language != "en":
                with translation.override(config.default_language):
                    request.LANGUAGE_CODE = translation.get_language()
                    return self.get_response(request)
            return self.get_response(request)

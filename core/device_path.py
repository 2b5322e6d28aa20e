"""The lean path of the device endpoints: a device message skips the browser middleware.

The device endpoints (``/SmartTransport``, the Call Home URL, the CSLU push: the URL map named
by ``ONPREM_DEVICE_URLCONF``) are answered by this middleware itself, once the request id,
metrics, product-listener routing, admission, database-unavailable, security-header and
size-limit middleware before it have run. The session, locale, common, CSRF, authentication,
messages, system-settings (a cache read per request), idle-timeout, language and first-login
middleware after it do nothing a device message needs: a device never has a session or a
user, the views are CSRF-exempt, and a device's reply is English whatever the default language
of the web pages. docs/development/life-of-a-request.md shows both paths.

The handler's ``process_exception`` hooks do not run for a view called here, so the one this
path needs, the database-unavailable 503, is answered here too.
"""

from django.conf import settings
from django.db import DatabaseError
from django.urls import Resolver404, resolve

from .db_unavailable import is_unavailable, unavailable


class DevicePathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.urlconf = settings.ONPREM_DEVICE_URLCONF

    def __call__(self, request):
        try:
            match = resolve(request.path_info, urlconf=self.urlconf)
        except Resolver404:
            match = None
        if match is None:
            return self.get_response(request)
        request.resolver_match = match
        try:
            response = match.func(request, *match.args, **match.kwargs)
        except DatabaseError as error:
            if not is_unavailable(error):
                raise
            return unavailable(request, error)
        if callable(getattr(response, "render", None)) and not getattr(response, "is_rendered", True):
            response = response.render()
        return response

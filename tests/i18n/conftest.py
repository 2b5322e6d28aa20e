"""Fixtures of the i18n tests: the shipped catalogues, and a cache of our own."""

import pytest

from tests.i18n.i18n_po import CATALOGUES, parse_po, po_path


@pytest.fixture(autouse=True)
def _private_cache(settings):
    # The default file cache is shared by every test process on the machine, and the system
    # settings' key names the (in-memory, same-named) test database: a parallel run priming its
    # defaults could flip our default language mid-test. A per-process cache keeps us apart.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests-i18n"}
    }
    from django.core.cache import cache

    from core.models import SystemSettings
    from core.system_settings import prime_cache

    cache.clear()
    prime_cache(SystemSettings(pk=1))


@pytest.fixture(params=sorted(CATALOGUES))
def catalogue(request):
    """(directory, entries) for each shipped catalogue."""
    return request.param, parse_po(po_path(request.param))

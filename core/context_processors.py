from django.conf import settings

import core

from .system_settings import current

PRODUCT_NAME = "Smart Software Manager On-Prem"


def product(request):
    """Values every page shows: the product name, version and the idle timeout for the client timer."""
    return {
        "PRODUCT_NAME": PRODUCT_NAME,
        "PRODUCT_VERSION": core.__version__,
        "IDLE_TIMEOUT_SECONDS": settings.IDLE_TIMEOUT_SECONDS,
        # Banner, login-page and before-login messages of the Settings widget (cached, no query).
        "SITE": current(),
    }

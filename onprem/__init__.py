"""The project package, wiring only: settings, URLs, the Celery app, the management commands."""

from core import __version__

from .celery import app as celery_app

__all__ = ["celery_app", "__version__"]

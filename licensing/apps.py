from django.apps import AppConfig


class LicensingConfig(AppConfig):
    name = "licensing"
    verbose_name = "Licensing"

    def ready(self):
        from core import metrics

        from . import signals  # noqa: F401  (periodic task registration after migrate)
        from .metrics import DEVICE_MESSAGES, StateCollector

        metrics.register(counters=[DEVICE_MESSAGES], collectors=[StateCollector()])

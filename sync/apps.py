from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Synchronization with CSSM"

    def ready(self):
        from core import metrics

        from . import signals  # noqa: F401  (periodic task registration after migrate)
        from .metrics import SYNC_RESULTS

        metrics.register(counters=[SYNC_RESULTS])

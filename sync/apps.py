from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "Synchronization with CSSM"

    def ready(self):
        from . import signals  # noqa: F401  (periodic task registration after migrate)

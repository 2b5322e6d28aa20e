from django.apps import AppConfig


class OnpremConfig(AppConfig):
    name = "onprem"
    verbose_name = "On-Prem core"

    def ready(self):
        from . import signals  # noqa: F401  (periodic task registration after migrate)

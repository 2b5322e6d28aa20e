from django.apps import AppConfig


class AdminWidgetsConfig(AppConfig):
    name = "admin_widgets"
    verbose_name = "Administration workspace"

    def ready(self):
        from . import signals  # noqa: F401  (registers the post_migrate handler)

from django.apps import AppConfig


class AdminWidgetsConfig(AppConfig):
    name = "admin_widgets"
    verbose_name = "Administration workspace"

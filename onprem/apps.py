from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project package as an app only so its management commands (serve, backup, ...) load."""

    name = "onprem"
    label = "project"
    verbose_name = "On-Prem project"

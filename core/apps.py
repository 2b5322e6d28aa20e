from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    # The label the models had when they lived in the onprem package: their tables (onprem_event,
    # ...), migration history and content types keep their names on existing installations.
    label = "onprem"
    verbose_name = "On-Prem core"

    def ready(self):
        from . import motd, signals  # noqa: F401  (login message; periodic tasks after migrate)
        from .events import on_recorded
        from .syslog import send_event

        # Fan-out of every committed event to remote syslog (the email notifications are the
        # accounts app's: they need its roles).
        on_recorded(send_event)

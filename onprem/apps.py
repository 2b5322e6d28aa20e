from django.apps import AppConfig


class OnpremConfig(AppConfig):
    name = "onprem"
    verbose_name = "On-Prem core"

    def ready(self):
        from . import motd, signals  # noqa: F401  (login message; periodic tasks after migrate)
        from .events import on_recorded
        from .notifications import mail_event
        from .syslog import send_event

        # Fan-out of every committed event: remote syslog and the guide's A.5 email notifications.
        on_recorded(send_event)
        on_recorded(mail_event)

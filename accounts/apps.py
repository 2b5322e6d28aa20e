from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "People and access"

    def ready(self):
        from core.events import on_recorded

        from . import signals  # noqa: F401  (sign-in events; periodic tasks after migrate)
        from .notifications import mail_event

        # The guide's A.5 email notifications: mailed after an event of theirs commits.
        on_recorded(mail_event)

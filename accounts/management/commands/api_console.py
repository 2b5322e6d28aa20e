"""``manage.py api_console enable|disable|status``: the API Console toggle from the server's shell.

The same service as the API Toolkit widget's toggle, acting as the system (no user), with the
same event recorded.
"""

from django.core.management.base import BaseCommand

from accounts.api_clients import api_console_enabled
from accounts.services.api_grants import set_api_console


class Command(BaseCommand):
    help = "Enable or disable the API Console (the REST API and its token endpoint), or show its state."

    def add_arguments(self, parser):
        parser.add_argument("state", choices=["enable", "disable", "status"])

    def handle(self, *args, state, **options):
        if state != "status":
            changed = set_api_console(actor=None, enabled=state == "enable")
            if not changed:
                self.stdout.write(f"The API Console was already {state}d.")
        self.stdout.write(f"API Console: {'enabled' if api_console_enabled() else 'disabled'}")

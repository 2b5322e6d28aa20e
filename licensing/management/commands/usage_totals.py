"""manage.py usage_totals --check | --rebuild: the trigger-kept usage totals against the usage rows."""

from django.core.management.base import BaseCommand, CommandError

from licensing.services import usage_totals


class Command(BaseCommand):
    help = (
        "Check (--check) or recompute (--rebuild) the running usage totals and the left-out "
        "redundancy usage that database triggers keep for license compliance."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--check", action="store_true", help="exit 1 when a kept number differs from the rows")
        group.add_argument("--rebuild", action="store_true", help="recompute both tables from the usage rows")

    def handle(self, *args, check=False, rebuild=False, **options):
        if rebuild:
            totals, redundancy = usage_totals.rebuild()
            self.stdout.write(f"Rebuilt {totals} usage total rows and {redundancy} redundancy rows.")
            return
        drift = usage_totals.drift()
        if drift["totals"] or drift["redundancy"]:
            for name, differences in drift.items():
                for key, (kept, actual) in sorted(differences.items(), key=str):
                    self.stderr.write(f"{name} {key}: kept {kept}, rows say {actual}")
            raise CommandError("The usage totals differ from the usage rows: run manage.py usage_totals --rebuild.")
        self.stdout.write("The usage totals match the usage rows.")

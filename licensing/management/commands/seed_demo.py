"""manage.py seed_demo: fill one demo local account so the Licensing workspace has something to show."""

import time

from django.core.management.base import BaseCommand, CommandError

from core.errors import ServiceError


class Command(BaseCommand):
    help = (
        "Create a DEMO local account (default “Demo”) with virtual accounts, a license catalogue, license lines "
        "of every type, registration tokens, product instances with usage, license tags and alerts. The account "
        "is activated WITHOUT registration with CSSM: it is demo data, not a real Smart Account. Refuses when "
        "the account exists, unless --replace (which only deletes an account made by seed_demo). "
        "Runs in one transaction; --seed makes the devices, lines and usage repeatable."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--product-instances",
            type=int,
            default=300,
            metavar="N",
            help="number of product instances to create (default 300)",
        )
        parser.add_argument("--account", default="Demo", metavar="NAME", help="local account name (default Demo)")
        parser.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
        parser.add_argument(
            "--with-users",
            action="store_true",
            help="also create demo-admin (Account Administrator) and demo-va-user (Virtual "
            "Account User on Campus), each with a random password printed once",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="delete the demo account (and, with --with-users, the demo users) and recreate it",
        )

    def handle(self, *args, **options):
        from licensing.demo import seed_demo

        if options["product_instances"] < 0:
            raise CommandError("--product-instances cannot be negative.")
        started = time.monotonic()
        try:
            result = seed_demo(
                name=options["account"],
                product_instances=options["product_instances"],
                seed=options["seed"],
                with_users=options["with_users"],
                replace=options["replace"],
            )
        except ServiceError as error:
            raise CommandError(str(error)) from error
        elapsed = time.monotonic() - started
        out = self.stdout
        out.write(
            self.style.WARNING(
                f"Demo account “{result.account.name}” created and activated WITHOUT registration with CSSM "
                "(demo data only)."
            )
        )
        out.write(f"  virtual accounts: {', '.join(va.name for va in result.virtual_accounts)}")
        out.write(f"  licenses: {len(result.licenses)}; license lines: {result.entitlements}")
        out.write(
            f"  product instances: {result.product_instances} ({result.redundancy_pairs} redundancy pairs); "
            f"usage rows: {result.usage_rows}; usage reports (the last 90 days): {result.usage_reports}"
        )
        out.write(f"  registration tokens: {len(result.tokens)} (one unlimited, one with max uses, one revoked)")
        out.write(f"  license tags: {', '.join(tag.name for tag in result.tags)}")
        if result.out_of_compliance:
            out.write(f"  out of compliance: “{result.out_of_compliance[1]}” in “{result.out_of_compliance[0]}”")
        out.write(f"  alerts opened: {result.alerts_opened}")
        for username, role, password in result.users:
            out.write(f"  user {username} ({role}) password: {password}  (shown once; change it at first login)")
        out.write(self.style.SUCCESS(f"Done in {elapsed:.1f} s."))

"""Bench data, made with the service functions: ``python -m bench.seed --product-instances N``.

Runs in the server's environment (DATABASE_URL, ONPREM_DATA_DIR of the bench) and prints one
line ``BENCH_SEED {json}``: the account, the unlimited registration token the fleet registers
with, the license tags it authorizes, and a user who may sign in to the workspace. The hourly
registration limits are turned off (a mass roll-out).
"""

import argparse
import json
import os
import secrets
import sys

ACCOUNT = "Bench"
USERNAME = "bench-admin"
FLEET_LICENSES = ("NE", "DE")  # what the simulated devices authorize (held in plenty by the fleet's VA)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.seed")
    parser.add_argument("--product-instances", type=int, required=True)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onprem.settings")
    import django

    django.setup()
    from django.db import transaction

    from accounts.roles import AccountRole, SystemRole
    from accounts.security_models import SecurityPolicy
    from accounts.services.grants import set_account_role
    from accounts.services.users import create_user
    from licensing.demo import seed_demo
    from licensing.models import Entitlement

    with transaction.atomic():
        result = seed_demo(name=ACCOUNT, product_instances=args.product_instances, seed=args.seed)
        campus = next(va for va in result.virtual_accounts if va.name == "Campus")
        for key in FLEET_LICENSES:
            Entitlement.objects.create(
                virtual_account=campus, license=result.licenses[key], license_type="perpetual", quantity=10_000_000
            )
        password = f"Bench-{secrets.token_urlsafe(16)}"
        user = create_user(
            actor=None,
            username=USERNAME,
            password=password,
            description="made by bench.seed",
            system_role=SystemRole.USER,
            needs_first_login_wizard=False,
        )
        set_account_role(actor=None, account=result.account, role=AccountRole.ACCOUNT_ADMIN, user=user)
        # The fleet registers tens of thousands of devices with one token within minutes: the
        # Security widget's hourly registration limits (1,000 per token, 5,000 per VA by default)
        # would refuse most of them with 429. 0 = unlimited, as an administrator would set it
        # before a planned mass roll-out (Security > Account > Registration).
        SecurityPolicy.objects.update_or_create(
            pk=1, defaults={"registration_limit_per_token": 0, "registration_limit_per_va": 0}
        )
    token = next(t for t in result.tokens if t.max_uses is None and t.virtual_account_id == campus.pk)
    print(
        "BENCH_SEED "
        + json.dumps(
            {
                "account": ACCOUNT,
                "account_id": result.account.pk,
                "token": token.token,
                "licenses": [result.licenses[k].entitlement_tag for k in FLEET_LICENSES],
                "product_instances": result.product_instances,
                "username": USERNAME,
                "password": password,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

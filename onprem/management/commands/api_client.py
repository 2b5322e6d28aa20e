"""``manage.py api_client create ...``: an API grant from the command line (scripts, CI, tests).

    manage.py api_client create --name N --account A --role ROLE [--virtual-account VA]
                                [--grant-type client_credentials|password]

Prints JSON with ``client_id`` and ``client_secret`` (the secret only this once; the server
keeps a hash). A Client Credentials grant gets the role on the local account (or on the named
virtual account for VA roles); a Resource Owner (password) grant acts with the roles of the
user who signs in, so ``--account`` and ``--role`` are refused for it. Enables nothing: the API
Console must be on (``manage.py api_console enable``).
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.api_clients import ApiGrant
from accounts.roles import AccountRole
from accounts.services import api_grants
from core.errors import ServiceError
from licensing.models import LocalAccount

ROLE_NAMES = {
    "account_admin": AccountRole.ACCOUNT_ADMIN,
    "account-admin": AccountRole.ACCOUNT_ADMIN,
    "account_user": AccountRole.ACCOUNT_USER,
    "account-user": AccountRole.ACCOUNT_USER,
    "va_admin": AccountRole.VA_ADMIN,
    "va-admin": AccountRole.VA_ADMIN,
    "va_user": AccountRole.VA_USER,
    "va-user": AccountRole.VA_USER,
}


class Command(BaseCommand):
    help = "Create an API grant (Client Credentials or Resource Owner) and print its client id and secret."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a grant")
        create.add_argument("--name", required=True)
        create.add_argument("--description", default="")
        create.add_argument(
            "--grant-type", default=ApiGrant.GrantType.CLIENT_CREDENTIALS, choices=ApiGrant.GrantType.values
        )
        create.add_argument("--account", help="local account name (Client Credentials grants)")
        create.add_argument("--role", help=f"one of {', '.join(sorted(AccountRole.values))}")
        create.add_argument("--virtual-account", help="virtual account name, for the VA roles")

    def handle(self, *args, action, **options):
        grant_type = options["grant_type"]
        try:
            with transaction.atomic():
                grant, secret = api_grants.create_grant(
                    actor=None, grant_type=grant_type, name=options["name"], description=options["description"]
                )
                if grant_type == ApiGrant.GrantType.CLIENT_CREDENTIALS:
                    self._grant_access(grant, options)
                elif options["account"] or options["role"] or options["virtual_account"]:
                    raise CommandError(
                        "A Resource Owner (password) grant acts with the signing-in user's roles; "
                        "--account, --role and --virtual-account are for client_credentials."
                    )
        except ServiceError as error:
            raise CommandError(error.message) from None
        self.stdout.write(
            json.dumps(
                {
                    "name": grant.name,
                    "grant_type": grant.grant_type,
                    "client_id": grant.client_id,
                    "client_secret": secret,
                },
                indent=2,
            )
        )

    def _grant_access(self, grant, options):
        if not options["account"] or not options["role"]:
            raise CommandError("A client_credentials grant needs --account and --role.")
        role = ROLE_NAMES.get(options["role"].strip().lower())
        if role is None:
            raise CommandError(f"Unknown role “{options['role']}”: use one of {', '.join(sorted(AccountRole.values))}.")
        account = LocalAccount.objects.filter(name=options["account"]).first()
        if account is None:
            raise CommandError(f"There is no local account named “{options['account']}”.")
        virtual_account = None
        if options["virtual_account"]:
            virtual_account = account.virtual_accounts.filter(name=options["virtual_account"]).first()
            if virtual_account is None:
                raise CommandError(
                    f"The local account “{account.name}” has no virtual account named “{options['virtual_account']}”."
                )
        api_grants.add_access(actor=None, grant=grant, account=account, role=role, virtual_account=virtual_account)

"""1-3. Create, list and delete local virtual accounts."""

from drf_spectacular.utils import extend_schema

from accounts.rbac import Action, visible_virtual_accounts

from ...services import virtual_accounts as va_service
from .. import schemas
from ..lookups import account_named, virtual_account_named
from ..replies import ApiView, actor, reply, unprocessable, validate
from ..serializers import VirtualAccountCreateSerializer
from .formats import wire_boolean

# The guide's "Not Authorized to create local Virtual Accounts within local Account '{SA Domain Name}'".
MANAGE_REFUSAL = "Not Authorized to create local Virtual Accounts within local Account '{domain}'"


class VirtualAccountsView(ApiView):
    @extend_schema(
        operation_id="list_virtual_accounts",
        summary="List local Virtual Accounts",
        responses=schemas.responses(schemas.VirtualAccountsReply),
    )
    def get(self, request, account):
        account = account_named(
            request, account, refusal="Not Authorized to access local Virtual Accounts in local Account '{domain}'"
        )
        vas = visible_virtual_accounts(request, account).order_by("-is_default", "name")
        return reply(
            "",
            virtualAccounts=[
                {"name": va.name, "description": va.description, "isDefault": wire_boolean(va.is_default)} for va in vas
            ],
        )

    @extend_schema(
        operation_id="create_virtual_account",
        summary="Create a local Virtual Account",
        request=VirtualAccountCreateSerializer,
        responses=schemas.responses(schemas.StatusReply),
    )
    def post(self, request, account):
        account = account_named(request, account, action=Action.MANAGE_VIRTUAL_ACCOUNTS, refusal=MANAGE_REFUSAL)
        data = validate(VirtualAccountCreateSerializer, request.data)
        name = data["name"].strip()
        try:
            va = va_service.create_virtual_account(
                actor=actor(request), account=account, name=name, description=data["description"]
            )
        except va_service.NameTaken:
            raise unprocessable(f"The specified name '{name}' for the virtual account is already in use.") from None
        return reply(f"Virtual Account '{va.name}' created successfully")


def delete_virtual_account(request, account_name, va_name):
    account = account_named(
        request,
        account_name,
        action=Action.MANAGE_VIRTUAL_ACCOUNTS,
        refusal="Not Authorized to delete local Virtual Accounts within local Account '{domain}'",
    )
    va = virtual_account_named(request, account, va_name)
    va_service.delete_virtual_account(actor=actor(request), virtual_account=va)
    return reply(f"Virtual Account '{va_name}' deleted successfully")


class VirtualAccountDeleteView(ApiView):
    body_methods = frozenset()  # the name is in the path

    @extend_schema(
        operation_id="delete_virtual_account",
        summary="Delete a local Virtual Account",
        request=None,
        responses=schemas.responses(schemas.StatusReply),
    )
    def post(self, request, account, va):
        return delete_virtual_account(request, account, va)


class VirtualAccountView(ApiView):
    @extend_schema(
        operation_id="delete_virtual_account_by_method",
        summary="Delete a local Virtual Account",
        responses=schemas.responses(schemas.StatusReply),
    )
    def delete(self, request, account, va):
        return delete_virtual_account(request, account, va)


__all__ = ["VirtualAccountsView", "VirtualAccountDeleteView", "VirtualAccountView"]

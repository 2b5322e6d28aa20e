"""The local accounts the caller may use (what CSLU-style clients ask first)."""

from drf_spectacular.utils import extend_schema

from core.english import english_display
from licensing.services.accounts import visible_accounts

from ...services.cslu_access import cslu_url_path
from .. import schemas
from ..replies import ApiView, reply


def cslu_tenant_url(request, account):
    """Where product instances push their usage reports for this account (docs/protocol.md)."""
    return request.build_absolute_uri(cslu_url_path(account))


def account_record(request, account):
    return {
        "account_id": account.pk,
        "domain": account.cisco_smart_account,
        "name": account.name,
        "cslu_tenant_url": cslu_tenant_url(request, account),
        # CSSM's id of the Smart Account: no model keeps one (the sync documents do not carry it).
        "cssm_smart_account_id": getattr(account, "cssm_smart_account_id", "") or "",
        "cssm_smart_account_name": account.cisco_smart_account,
        "status": english_display(account, "status"),
    }


def local_accounts(request):
    return reply("", accounts=[account_record(request, a) for a in visible_accounts(request).order_by("name", "pk")])


class LocalAccountsView(ApiView):
    @extend_schema(
        operation_id="list_local_accounts",
        summary="The local accounts the caller may use",
        responses=schemas.responses(schemas.LocalAccountsReply),
    )
    def get(self, request):
        return local_accounts(request)


class UpstreamAccountsView(ApiView):
    body_methods = frozenset()

    @extend_schema(
        operation_id="list_local_accounts_upstream",
        summary="The local accounts the caller may use",
        request=None,
        responses=schemas.responses(schemas.LocalAccountsReply),
    )
    def post(self, request):
        return local_accounts(request)

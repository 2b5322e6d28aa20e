"""4-6. Create, list and revoke registration tokens of a local virtual account."""

import hmac

from drf_spectacular.utils import extend_schema

from accounts.rbac import Action

from ...models import RegistrationToken
from ...services import tokens as token_service
from .. import schemas
from ..lookups import account_named, require, virtual_account_named
from ..replies import ERROR, SUCCESS, WARNING, ApiView, actor, batch_result, reply, validate
from ..serializers import TokenCreateSerializer, TokenRevokeSerializer
from .formats import api_datetime, now


def _export_control(token):
    return TokenCreateSerializer.ALLOWED if token.export_controlled else TokenCreateSerializer.NOT_ALLOWED


class TokensView(ApiView):
    @extend_schema(
        operation_id="list_tokens",
        summary="List the active tokens of a local Virtual Account",
        responses=schemas.responses(schemas.TokensReply),
    )
    def get(self, request, account, va):
        refusal = "Not Authorized to view the Tokens"
        va = virtual_account_named(request, account_named(request, account, refusal=refusal), va, refusal=refusal)
        require(request, Action.MANAGE_TOKENS, va, refusal)
        tokens = RegistrationToken.objects.filter(virtual_account=va).active(now()).order_by("-created_at", "-id")
        return reply(
            "Successfully read active tokens.",
            tokens=[
                {
                    "token": token.token,
                    "expirationDate": api_datetime(token.expires_at),
                    "description": token.description,
                    "exportControl": _export_control(token),
                    "createdBy": token.created_by_name,
                    "numberOfUses": token.max_uses,
                    "uses": token.uses,
                }
                for token in tokens
            ],
        )

    @extend_schema(
        operation_id="create_token",
        summary="Create a registration token",
        request=TokenCreateSerializer,
        responses=schemas.responses(schemas.TokenCreatedReply),
    )
    def post(self, request, account, va):
        refusal = f"Not Authorized to create tokens for Virtual Account '{va}'."
        va = virtual_account_named(request, account_named(request, account, refusal=refusal), va, refusal=refusal)
        require(request, Action.MANAGE_TOKENS, va, refusal)
        data = validate(TokenCreateSerializer, request.data)
        # Guide: when the account may not allow export-controlled functionality, "sending Allowed
        # or Not Allowed will always return 'Not Allowed' for the token" (no error).
        export = data["exportControlled"] == TokenCreateSerializer.ALLOWED and va.account.export_control_allowed
        token = token_service.create_token(
            actor=actor(request),
            virtual_account=va,
            description=data["description"],
            expires_after_days=data["expiresAfterDays"],
            max_uses=data["numberOfUses"],
            export_controlled=export,
        )
        return reply(
            "A valid, active token was generated.",
            tokenInfo={
                "token": token.token,
                "expirationDate": api_datetime(token.expires_at),
                "description": token.description,
                "exportControlled": _export_control(token),
                "numberOfUses": token.max_uses,
                "createdBy": token.created_by_name,
            },
        )


def _token_in(va, text):
    """The token of ``va`` spelled ``text`` (any spelling: URL-encoded, wrapped or not), or None."""
    canonical = token_service.canonical_token(text)
    if not canonical:
        return None
    token = RegistrationToken.objects.filter(virtual_account=va, token_digest=token_service.token_digest(text)).first()
    if token is None or not hmac.compare_digest(
        token_service.canonical_token(token.token).encode(), canonical.encode()
    ):
        return None
    return token


class TokensRevokeView(ApiView):
    @extend_schema(
        operation_id="revoke_tokens",
        summary="Revoke up to 10 tokens",
        request=TokenRevokeSerializer,
        responses=schemas.responses(schemas.TokensRevokeReply),
    )
    def post(self, request, account, va):
        refusal = f"Not Authorized to revoke tokens for Virtual Account '{va}'."
        va = virtual_account_named(request, account_named(request, account, refusal=refusal), va, refusal=refusal)
        require(request, Action.MANAGE_TOKENS, va, refusal)
        data = validate(TokenRevokeSerializer, request.data)
        statuses = []
        for text in data["tokens"]:
            token = _token_in(va, text)
            if token is None:
                statuses.append({"token": text, "status": ERROR, "statusMessage": f"Failed to find token {text}"})
                continue
            try:
                token_service.revoke_token(actor=actor(request), token=token)
            except token_service.TokenError as error:
                statuses.append({"token": text, "status": ERROR, "statusMessage": error.message})
                continue
            statuses.append(
                {"token": text, "status": SUCCESS, "statusMessage": f"Token-{token.token} revoked successfully"}
            )
        revoked = sum(item["status"] == SUCCESS for item in statuses)
        result, http_status = batch_result(revoked, len(statuses))
        message = {
            SUCCESS: f"{revoked} tokens revoked successfully",
            WARNING: f"{revoked} tokens successfully revoked.",
            ERROR: "Token(s) could not be revoked.",
        }[result]
        return reply(message, result=result, http_status=http_status, tokensRevokeStatus=statuses)

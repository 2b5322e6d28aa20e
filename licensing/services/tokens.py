"""Product instance registration tokens: create, revoke, remove, download, and use at registration.

The token string follows the format the guide shows (``NW5ObVd0...%0AQkRSND0%3D%0A``): base64
text wrapped every 60 characters, URL-encoded. Its secret part is 32 random bytes from
``secrets``. Devices and people paste it in any of its spellings (URL-encoded or not, with or
without the line breaks), so it is looked up by the SHA-256 of its canonical form — the base64
text alone — and then compared in constant time.
"""

import base64
import datetime
import functools
import hashlib
import hmac
import re
import secrets
import urllib.parse
import uuid

from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import get_valid_filename

from accounts.rbac import Action, can
from core import events
from core.errors import NotAllowed, ServiceError

from ..models import RegistrationToken

DEFAULT_EXPIRES_AFTER_DAYS = 30
MIN_EXPIRES_AFTER_DAYS, MAX_EXPIRES_AFTER_DAYS = 1, 365  # "valid from 1 to 365 days"
MAX_USES_LIMIT = 2_147_483_647  # what every supported database stores in a positive integer
MAX_DESCRIPTION_LENGTH = 255


class TokenError(ServiceError):
    """A token operation was refused; ``code`` tells the caller (API, device protocol) which rule."""

    def __init__(self, message, *, code, field=None):
        super().__init__(message, field=field)
        self.code = code


# What use_token() answers when it refuses a token, one code per reason.
REFUSALS = {
    "token_unknown": "The registration token is not valid.",
    "token_revoked": "The registration token has been revoked.",
    "token_expired": "The registration token has expired.",
    "token_exhausted": "The registration token has reached its maximum number of uses.",
    "account_inactive": "The local account of this registration token is not active.",
}


def _refuse(code):
    raise TokenError(REFUSALS[code], code=code)


# -- the token string ---------------------------------------------------------------------


def generate_token_string(now=None):
    """A new token string: a unique prefix and 256 random bits, wrapped and URL-encoded like the guide's."""
    now = now or timezone.now()
    secret = base64.b64encode(secrets.token_bytes(32)).decode()
    payload = f"{uuid.uuid4()}-{int(now.timestamp() * 1000)}|{secret}".encode()
    text = base64.b64encode(payload).decode()
    wrapped = "".join(text[i : i + 60] + "\n" for i in range(0, len(text), 60))
    return urllib.parse.quote(wrapped, safe="")


def canonical_token(token_string):
    """The base64 text of a token, whatever spelling it came in (URL-encoded, line-wrapped or not)."""
    if not isinstance(token_string, str):
        return ""
    return "".join(urllib.parse.unquote(token_string.strip()).split())


def token_digest(token_string):
    return hashlib.sha256(canonical_token(token_string).encode()).hexdigest()


# -- validation ----------------------------------------------------------------------------


_INTEGER = re.compile(r"-?[0-9]{1,12}")


def _strict_int(value):
    """An int from an int or a string of digits (form and JSON input); None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value.strip())
    return None


def check_expires_after_days(value):
    if value is None or value == "":
        return DEFAULT_EXPIRES_AFTER_DAYS
    days = _strict_int(value)
    if days is None or not MIN_EXPIRES_AFTER_DAYS <= days <= MAX_EXPIRES_AFTER_DAYS:
        raise TokenError(
            f"Expire After must be a whole number of days from {MIN_EXPIRES_AFTER_DAYS} to {MAX_EXPIRES_AFTER_DAYS}.",
            code="invalid_expires_after_days",
            field="expires_after_days",
        )
    return days


def check_max_uses(value):
    if value is None or value == "":
        return None
    uses = _strict_int(value)
    if uses is None or not 1 <= uses <= MAX_USES_LIMIT:
        raise TokenError(
            "Max. Number of Uses must be a whole number of at least 1, or left empty for no limit.",
            code="invalid_max_uses",
            field="max_uses",
        )
    return uses


def check_description(value):
    description = (value or "").strip() if isinstance(value, str) or value is None else None
    if description is None or len(description) > MAX_DESCRIPTION_LENGTH:
        raise TokenError(
            f"Description must be text of at most {MAX_DESCRIPTION_LENGTH} characters.",
            code="invalid_description",
            field="description",
        )
    return description


def _require(actor, virtual_account, action=Action.MANAGE_TOKENS):
    if actor is not None and not can(actor, action, account=virtual_account.account, virtual_account=virtual_account):
        if action == Action.CREATE_EXPORT_TOKENS:
            raise NotAllowed("You are not allowed to create export-controlled tokens in this virtual account.")
        raise NotAllowed("You are not allowed to manage the registration tokens of this virtual account.")


# -- the services --------------------------------------------------------------------------


def create_token(
    *,
    actor,
    virtual_account,
    description="",
    expires_after_days=DEFAULT_EXPIRES_AFTER_DAYS,
    max_uses=None,
    export_controlled=False,
    terms_accepted=None,
    now=None,
):
    """Create a registration token in ``virtual_account`` ("Create Registration Token" dialog / API).

    ``terms_accepted`` is the dialog's "agree to the terms and conditions" checkbox: the dialog
    passes it (True or False) and an export-controlled token is refused without it. The API's
    Create Token has no such field in the guide; it passes None (not asked)."""
    _require(actor, virtual_account)
    if export_controlled:
        if not virtual_account.account.export_control_allowed:
            raise TokenError(
                f"The local account “{virtual_account.account.name}” is not permitted to create tokens "
                "allowing export-controlled functionality.",
                code="export_control_not_allowed",
                field="export_controlled",
            )
        _require(actor, virtual_account, Action.CREATE_EXPORT_TOKENS)
        if terms_accepted is False:
            raise TokenError(
                "Agree to the terms and conditions to create a token allowing export-controlled functionality.",
                code="terms_not_accepted",
                field="terms_accepted",
            )
    description = check_description(description)
    days = check_expires_after_days(expires_after_days)
    max_uses = check_max_uses(max_uses)
    now = now or timezone.now()
    token_string = generate_token_string(now)
    with transaction.atomic():
        token = RegistrationToken.objects.create(
            virtual_account=virtual_account,
            token=token_string,
            token_digest=token_digest(token_string),
            description=description,
            expires_at=now + datetime.timedelta(days=days),
            max_uses=max_uses,
            export_controlled=bool(export_controlled),
            created_by=actor if getattr(actor, "pk", None) else None,
            created_by_name=getattr(actor, "username", "") or "",
            created_at=now,
        )
        events.record(
            "token.created_export" if token.export_controlled else "token.created",
            actor=actor,
            virtual_account=virtual_account,
            token_string=token.token,
            pool_name=virtual_account.name,
        )
    return token


@transaction.atomic
def revoke_token(*, actor, token, now=None):
    """Revoke a token: it can no longer be used. Expired tokens can be revoked (then removed) too."""
    _require(actor, token.virtual_account)
    token = RegistrationToken.objects.select_for_update().select_related("virtual_account").get(pk=token.pk)
    if token.revoked_at is not None:
        raise TokenError(f"The token {token.token} has already been revoked.", code="token_already_revoked")
    token.revoked_at = now or timezone.now()
    token.revoked_by = actor if getattr(actor, "pk", None) else None
    token.save(update_fields=["revoked_at", "revoked_by"])
    events.record(
        "token.revoked",
        actor=actor,
        virtual_account=token.virtual_account,
        token_string=token.token,
        pool_name=token.virtual_account.name,
    )
    return token


@transaction.atomic
def remove_token(*, actor, token):
    """Remove a token from the table: "only available if the token has first been revoked"."""
    _require(actor, token.virtual_account)
    token = RegistrationToken.objects.select_for_update().select_related("virtual_account").get(pk=token.pk)
    if token.revoked_at is None:
        raise TokenError("Only a revoked token can be removed. Revoke the token first.", code="token_not_revoked")
    virtual_account, token_string = token.virtual_account, token.token
    token.delete()
    events.record(
        "token.removed",
        actor=actor,
        virtual_account=virtual_account,
        token_string=token_string,
        pool_name=virtual_account.name,
    )


def token_as_text(*, actor, token):
    """The token as the downloaded text file holds it: the token string and a line break."""
    _require(actor, token.virtual_account)
    return f"{token.token}\n"


def token_file_name(token):
    """A safe file name for the download, e.g. ``token_Default_20250301120000.txt``."""
    return get_valid_filename(f"token_{token.virtual_account.name}_{token.created_at:%Y%m%d%H%M%S}.txt")


def find_usable_token(token_string, now=None):
    """The token a registering product instance presents, checked but not yet used (no write).

    Refuses an unknown, revoked, expired, used-up token or one of a local account that is not
    active, each with its own ``TokenError.code``. Whether a use is still left is decided by
    ``count_use``; the answer here only spares a doomed registration its work.
    """
    now = now or timezone.now()
    canonical = canonical_token(token_string)
    if not canonical:
        _refuse("token_unknown")
    token = _token_by_digest(hashlib.sha256(canonical.encode()).hexdigest())
    if token is None or not hmac.compare_digest(canonical_token(token.token).encode(), canonical.encode()):
        _refuse("token_unknown")
    if not token.virtual_account.account.is_active:
        _refuse("account_inactive")
    _refuse_unusable(token, now)
    return token


class _TokenLookup:
    """A token by its digest with its virtual account and local account: one statement written
    once per process (``prepared``), as it runs for every REGISTER."""

    def __init__(self):
        from ..models import LocalAccount, VirtualAccount
        from .prepared import Columns

        self.parts = (Columns(RegistrationToken, "t"), Columns(VirtualAccount, "v"), Columns(LocalAccount, "a"))
        self.sql = (
            f"SELECT {', '.join(part.select for part in self.parts)} "
            "FROM licensing_registrationtoken t "
            "JOIN licensing_virtualaccount v ON v.id = t.virtual_account_id "
            "JOIN licensing_localaccount a ON a.id = v.account_id "
            "WHERE t.token_digest = %s"
        )

    def __call__(self, digest):
        from .prepared import cache_related, execute, split

        with connection.cursor() as cursor:
            execute(cursor, self.sql, [digest])
            row = cursor.fetchone()
        if row is None:
            return None
        parts = zip(self.parts, split(row, *self.parts), strict=True)
        token, va, account = (part.build(values) for part, values in parts)
        cache_related(token, "virtual_account", va)
        cache_related(va, "account", account)
        return token


@functools.cache  # built on first use: the SQL needs the database's quoting, unknown at import
def _token_lookup():
    return _TokenLookup()


def _token_by_digest(digest):
    """The token whose ``token_digest`` is ``digest`` (its virtual account and account loaded), or None."""
    return _token_lookup()(digest)


def _refuse_unusable(token, now):
    if token.revoked_at is not None:
        _refuse("token_revoked")
    if token.expires_at <= now:
        _refuse("token_expired")
    if token.max_uses is not None and token.uses >= token.max_uses:
        _refuse("token_exhausted")


# Written once rather than built by the ORM for every REGISTER.
_COUNT_USE_SQL = (
    "UPDATE licensing_registrationtoken SET uses = uses + 1 "
    "WHERE id = %s AND revoked_at IS NULL AND expires_at > %s AND (max_uses IS NULL OR uses < max_uses)"
)


def count_use(token, now):
    """Count one use of ``token`` or refuse (``TokenError``): the arbiter under concurrency.

    One conditional UPDATE (``uses = uses + 1 WHERE uses < max_uses AND not revoked AND not
    expired``), which the database serialises on the row, so concurrent registrations never
    exceed ``max_uses``. It holds the row's lock to the end of the transaction: the REGISTER
    handler calls it last, just before the commit, so registrations with one token wait for each
    other as briefly as possible. Call it inside the registration's transaction so a failed
    registration gives the use back.
    """
    with connection.cursor() as cursor:
        cursor.execute(_COUNT_USE_SQL, [token.pk, connection.ops.adapt_datetimefield_value(now)])
        counted = cursor.rowcount
    if not counted:
        token.refresh_from_db(fields=["revoked_at", "expires_at", "uses", "max_uses"])
        _refuse_unusable(token, now)
        _refuse("token_exhausted")  # used up between the check and the count


def use_token(token_string, now=None):
    """Check and count one use of a token (``find_usable_token`` then ``count_use``); returns the
    token with its ``uses`` read back."""
    now = now or timezone.now()
    token = find_usable_token(token_string, now)
    count_use(token, now)
    token.refresh_from_db(fields=["uses"])
    return token


__all__ = [
    "TokenError",
    "REFUSALS",
    "create_token",
    "revoke_token",
    "remove_token",
    "token_as_text",
    "token_file_name",
    "use_token",
    "find_usable_token",
    "count_use",
    "generate_token_string",
    "canonical_token",
    "token_digest",
]

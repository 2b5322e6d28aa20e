"""Request bodies and query strings of the API, with the guide's field names.

JSON bodies are typed strictly: a number where a number is due (``"5"`` is refused), a list
where a list is due. Per-item checks of the batch endpoints (license / device transfer,
device removal) are done item by item, so one bad item fails alone, as the guide's replies
show ("status": "ERROR" for that item, the others go through).
"""

from rest_framework import serializers

from ..services import tokens as token_service
from ..services import transfers as transfer_service
from .cursors import INVALID_CURSOR, WITH_OFFSET
from .cursors import MAX_LENGTH as CURSOR_LENGTH
from .pagination import INVALID_LIMIT_OR_OFFSET, StrictIntegerField, check_limit, limit_field, offset_field

MAX_BATCH = 10  # "The maximum tokens you can revoke per request are 10", "a threshold of 10 ..."
MAX_REMOVALS = 100  # not in the guide: a bound on one request's work
NAME_LENGTH = 100


class StrictCharField(serializers.CharField):
    """Text that must be a JSON string (DRF would turn 5 or true into "5" / "True")."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def names_field(help_text):
    return serializers.ListField(
        child=StrictCharField(max_length=NAME_LENGTH, trim_whitespace=False),
        required=False,
        max_length=1000,
        help_text=help_text,
    )


CURSOR_HELP = (
    'Cursor pagination (not in the guide): "" for the first page, then the reply\'s next_cursor '
    "for the next one (null: no more). Pages stay stable while records are added or removed; "
    "offset must be left out (or 0). Leave cursor out for limit/offset paging."
)


def cursor_field(strict=True):
    field = StrictCharField if strict else serializers.CharField
    return field(
        required=False, allow_blank=True, trim_whitespace=False, max_length=CURSOR_LENGTH, help_text=CURSOR_HELP
    )


class CursorMixin:
    """``cursor`` pages from where the last page ended: an offset there would be ambiguous."""

    def validate(self, attrs):
        if "cursor" in attrs and attrs.get("offset"):
            raise serializers.ValidationError(WITH_OFFSET)
        return attrs


class PagedSerializer(CursorMixin, serializers.Serializer):
    limit = limit_field()
    offset = offset_field()
    cursor = cursor_field()
    messages_by_field = {"limit": INVALID_LIMIT_OR_OFFSET, "offset": INVALID_LIMIT_OR_OFFSET, "cursor": INVALID_CURSOR}

    def validate_limit(self, value):
        return check_limit(value)


# 1. create a local virtual account
class VirtualAccountCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=NAME_LENGTH)
    description = StrictCharField(max_length=255, required=False, allow_blank=True, default="")


# 4. create a token
class TokenCreateSerializer(serializers.Serializer):
    ALLOWED, NOT_ALLOWED = "Allowed", "Not Allowed"

    expiresAfterDays = StrictIntegerField(
        required=False,
        default=token_service.DEFAULT_EXPIRES_AFTER_DAYS,
        min_value=token_service.MIN_EXPIRES_AFTER_DAYS,
        max_value=token_service.MAX_EXPIRES_AFTER_DAYS,
        help_text="Days until the token expires (1 to 365; default 30).",
    )
    description = StrictCharField(
        max_length=token_service.MAX_DESCRIPTION_LENGTH, required=False, allow_blank=True, default=""
    )
    exportControlled = serializers.ChoiceField(choices=[ALLOWED, NOT_ALLOWED], required=False, default=NOT_ALLOWED)
    numberOfUses = StrictIntegerField(
        required=False,
        allow_null=True,
        default=None,
        min_value=1,
        max_value=token_service.MAX_USES_LIMIT,
        help_text="Registrations allowed before the token expires; none: no limit.",
    )


# 6. revoke tokens
class TokenRevokeSerializer(serializers.Serializer):
    tokens = serializers.ListField(child=StrictCharField(max_length=1000), min_length=1, max_length=MAX_BATCH)
    messages_by_field = {"tokens": "Provide a list of 1 to 10 tokens to revoke."}


# 7. license usage, 10. device usage
class UsageSerializer(PagedSerializer):
    virtualAccounts = names_field("Local virtual accounts to report on; all visible ones if left out.")


# 8. license subscriptions
class SubscriptionsSerializer(UsageSerializer):
    ACTIVE, CANCELED, EXPIRED = "Active", "Canceled", "Expired"
    status = serializers.ListField(
        child=serializers.ChoiceField(choices=[ACTIVE, CANCELED, EXPIRED]), required=False, max_length=3
    )
    messages_by_field = {
        **PagedSerializer.messages_by_field,
        "status": "Invalid status value. Valid values are Active, Canceled, Expired.",
    }


# 14. alerts
class AlertsSerializer(UsageSerializer):
    MAJOR, MINOR = "Major", "Minor"
    severity = serializers.ListField(
        child=serializers.ChoiceField(choices=[MAJOR, MINOR]), required=False, max_length=2
    )
    messages_by_field = {
        **{f: "Invalid limit, offset or severity value" for f in ("limit", "offset", "severity")},
        "cursor": INVALID_CURSOR,
    }


# 9. license transfer
class LicenseTransferItemSerializer(serializers.Serializer):
    license = StrictCharField(max_length=255, help_text="The license's name.")
    licenseType = serializers.ChoiceField(
        choices=[transfer_service.TERM, transfer_service.PERPETUAL],
        help_text="TERM (every non-perpetual type) or PERPETUAL.",
    )
    quantity = StrictIntegerField(min_value=1, max_value=2_147_483_647)
    precedence = serializers.ChoiceField(
        choices=list(transfer_service.PRECEDENCES), required=False, default=transfer_service.LONGEST_TERM_FIRST
    )
    targetVirtualAccount = StrictCharField(max_length=NAME_LENGTH, trim_whitespace=False)
    messages_by_field = {
        "licenseType": "Invalid licenseType or precedence value.",
        "precedence": "Invalid licenseType or precedence value.",
    }


class LicenseTransferSerializer(serializers.Serializer):
    licenses = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=MAX_BATCH)
    messages_by_field = {"licenses": "Provide a list of 1 to 10 license transfer requests."}


class LicenseTransferDocSerializer(serializers.Serializer):
    """What the schema shows (items are checked one by one with LicenseTransferItemSerializer)."""

    licenses = LicenseTransferItemSerializer(many=True, min_length=1, max_length=MAX_BATCH)


# devices
class SudiSerializer(serializers.Serializer):
    suvi = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    uuid = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    hostIdentifier = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    udiPid = StrictCharField(max_length=255)
    udiSerialNumber = StrictCharField(max_length=255)
    udiVid = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)
    macAddress = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=255)


class DeviceRemoveItemSerializer(serializers.Serializer):
    sudi = SudiSerializer()
    productTagName = StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=512)


class DeviceTransferItemSerializer(DeviceRemoveItemSerializer):
    targetVirtualAccount = StrictCharField(max_length=NAME_LENGTH, trim_whitespace=False)


class DeviceTransferSerializer(serializers.Serializer):
    productInstances = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=MAX_BATCH)
    messages_by_field = {"productInstances": "Provide a list of 1 to 10 product instances to transfer."}


class DeviceTransferDocSerializer(serializers.Serializer):
    productInstances = DeviceTransferItemSerializer(many=True, min_length=1, max_length=MAX_BATCH)


class DeviceRemoveSerializer(serializers.Serializer):
    productInstanceRemoveRequests = serializers.ListField(
        child=serializers.DictField(), min_length=1, max_length=MAX_REMOVALS
    )
    messages_by_field = {
        "productInstanceRemoveRequests": f"Provide a list of 1 to {MAX_REMOVALS} product instances to remove."
    }


class DeviceRemoveDocSerializer(serializers.Serializer):
    productInstanceRemoveRequests = DeviceRemoveItemSerializer(many=True, min_length=1, max_length=MAX_REMOVALS)


# 11. device search (query string)
SEARCH_PARAMETERS = ("hostName", "udiSerialNumber", "hostIdentifier", "macAddress", "ipAddress", "suvi", "uuid")


class DeviceSearchSerializer(CursorMixin, serializers.Serializer):
    hostName = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    udiSerialNumber = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    hostIdentifier = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    macAddress = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    ipAddress = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    suvi = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    uuid = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    instanceName = serializers.CharField(required=False, max_length=255, trim_whitespace=False)
    limit = limit_field(strict=False)
    offset = offset_field(strict=False)
    cursor = cursor_field(strict=False)
    messages_by_field = {"limit": INVALID_LIMIT_OR_OFFSET, "offset": INVALID_LIMIT_OR_OFFSET, "cursor": INVALID_CURSOR}

    def validate_limit(self, value):
        return check_limit(value)

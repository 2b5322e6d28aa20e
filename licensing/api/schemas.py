"""Reply bodies, described for the OpenAPI schema (``/api/v1/schema``) and nothing else.

The views build plain dicts; these serializers only tell drf-spectacular (and schemathesis,
which checks every reply against them) what the guide's replies look like.
"""

from rest_framework import serializers

STATUSES = ["SUCCESS", "WARNING", "ERROR"]
ITEM_STATUSES = ["SUCCESS", "ERROR"]
COMPLIANCE = ["In Compliance", "Out Of Compliance"]
SUBSCRIPTION_STATUSES = ["Active", "Canceled", "Expired"]
EXPORT_CONTROL = ["Allowed", "Not Allowed"]
BILLING_TYPES = ["PREPAID", "USAGE"]
ERROR_STATUS = ["ERROR"]
WIRE_BOOLEANS = ["true", "false"]


class StatusReply(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES)
    statusMessage = serializers.CharField(allow_blank=True)


class ErrorReply(serializers.Serializer):
    """Every error of the API, whatever its status: the guide's body."""

    status = serializers.ChoiceField(choices=ERROR_STATUS)
    statusMessage = serializers.CharField()


class AnyErrorReply(serializers.Serializer):
    """An error of an endpoint whose ``statusMessage`` may be an object (device removal)."""

    status = serializers.ChoiceField(choices=ERROR_STATUS)
    statusMessage = serializers.JSONField()


# Every error status an operation can answer, each with the error body (docs/api.md, "Status
# codes and bodies"). No 401: a missing or refused token is 403, as the guide says.
ERROR_STATUSES = (403, 404, 405, 406, 413, 415, 422, 500)


def responses(ok, error=ErrorReply):
    return {200: ok, **{code: error for code in ERROR_STATUSES}}


class PagedReply(StatusReply):
    totalRecords = serializers.IntegerField(
        min_value=0, help_text="Every matching record, whatever the page (in cursor mode too)."
    )
    next_cursor = serializers.CharField(
        required=False,
        allow_null=True,
        help_text="Cursor mode only (the request sent cursor): send it as cursor for the next page; "
        "null on the last page. Opaque and signed; bound to this list, account and filters.",
    )


# 2
class VirtualAccountRecord(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    isDefault = serializers.ChoiceField(
        choices=WIRE_BOOLEANS, help_text='A string, "true" or "false", as the cloud API writes it.'
    )


class VirtualAccountsReply(StatusReply):
    virtualAccounts = VirtualAccountRecord(many=True)


# 4, 5, 6
class TokenInfo(serializers.Serializer):
    token = serializers.CharField()
    expirationDate = serializers.CharField(help_text="UTC, e.g. 2026-03-01T12:00:00Z")
    description = serializers.CharField(allow_blank=True)
    exportControlled = serializers.ChoiceField(choices=EXPORT_CONTROL)
    numberOfUses = serializers.IntegerField(allow_null=True)
    createdBy = serializers.CharField(allow_blank=True)


class TokenCreatedReply(StatusReply):
    tokenInfo = TokenInfo()


class TokenRecord(serializers.Serializer):
    token = serializers.CharField()
    expirationDate = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    exportControl = serializers.ChoiceField(choices=EXPORT_CONTROL)
    createdBy = serializers.CharField(allow_blank=True)
    numberOfUses = serializers.IntegerField(allow_null=True)
    uses = serializers.IntegerField()


class TokensReply(StatusReply):
    tokens = TokenRecord(many=True)


class ItemStatus(serializers.Serializer):
    status = serializers.ChoiceField(choices=ITEM_STATUSES)
    statusMessage = serializers.CharField()


class TokenRevokeStatus(ItemStatus):
    token = serializers.CharField()


class TokensRevokeReply(StatusReply):
    tokensRevokeStatus = TokenRevokeStatus(many=True)


# 7
class LicenseDetail(serializers.Serializer):
    licenseType = serializers.CharField()
    quantity = serializers.IntegerField()
    startDate = serializers.CharField(allow_blank=True)
    endDate = serializers.CharField(allow_blank=True)
    subscriptionId = serializers.CharField(allow_blank=True)


class LicenseSubstitution(serializers.Serializer):
    license = serializers.CharField()
    substitutedLicense = serializers.CharField()
    substitutedQuantity = serializers.IntegerField()
    substitutionType = serializers.ChoiceField(choices=["Substitution From Higher Tier", "Substitution To Lower Tier"])


class LicenseRecord(serializers.Serializer):
    license = serializers.CharField()
    virtualAccount = serializers.CharField()
    quantity = serializers.IntegerField()
    inUse = serializers.IntegerField()
    available = serializers.IntegerField()
    status = serializers.ChoiceField(choices=COMPLIANCE)
    billingType = serializers.ChoiceField(choices=BILLING_TYPES, help_text="The cloud API's field.")
    ahaApps = serializers.BooleanField()
    pendingQuantity = serializers.IntegerField()
    reserved = serializers.IntegerField()
    isPortable = serializers.BooleanField()
    licenseDetails = LicenseDetail(many=True)
    licenseSubstitutions = LicenseSubstitution(many=True)


class LicenseUsageReply(PagedReply):
    licenses = LicenseRecord(many=True)


# 8
class SubscriptionRecord(serializers.Serializer):
    subscriptionId = serializers.CharField()
    license = serializers.CharField()
    virtualAccount = serializers.CharField()
    quantity = serializers.IntegerField()
    billingType = serializers.ChoiceField(choices=BILLING_TYPES, help_text="The cloud API's field.")
    licenseType = serializers.CharField(help_text="Not in the cloud API: Term, Subscription, Demo, ...")
    startDate = serializers.CharField(allow_blank=True)
    endDate = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=SUBSCRIPTION_STATUSES)


class SubscriptionsReply(PagedReply):
    licenseSubscriptions = SubscriptionRecord(many=True)


# 9
class LicenseTransferStatus(ItemStatus):
    license = serializers.CharField(required=False)
    licenseType = serializers.CharField(required=False)
    quantity = serializers.IntegerField(required=False)
    precedence = serializers.CharField(required=False)
    targetVirtualAccount = serializers.CharField(required=False)


class LicenseTransferReply(StatusReply):
    licensesTransferStatus = LicenseTransferStatus(many=True)


# 10, 11
class Sudi(serializers.Serializer):
    """Null for an identifier the instance never sent in the device search, "" in the usage list."""

    suvi = serializers.CharField(allow_null=True, allow_blank=True)
    uuid = serializers.CharField(allow_null=True, allow_blank=True)
    hostIdentifier = serializers.CharField(allow_null=True, allow_blank=True)
    udiPid = serializers.CharField(allow_null=True, allow_blank=True)
    udiSerialNumber = serializers.CharField(allow_null=True, allow_blank=True)
    udiVid = serializers.CharField(allow_null=True, allow_blank=True)
    macAddress = serializers.CharField(allow_null=True, allow_blank=True)


class LicenseUse(serializers.Serializer):
    license = serializers.CharField()
    quantity = serializers.IntegerField()


class DeviceUsageRecord(serializers.Serializer):
    virtualAccount = serializers.CharField()
    hostName = serializers.CharField(allow_blank=True)
    sudi = Sudi()
    productName = serializers.CharField(allow_blank=True)
    productDescription = serializers.CharField(allow_blank=True)
    productTagName = serializers.CharField(allow_blank=True)
    productType = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=COMPLIANCE)
    registrationDate = serializers.CharField(allow_blank=True)
    lastContactDate = serializers.CharField(allow_blank=True)
    licenseUsage = LicenseUse(many=True)


class DeviceUsageReply(PagedReply):
    devices = DeviceUsageRecord(many=True)


class DeviceSearchRecord(serializers.Serializer):
    instanceName = serializers.CharField(allow_blank=True)
    sudi = Sudi()
    productTagName = serializers.CharField(allow_blank=True)


class DeviceSearchReply(PagedReply):
    devices = DeviceSearchRecord(many=True)


# 12, 13
class DeviceTransferReply(StatusReply):
    productsTransferStatus = ItemStatus(many=True)


class DeviceRemoveStatus(ItemStatus):
    device = serializers.CharField(allow_blank=True)


class DeviceRemoveResult(serializers.Serializer):
    statusMessage = serializers.CharField()
    removeProductInstancesStatus = DeviceRemoveStatus(many=True)


class DeviceRemoveReply(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES)
    statusMessage = DeviceRemoveResult()


# 14
class AlertRecord(serializers.Serializer):
    virtualAccount = serializers.CharField(allow_blank=True)
    message = serializers.CharField()
    severity = serializers.ChoiceField(choices=["Major", "Minor"])
    messageType = serializers.CharField()
    actionDue = serializers.CharField()
    source = serializers.CharField()
    sourceType = serializers.CharField()
    license = serializers.CharField(required=False)
    productInstanceHostName = serializers.CharField(required=False)


class AlertsReply(PagedReply):
    alerts = AlertRecord(many=True)


# local accounts
class LocalAccountRecord(serializers.Serializer):
    account_id = serializers.IntegerField()
    domain = serializers.CharField()
    name = serializers.CharField()
    cslu_tenant_url = serializers.CharField()
    cssm_smart_account_id = serializers.CharField(allow_blank=True)
    cssm_smart_account_name = serializers.CharField()
    status = serializers.CharField()


class LocalAccountsReply(StatusReply):
    accounts = LocalAccountRecord(many=True)

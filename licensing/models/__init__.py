"""The licensing engine's tables, one module per topic; imported here so Django registers them."""

from .accounts import AccessRequest, LocalAccount, VirtualAccount
from .agreements import LicenseAgreement
from .alerts import Alert
from .conversion import Conversion, ConversionSettings
from .custom_tags import VirtualAccountTag, VirtualAccountTagValue
from .devices import DeviceIdentity, DeviceNonce, DeviceRequest, RumReport
from .licenses import (
    Entitlement,
    LicenseDefinition,
    LicenseHierarchy,
    PortableLicense,
    PortCompletion,
    UpgradeCompletion,
)
from .pki import DeviceCertificate, SigningAuthority
from .preferences import PreferenceChange, UserPreference
from .product_instances import ProductInstance
from .reservations import LicenseReservation
from .tags import LicenseTag
from .third_party_keys import ThirdPartyKey, ThirdPartyKeyDelivery
from .tokens import RegistrationToken
from .usage import LicenseUsage, RedundancyExclusion, UsageTotal

__all__ = [
    "AccessRequest",
    "LocalAccount",
    "UpgradeCompletion",
    "PortableLicense",
    "PortCompletion",
    "VirtualAccount",
    "Alert",
    "LicenseAgreement",
    "Conversion",
    "ConversionSettings",
    "VirtualAccountTag",
    "VirtualAccountTagValue",
    "DeviceIdentity",
    "DeviceNonce",
    "DeviceRequest",
    "RumReport",
    "Entitlement",
    "LicenseDefinition",
    "LicenseHierarchy",
    "DeviceCertificate",
    "SigningAuthority",
    "PreferenceChange",
    "UserPreference",
    "ProductInstance",
    "LicenseReservation",
    "LicenseTag",
    "ThirdPartyKey",
    "ThirdPartyKeyDelivery",
    "RegistrationToken",
    "LicenseUsage",
    "RedundancyExclusion",
    "UsageTotal",
]

from .accounts import AccessRequest, LocalAccount, VirtualAccount

__all__ = ["LocalAccount", "VirtualAccount", "AccessRequest"]
from .licenses import Entitlement, LicenseDefinition, LicenseHierarchy
from .product_instances import ProductInstance
from .tokens import RegistrationToken
from .usage import LicenseUsage, RedundancyExclusion, UsageTotal

__all__ += [
    "LicenseDefinition",
    "LicenseHierarchy",
    "Entitlement",
    "ProductInstance",
    "LicenseUsage",
    "UsageTotal",
    "RedundancyExclusion",
    "RegistrationToken",
]
from .alerts import Alert  # noqa: E402
from .tags import LicenseTag  # noqa: E402

__all__ += ["Alert", "LicenseTag"]
# Device protocol: PKI, device details, nonces, RUM reports, pending requests.
from .devices import DeviceIdentity, DeviceNonce, DeviceRequest, RumReport  # noqa: E402
from .pki import DeviceCertificate, SigningAuthority  # noqa: E402

__all__ += ["SigningAuthority", "DeviceCertificate", "DeviceIdentity", "DeviceNonce", "RumReport", "DeviceRequest"]
# Preferences, Convert to Smart Licensing (DLC), custom virtual account tags.
from .conversion import Conversion, ConversionSettings  # noqa: E402
from .custom_tags import VirtualAccountTag, VirtualAccountTagValue  # noqa: E402
from .preferences import PreferenceChange, UserPreference  # noqa: E402

__all__ += [
    "UserPreference",
    "PreferenceChange",
    "ConversionSettings",
    "Conversion",
    "VirtualAccountTag",
    "VirtualAccountTagValue",
]

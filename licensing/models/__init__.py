from .accounts import AccessRequest, LocalAccount, VirtualAccount

__all__ = ["LocalAccount", "VirtualAccount", "AccessRequest"]
from .licenses import Entitlement, LicenseDefinition, LicenseHierarchy  # noqa: E402
from .product_instances import ProductInstance  # noqa: E402
from .usage import LicenseUsage, RedundancyExclusion, UsageTotal  # noqa: E402
from .tokens import RegistrationToken  # noqa: E402

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
from .pki import DeviceCertificate, SigningAuthority  # noqa: E402
from .devices import DeviceIdentity, DeviceNonce, DeviceRequest, RumReport  # noqa: E402

__all__ += ["SigningAuthority", "DeviceCertificate", "DeviceIdentity", "DeviceNonce", "RumReport", "DeviceRequest"]
# Preferences, Convert to Smart Licensing (DLC), custom virtual account tags.
from .preferences import PreferenceChange, UserPreference  # noqa: E402
from .conversion import Conversion, ConversionSettings  # noqa: E402
from .custom_tags import VirtualAccountTag, VirtualAccountTagValue  # noqa: E402

__all__ += [
    "UserPreference",
    "PreferenceChange",
    "ConversionSettings",
    "Conversion",
    "VirtualAccountTag",
    "VirtualAccountTagValue",
]

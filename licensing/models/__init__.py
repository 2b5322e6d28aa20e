from .accounts import AccessRequest, LocalAccount, VirtualAccount

__all__ = ["LocalAccount", "VirtualAccount", "AccessRequest"]
from .licenses import Entitlement, LicenseDefinition, LicenseHierarchy  # noqa: E402
from .product_instances import ProductInstance  # noqa: E402
from .usage import LicenseUsage  # noqa: E402
from .tokens import RegistrationToken  # noqa: E402

__all__ += ["LicenseDefinition", "LicenseHierarchy", "Entitlement", "ProductInstance", "LicenseUsage",
            "RegistrationToken"]
from .alerts import Alert  # noqa: E402
from .tags import LicenseTag  # noqa: E402

__all__ += ["Alert", "LicenseTag"]

from .accounts import AccessRequest, LocalAccount, VirtualAccount

__all__ = ["LocalAccount", "VirtualAccount", "AccessRequest"]

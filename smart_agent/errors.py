"""Every error the agent raises derives from AgentError; the CLI maps each family to an exit code."""

from .crypto import ChainError
from .envelope import InvalidReply
from .state import StateError
from .transport import ServerBusy, TransportError


class AgentError(Exception):
    """Base class of the agent's own errors."""


class NotRegistered(AgentError):
    """The operation needs a registration this agent does not have (locally)."""


class Failed(AgentError):
    """The server answered ``status: FAILED`` with ``error_code`` and ``message``."""

    def __init__(self, message_type, error_code, message, payload=None, *, verified=True):
        self.message_type = message_type
        self.error_code = error_code or "UNKNOWN"
        self.message = message or ""
        self.payload = payload or {}
        self.verified = verified  # False: a REGISTER refusal from a server whose chain we do not have yet
        super().__init__(f"{message_type} failed: {self.error_code}: {self.message}")


__all__ = [
    "AgentError",
    "NotRegistered",
    "Failed",
    "InvalidReply",
    "ChainError",
    "StateError",
    "TransportError",
    "ServerBusy",
]

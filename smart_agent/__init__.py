"""Reference device agent for the onprem device protocol (docs/smart-agent.md, docs/protocol.md).

Depends only on ``cryptography`` and the standard library, never on Django or the server's
code, so product teams can embed it.
"""

from .agent import AGENT_VERSION, Agent, normalize_entitlements
from .errors import AgentError, ChainError, Failed, InvalidReply, NotRegistered, ServerBusy, StateError, TransportError
from .identity import Identity
from .transport import RetryPolicy, Transport

__all__ = [
    "Agent",
    "AGENT_VERSION",
    "Identity",
    "RetryPolicy",
    "Transport",
    "normalize_entitlements",
    "AgentError",
    "ChainError",
    "Failed",
    "InvalidReply",
    "NotRegistered",
    "ServerBusy",
    "StateError",
    "TransportError",
]

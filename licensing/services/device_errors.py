"""Error codes of the device protocol (docs/protocol.md, "Error codes") and their messages."""

from core.errors import ServiceError

from .tokens import REFUSALS

TOKEN_UNKNOWN = "TOKEN_UNKNOWN"
TOKEN_EXPIRED = "TOKEN_EXPIRED"
TOKEN_REVOKED = "TOKEN_REVOKED"
TOKEN_EXHAUSTED = "TOKEN_EXHAUSTED"
TIME_SKEW = "TIME_SKEW"
REPLAY = "REPLAY"
BAD_SIGNATURE = "BAD_SIGNATURE"
NOT_REGISTERED = "NOT_REGISTERED"
ACCOUNT_INACTIVE = "ACCOUNT_INACTIVE"
MALFORMED = "MALFORMED"
EXPORT_NOT_ALLOWED = "EXPORT_NOT_ALLOWED"
REREGISTRATION_REFUSED = "REREGISTRATION_REFUSED"
TOKEN_REQUIRED = "TOKEN_REQUIRED"
IMPLAUSIBLE_USAGE = "IMPLAUSIBLE_USAGE"
SOURCE_NOT_ALLOWED = "SOURCE_NOT_ALLOWED"
NO_THIRD_PARTY_KEYS = "NO_THIRD_PARTY_KEYS"

MESSAGES = {
    TOKEN_UNKNOWN: REFUSALS["token_unknown"],
    TOKEN_EXPIRED: REFUSALS["token_expired"],
    TOKEN_REVOKED: REFUSALS["token_revoked"],
    TOKEN_EXHAUSTED: REFUSALS["token_exhausted"],
    ACCOUNT_INACTIVE: REFUSALS["account_inactive"],
    # The guide, "A.3 Product Registration Example".
    TIME_SKEW: "A product registration time must fall within 24-hours of the current SSM On-Prem server time "
    "either ahead or behind.",
    REPLAY: "The message nonce has already been used by this product instance.",
    BAD_SIGNATURE: "The message signature does not verify.",
    NOT_REGISTERED: "The product instance is not registered. Register it with a registration token.",
    MALFORMED: "The message is malformed.",
    EXPORT_NOT_ALLOWED: "The request is not allowed for export-restricted licenses.",
    # Says neither where the product instance is nor who may move it: the sender may not see either.
    REREGISTRATION_REFUSED: "This UDI is already registered in another virtual account with another ID key. "
    "Re-register it with a token of its own virtual account, or sign the REGISTER with "
    "its current ID key; moving it (force) needs a token created by someone who may "
    "transfer product instances between the two virtual accounts.",
    TOKEN_REQUIRED: "This server adds product instances from CSLU pushes only with a registration token: "
    "send it as “id_token” in the push, or register the product instance with it first.",
    IMPLAUSIBLE_USAGE: "The usage in this message is implausible. Nothing was changed.",
    SOURCE_NOT_ALLOWED: "CSLU pushes are not accepted from this address.",
    NO_THIRD_PARTY_KEYS: "No third party keys are available for this product instance.",
}

# licensing.services.tokens.TokenError codes -> protocol codes
FROM_TOKEN_REFUSAL = {
    "token_unknown": TOKEN_UNKNOWN,
    "token_expired": TOKEN_EXPIRED,
    "token_revoked": TOKEN_REVOKED,
    "token_exhausted": TOKEN_EXHAUSTED,
    "account_inactive": ACCOUNT_INACTIVE,
}


class DeviceError(ServiceError):
    """A message refused with one of the protocol's error codes (a FAILED reply, HTTP 200)."""

    def __init__(self, code, message=None):
        super().__init__(message or MESSAGES[code])
        self.code = code
        self.message = message or MESSAGES[code]

    def after_rollback(self, now):
        """What the refusal leaves behind once the message's work was rolled back (an alert and
        an event, say), in a transaction of its own; nothing by default."""

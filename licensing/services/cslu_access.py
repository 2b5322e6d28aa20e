"""Who may push to the CSLU endpoint: the Security widget's "Accept CSLU pushes" (Account tab).

* ``open``: any source, no token: what the guide describes for Smart Licensing Using Policy.
* ``token``: a push that would add a product instance must carry a registration token
  (``id_token``, see ``device_slp.push``); pushes of product instances the account already has
  are authenticated as in the other modes (the pinned key, or an ID certificate).
* ``networks`` (the default): only from sources in the listed networks (the default list: the
  loopback and private networks), whatever the push.

The source is the caller's address as the rest of the server sees it (``accounts.services.ratelimit.client_ip``:
``X-Forwarded-For`` counts only behind the TLS proxy, ``ONPREM_BEHIND_PROXY``).
"""

from accounts.security_models import SecurityPolicy
from accounts.services import password_policy
from core import networks

Mode = SecurityPolicy.CsluAccess


def source_refusal(address):
    """None when a push from ``address`` may go on, else the message of its refusal."""
    policy = password_policy.cached()  # every CSLU push asks: no query while the policy is unchanged
    if policy.cslu_access != Mode.NETWORKS or networks.contains(networks.parse(policy.cslu_networks), address):
        return None
    shown = (address or "").strip()[:64] or "an unknown address"
    return (
        f"CSLU pushes from {shown} are not accepted: this server takes them only from the source networks "
        "its administrator listed (Administration > Security > Account)."
    )


def token_required():
    """Whether a push that adds a product instance must carry a registration token."""
    return password_policy.cached().cslu_access == Mode.TOKEN


__all__ = ["source_refusal", "token_required", "Mode"]


def cslu_url_path(account):
    """The path an SLP product instance pushes to (Inventory > General shows it)."""
    from urllib.parse import quote

    return f"/cslu/v1/pi/{quote(account.name, safe='')}-{account.pk}"

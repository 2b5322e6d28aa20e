"""Lists of source networks (CIDRs) an administrator types, and whether an address is in one.

``parse`` is both the form's validation (a clear message naming the bad entry) and how the saved
list is read back; ``contains`` is the check. An IPv4 client reaching a dual-stack listener shows
up as an IPv4-mapped IPv6 address (``::ffff:10.1.2.3``): it is matched as the IPv4 address it is.
"""

import ipaddress
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MAX_NETWORKS = 100
# The loopback and private networks (RFC 1918, IPv6 unique local addresses, RFC 4193): where the
# devices of an on-premises server live.
PRIVATE = ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
_SEPARATORS = re.compile(r"[\s,;]+")


def parse(text):
    """The networks in ``text`` (separated by spaces, commas, semicolons or new lines), in order.

    Raises ``ValidationError`` naming the first entry that is not a network: a bare address is a
    network of one address; an address with host bits set under its prefix length is refused with
    the network it probably meant.
    """
    entries = [entry for entry in _SEPARATORS.split(text or "") if entry]
    if len(entries) > MAX_NETWORKS:
        raise ValidationError(_("List at most %(count)d networks."), code="too_many", params={"count": MAX_NETWORKS})
    networks = []
    for entry in entries:
        try:
            network = ipaddress.ip_network(entry)
        except ValueError:
            try:
                meant = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValidationError(
                    _(
                        "“%(entry)s” is not a network: write an address with a prefix length, such as 10.0.0.0/8 "
                        "or 2001:db8::/32, or a single address."
                    ),
                    code="invalid",
                    params={"entry": entry[:60]},
                ) from None
            raise ValidationError(
                _("“%(entry)s” has host bits set: did you mean %(network)s?"),
                code="host_bits",
                params={"entry": entry[:60], "network": meant},
            ) from None
        networks.append(network)
    return networks


def canonical(text):
    """``text``'s networks one per line, as ``parse`` reads them (raises ``ValidationError`` as it does)."""
    return "\n".join(str(network) for network in parse(text))


def address(text):
    """The IP address ``text`` names (an IPv4-mapped IPv6 address as its IPv4 address), or None."""
    try:
        found = ipaddress.ip_address((text or "").strip())
    except ValueError:
        return None
    if found.version == 6 and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def contains(networks, text):
    """Whether the address ``text`` is in one of ``networks`` (False for no address or a bad one)."""
    found = address(text)
    return found is not None and any(found in network for network in networks)


__all__ = ["parse", "canonical", "address", "contains", "PRIVATE", "MAX_NETWORKS"]


def client_ip(request):
    """The caller's address; behind the TLS proxy, the address the proxy appended last."""
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "")

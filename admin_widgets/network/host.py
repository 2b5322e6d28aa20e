"""What the Network widget reads from the host OS: names, DNS, gateways and interfaces.

The product does not own the operating system it runs on (a container, a VM, a laptop), so
these are shown read-only, read fresh on each page: ``/etc/resolv.conf``, ``/proc/net/route``
and ``/proc/net/ipv6_route`` (Linux), and psutil for the interfaces.
"""

import ipaddress
import socket
from dataclasses import dataclass, field
from pathlib import Path

import psutil

RESOLV_CONF = Path("/etc/resolv.conf")
ROUTE_V4 = Path("/proc/net/route")
ROUTE_V6 = Path("/proc/net/ipv6_route")

CONNECTED = "Connected"
CONNECTED_UNCONFIGURED = "Connected (Unconfigured)"
DISCONNECTED_UNCONFIGURED = "Disconnected (Unconfigured)"


def dns_servers(path=RESOLV_CONF):
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    servers = []
    for line in lines:
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            servers.append(parts[1])
    return servers


def default_gateways(route_v4=ROUTE_V4, route_v6=ROUTE_V6):
    """``[(interface, gateway), ...]`` of the default routes, IPv4 first."""
    gateways = []
    try:
        rows = route_v4.read_text().splitlines()[1:]
    except OSError:
        rows = []
    for row in rows:
        cols = row.split()
        # Destination 0.0.0.0 with the gateway flag (0x2): the gateway is little-endian hex.
        if len(cols) >= 4 and cols[1] == "00000000" and int(cols[3], 16) & 0x2:
            gateway = str(ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(cols[2]), "little")))
            gateways.append((cols[0], gateway))
    try:
        rows = route_v6.read_text().splitlines()
    except OSError:
        rows = []
    for row in rows:
        cols = row.split()
        # ::/0 with a next hop other than :: is the IPv6 default route.
        if len(cols) >= 10 and cols[0] == "0" * 32 and cols[1] == "00" and cols[4] != "0" * 32:
            gateways.append((cols[9], str(ipaddress.IPv6Address(bytes.fromhex(cols[4])))))
    return gateways


@dataclass
class Interface:
    name: str
    status: str
    mac: str = ""
    ipv4: list = field(default_factory=list)  # [(address, netmask)]
    ipv6: list = field(default_factory=list)  # [(address, prefix length)]
    mtu: int = 0
    speed_mbps: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0


def _prefix_length(netmask):
    try:
        return ipaddress.IPv6Network(f"::/{netmask}").prefixlen
    except ValueError:
        return bin(int(ipaddress.IPv6Address(netmask))).count("1") if netmask else 0


def interfaces():
    addresses = psutil.net_if_addrs()
    stats = psutil.net_if_stats()
    counters = psutil.net_io_counters(pernic=True)
    result = []
    for name in sorted(addresses):
        item = Interface(name=name, status="")
        for address in addresses[name]:
            if address.family == socket.AF_INET:
                item.ipv4.append((address.address, address.netmask or ""))
            elif address.family == socket.AF_INET6:
                item.ipv6.append((address.address.split("%")[0], _prefix_length(address.netmask or "")))
            elif address.family == psutil.AF_LINK:
                item.mac = address.address
        stat = stats.get(name)
        up = bool(stat and stat.isup)
        configured = bool(item.ipv4 or item.ipv6)
        item.status = CONNECTED if up and configured else CONNECTED_UNCONFIGURED if up else DISCONNECTED_UNCONFIGURED
        if stat:
            item.mtu, item.speed_mbps = stat.mtu, stat.speed
        if name in counters:
            item.bytes_sent, item.bytes_received = counters[name].bytes_sent, counters[name].bytes_recv
        result.append(item)
    return result


def hostname():
    return socket.gethostname()


def fqdn():
    return socket.getfqdn()

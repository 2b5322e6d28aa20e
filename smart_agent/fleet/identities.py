"""Realistic, unique device identities for the fleet simulator.

Serial numbers follow Cisco's 11-character format ``LLLYYWWSSSS``: a 3-letter manufacturing
location, the year (last two digits of year - 1996), the ISO week, and a 4-character base-36
unit number; virtual platforms (CSR1000V, ...) get an 11-character alphanumeric serial and a
UUID, as their licensing does. Everything comes from one ``random.Random`` seed, so a run can be
repeated exactly, and uniqueness is enforced within a run (serial, MAC, hostname, IP).
"""

import dataclasses
import ipaddress
import random
import uuid

from ..identity import Identity

B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclasses.dataclass(frozen=True)
class Product:
    pid: str
    name: str
    type: str
    family: str  # the software tag family
    locations: tuple  # manufacturing location codes; empty = virtual
    vids: tuple
    role: str  # hostname role
    oui: str  # first three MAC bytes
    software_version: str


PRODUCTS = (
    Product(
        "CSR1000V", "Cisco Cloud Services Router 1000V", "ROUTER", "CSR1000V", (), (), "vrtr", "00:50:56", "17.03.08a"
    ),
    Product(
        "C9300-24T",
        "Catalyst 9300 24-port data only",
        "SWITCH",
        "Cat9K",
        ("FOC", "FCW", "JAE"),
        ("V01", "V02", "V03"),
        "acc-sw",
        "70:ca:9b",
        "17.09.04a",
    ),
    Product(
        "C9300-48P",
        "Catalyst 9300 48-port PoE+",
        "SWITCH",
        "Cat9K",
        ("FOC", "FCW"),
        ("V02", "V03"),
        "acc-sw",
        "00:1e:bd",
        "17.09.04a",
    ),
    Product(
        "ISR4451-X/K9",
        "Cisco ISR 4451-X",
        "ROUTER",
        "ISR4400",
        ("FGL", "FDO", "FLM"),
        ("V04", "V05", "V07"),
        "rtr",
        "f8:7b:20",
        "17.06.05",
    ),
    Product(
        "N9K-C93180YC-EX",
        "Nexus 93180YC-EX",
        "SWITCH",
        "Nexus9000",
        ("FDO", "SAL"),
        ("V01", "V03"),
        "leaf",
        "00:3a:9c",
        "10.3(4a)",
    ),
    Product(
        "C9800-40-K9",
        "Catalyst 9800-40 Wireless Controller",
        "WLC",
        "C9800",
        ("TTM", "FOX"),
        ("V01", "V02"),
        "wlc",
        "00:27:e3",
        "17.12.02",
    ),
    Product(
        "ASR1001-X",
        "Cisco ASR 1001-X Router",
        "ROUTER",
        "ASR1000",
        ("FXS", "JAE"),
        ("V02", "V03"),
        "wan",
        "00:c1:64",
        "17.09.04",
    ),
)
PAIRABLE = tuple(p for p in PRODUCTS if p.pid in ("C9800-40-K9", "ASR1001-X", "CSR1000V"))
SITES = ("hq", "cmp", "br", "dc", "lab", "edge")


def _b36(number, width):
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = B36[rest] + out
    return out.rjust(width, "0")[-width:]


class IdentityFactory:
    def __init__(self, seed=None):
        self.rng = random.Random(seed)
        self.serials, self.macs, self.hostnames = set(), set(), set()
        self.count = 0
        # One private /12 per run; hosts numbered within it (1M addresses).
        self.network = ipaddress.ip_network(f"10.{self.rng.randrange(0, 256, 16)}.0.0/12")

    def _serial(self, product):
        while True:
            if product.locations:
                year = self.rng.randint(2018, 2025) - 1996
                serial = (
                    f"{self.rng.choice(product.locations)}{year:02d}{self.rng.randint(1, 52):02d}"
                    f"{_b36(self.rng.randrange(36**4), 4)}"
                )
            else:
                serial = "9" + _b36(self.rng.randrange(36**10), 10)
            if serial not in self.serials:
                self.serials.add(serial)
                return serial

    def _mac(self, product):
        while True:
            mac = product.oui + "".join(f":{self.rng.randrange(256):02x}" for _ in range(3))
            if mac not in self.macs:
                self.macs.add(mac)
                return mac

    def make(self, product=None, *, hostname=None):
        product = product or self.rng.choice(PRODUCTS)
        self.count += 1
        number = self.count
        if hostname is None:
            hostname = f"{self.rng.choice(SITES)}{self.rng.randint(1, 40):02d}-{product.role}{number:05d}"
        if hostname in self.hostnames:
            raise ValueError(f"duplicate hostname {hostname}")
        self.hostnames.add(hostname)
        virtual = not product.locations
        return Identity(
            udi_pid=product.pid,
            udi_serial_number=self._serial(product),
            udi_vid="" if virtual else self.rng.choice(product.vids),
            uuid=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)) if virtual else "",
            mac_address=self._mac(product),
            hostname=hostname,
            ip_address=str(self.network[number]),
            product_name=product.name,
            product_type=product.type,
            software_tag=f"regid.2014-05.com.cisco.{product.family},1.0_"
            f"{uuid.uuid5(uuid.NAMESPACE_DNS, product.family + '.cisco.com')}",
            software_version=product.software_version,
        )

    def pair(self):
        """Two identities of one redundant product: ``<host>a`` (ACTIVE) and ``<host>b`` (STANDBY)."""
        product = self.rng.choice(PAIRABLE)
        base = f"{self.rng.choice(SITES)}{self.rng.randint(1, 40):02d}-{product.role}-ha{self.count + 1:05d}"
        return self.make(product, hostname=base + "a"), self.make(product, hostname=base + "b")


def generate(count, *, pairs=0, seed=None):
    """``count`` identities, the first ``2 * pairs`` of them forming redundancy pairs (ACTIVE, STANDBY)."""
    if pairs * 2 > count:
        raise ValueError(f"{pairs} redundancy pairs need at least {pairs * 2} devices, not {count}.")
    factory = IdentityFactory(seed)
    identities = []
    for _ in range(pairs):
        identities.extend(factory.pair())
    while len(identities) < count:
        identities.append(factory.make())
    return identities

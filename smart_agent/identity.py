"""The device identity a product instance presents: its SUDI and descriptive fields."""

import re
import uuid
from dataclasses import asdict, dataclass, fields

SUDI_FIELDS = ("udi_pid", "udi_serial_number", "udi_vid", "uuid", "suvi", "host_identifier", "mac_address")
MAX_UDI = 255
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")
# One stable namespace: the same PID always gets the same software tag suffix.
TAG_NAMESPACE = uuid.UUID("6f1c1a52-0c3e-4a55-9a1b-3d6c2a6e7c11")


@dataclass(frozen=True)
class Identity:
    udi_pid: str
    udi_serial_number: str
    udi_vid: str = ""
    uuid: str = ""
    suvi: str = ""
    host_identifier: str = ""
    mac_address: str = ""
    hostname: str = ""
    ip_address: str = ""
    product_name: str = ""
    product_type: str = ""
    software_tag: str = ""
    software_version: str = ""

    def __post_init__(self):
        for name in ("udi_pid", "udi_serial_number"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"The device identity needs {name}.")
            # The server's rule (docs/protocol.md): refused here, the device learns it without a round trip.
            if len(value) > MAX_UDI or not value.isprintable():
                raise ValueError(
                    f"{name} must be at most {MAX_UDI} printable characters (no control or format "
                    f"characters): {value[:80]!r}."
                )
        if self.mac_address and not MAC.match(self.mac_address):
            raise ValueError(f"The MAC address {self.mac_address!r} is not like 00:1b:54:0a:0b:0c.")
        if not self.software_tag:
            object.__setattr__(self, "software_tag", default_software_tag(self.udi_pid))

    @property
    def sudi(self) -> dict:
        """The ``sudi`` object: the two mandatory fields and whichever optional ones are set."""
        return {name: getattr(self, name) for name in SUDI_FIELDS if getattr(self, name)}

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v}

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def default_software_tag(pid: str) -> str:
    """``regid.2014-05.com.cisco.<PID>,1.0_<uuid>``: the PID family, as devices name their software."""
    family = re.sub(r"[^A-Za-z0-9_.-]", "_", pid.split("/")[0])
    return f"regid.2014-05.com.cisco.{family},1.0_{uuid.uuid5(TAG_NAMESPACE, family)}"


def normalize_mac(text: str) -> str:
    """``001B.540A.0B0C`` / ``00-1B-54-0A-0B-0C`` / ``001b540a0b0c`` -> ``00:1b:54:0a:0b:0c``."""
    digits = re.sub(r"[^0-9a-fA-F]", "", text or "").lower()
    if len(digits) != 12:
        raise ValueError(f"{text!r} is not a MAC address.")
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))

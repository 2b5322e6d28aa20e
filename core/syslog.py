"""Remote syslog (Settings widget, Syslog tab): every event goes out as one UDP datagram.

The format is RFC 5424 with facility local0. The guide sends events "based on the following
severities: INFO: General notifications and events, WARN: Minor alerts, ALERT: Major alerts";
those map to syslog's informational (6), warning (4) and alert (1), and the word itself
leads the message so a plain log reader shows it too.

Sending runs after the recording transaction commits (``core.events.on_recorded``). UDP
needs no answer, so a missing collector never slows or fails the change that made the event.
"""

import logging
import socket
from datetime import timezone

from .events import messages

logger = logging.getLogger(__name__)

FACILITY_LOCAL0 = 16
SYSLOG_SEVERITY = {messages.INFO: 6, messages.WARN: 4, messages.ALERT: 1}
APP_NAME = "ssm-onprem"
MAX_DATAGRAM = 8192  # well under the 64 KiB UDP limit; long messages are cut, never split


def format_event(event, hostname=None):
    """The RFC 5424 line for one event, as bytes."""
    pri = FACILITY_LOCAL0 * 8 + SYSLOG_SEVERITY.get(event.severity, 6)
    stamp = event.created_at.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    host = (hostname or socket.gethostname() or "-").replace(" ", "_")[:255]
    msgid = event.event_type.replace(" ", "_")[:32]
    account = f' account="{event.account.name}"' if event.account_id else ""
    text = " ".join(event.message.split())  # one line: syslog readers split on newlines
    line = f"<{pri}>1 {stamp} {host} {APP_NAME} - {msgid} - {event.severity}: {text}{account}"
    return line.encode("utf-8")[:MAX_DATAGRAM]


def send_event(event):
    """Send ``event`` to the configured collector, if remote logging is on."""
    from .system_settings import cached

    config = cached()  # every event comes here: a device message's too, so no cache-server round trip
    if not (config.syslog_enabled and config.syslog_host):
        return False
    try:
        family, _, _, _, address = socket.getaddrinfo(config.syslog_host, config.syslog_port, type=socket.SOCK_DGRAM)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.sendto(format_event(event), address)
    except OSError as error:
        # The event is safe in the database; a collector that cannot be reached is only logged.
        logger.warning("syslog to %s:%s failed: %s", config.syslog_host, config.syslog_port, error)
        return False
    return True

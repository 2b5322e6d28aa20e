"""One log line per browser that has not yet accepted the server's certificate, not one per connection.

Until a person accepts the self-signed certificate, their browser opens connection after
connection and aborts each handshake with a TLS alert; gunicorn logs every one as a WARNING
("Invalid request from ip=...: [SSL: SSLV3_ALERT_CERTIFICATE_UNKNOWN] ..."). The filter keeps the
first line per client address and alert (with a note that the rest are not logged) and drops the
repeats. It runs in each gunicorn worker, so a busy browser may show once per worker.
"""

import logging
import re
from collections import OrderedDict

# The alerts a client sends when it does not trust the certificate (not a server problem).
_UNTRUSTED = re.compile(
    r"^Invalid request from ip=(?P<ip>\S+): .*"
    r"\b(?P<alert>(?:SSLV3|TLSV1)_ALERT_(?:CERTIFICATE_UNKNOWN|UNKNOWN_CA|BAD_CERTIFICATE))\b"
)
REMEMBERED = 1024  # client addresses kept; the oldest is forgotten first


class TlsAlertOnceFilter(logging.Filter):
    def __init__(self, name=""):
        super().__init__(name)
        self._seen = OrderedDict()

    def filter(self, record):
        match = _UNTRUSTED.match(record.getMessage())
        if match is None:
            return True
        key = (match["ip"], match["alert"])
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = True
        if len(self._seen) > REMEMBERED:
            self._seen.popitem(last=False)
        record.msg = (
            f"{record.getMessage()} (the client does not trust the server's certificate yet; "
            "further handshakes it aborts this way are not logged)"
        )
        record.args = ()
        return True

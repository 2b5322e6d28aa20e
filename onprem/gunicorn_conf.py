"""gunicorn settings the command line cannot express (``-c python:onprem.gunicorn_conf``).

``manage.py serve`` and the container's ``web`` role load it; the bind, workers, certificate and
logs stay on their command lines.

**One TLS context per worker, not one per connection.** gunicorn builds a new ``SSLContext`` for
every connection it accepts (trust store, certificate and key read and parsed), which costs more
than the handshake itself (docs/performance.md, run 5). The hook below builds it with gunicorn's
own factory and keeps it while the certificate and key files stay the same, so a certificate
replaced on disk is still served from the next connection on (docs/running.md).

**Session tickets every worker can read, across restarts.** Each context the hook builds issues and
accepts TLS session tickets under the keys of ``DATA_DIR/tls/ticket-keys.json``
(``core/tls_tickets.py``), so a device that reconnects resumes its session at whichever worker
accepts it, and after a restart too, instead of a full handshake.

**No secret in gunicorn's log lines.** ``logger_class`` puts the project's scrubbing filter
(``core/log_scrub.py``) on every handler of gunicorn's loggers, whether they come from a
logging config (``manage.py serve``) or from gunicorn's own ``--access-logfile`` /
``--error-logfile`` (the container's ``web`` role).
"""

import logging
import os
import threading

from gunicorn.glogging import Logger

from core import log_scrub, tls_tickets
from core.tls_alerts import TlsAlertOnceFilter

_cached = {"stamp": None, "context": None}
_lock = threading.Lock()


def _file_stamp(path):
    """What changes when a file is rewritten in place or replaced by a rename; None when absent."""
    if not path:
        return None
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_ino, status.st_size, status.st_mtime_ns


def ssl_context(config, default_ssl_context_factory):
    """gunicorn's ``ssl_context`` server hook: the worker's context, rebuilt when a file changed.

    Keyed by the process id too: a context is never shared across a fork. A factory that fails
    (a key that does not match a certificate being replaced) raises for that connection, as
    gunicorn's default does, and nothing is cached, so the next connection tries again.
    """
    stamp = (os.getpid(), _file_stamp(config.certfile), _file_stamp(config.keyfile), _file_stamp(config.ca_certs))
    context = _cached["context"]
    if _cached["stamp"] != stamp or context is None:
        with _lock:  # threaded workers: build it once
            if _cached["stamp"] != stamp or _cached["context"] is None:
                context = default_ssl_context_factory()
                try:
                    tls_tickets.enable(context)
                except Exception:
                    logging.getLogger("onprem.tls").exception("TLS session tickets stay per worker")
                _cached["context"] = context
                _cached["stamp"] = stamp
            context = _cached["context"]
    return context


class ScrubbingLogger(Logger):
    """gunicorn's logger with ``log_scrub.ScrubSecretsFilter`` on every handler of its two loggers,
    set again at each (re)configuration: gunicorn rebuilds the handlers on a reload; and the
    error log's untrusted-certificate alerts once per client (``core.tls_alerts``)."""

    def setup(self, cfg):
        super().setup(cfg)
        log_scrub.attach(self.error_log, self.access_log)
        # A browser that has not accepted the certificate aborts every handshake: one line, not one each.
        if not any(isinstance(f, TlsAlertOnceFilter) for f in self.error_log.filters):
            self.error_log.addFilter(TlsAlertOnceFilter())


logger_class = ScrubbingLogger

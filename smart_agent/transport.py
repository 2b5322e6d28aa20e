"""HTTP(S) for the agent: keep-alive connections (one per thread), TLS options, polite retries,
TLS session resumption.

Only the standard library: product teams embed the agent where ``requests`` may not exist.
HTTP 429 and 503 are retried after the server's ``Retry-After`` (seconds or an HTTP date) or,
without one, an exponential delay; every delay gets random jitter so a fleet that was turned
away together does not come back together. Retries are bounded.

Every new HTTPS connection offers the TLS session of the device's last one (``TLSSession``), as
device TLS stacks keep a session per server: the server resumes it instead of a full handshake
(no certificate, no signature) while its ticket is valid, and falls back to a full handshake by
itself when it is not. An agent keeps one per device, so a fleet or a storm sharing one
``Transport`` (and its connections) still resumes each device's own session.
"""

import email.utils
import http.client
import json
import random
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass

JSON_PATH = "/SmartTransport"
LEGACY_PATH = "/Transportgateway/services/DeviceRequestHandler"
RETRY_STATUSES = (429, 503)
STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    http.client.CannotSendRequest,
)


class TransportError(Exception):
    """The exchange failed below the protocol (connection, TLS, HTTP status)."""

    def __init__(self, message, *, status=None, body=b""):
        super().__init__(message)
        self.status = status
        self.body = body
        # 400/404/413 carry a small unsigned {"status": "FAILED", "error_code", "message"} document.
        self.error_code, self.server_message = None, None
        try:
            document = json.loads(body) if body else None
        except ValueError:
            document = None
        if isinstance(document, dict):
            self.error_code, self.server_message = document.get("error_code"), document.get("message")


class ServerBusy(TransportError):
    """Still 429/503 after the allowed retries, or asked to wait longer than allowed.

    ``retry_after``: the seconds the last answer asked for (None without a readable header), so
    a caller that schedules its own retries (the storm simulator) can honour it too."""

    def __init__(self, message, *, status=None, body=b"", retry_after=None):
        super().__init__(message, status=status, body=body)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 5
    base_delay: float = 0.5  # first wait without Retry-After, doubled each time
    max_delay: float = 60.0  # never wait longer than this between two attempts
    jitter: float = 0.25  # up to this fraction added to a Retry-After wait

    def delay(self, attempt: int, retry_after, rng=random):
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        backoff = min(self.max_delay, self.base_delay * 2**attempt)
        if retry_after is None:
            return rng.uniform(backoff / 2, backoff)  # "equal jitter": never zero, never above the cap
        # Honour the server: never earlier than it asked, spread a little after it.
        return retry_after + rng.uniform(0, max(self.jitter * retry_after, min(backoff, 1.0)))


def parse_retry_after(value, now=None):
    """Seconds from a Retry-After header value (delta-seconds or HTTP-date); None if absent/unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class TLSSession:
    """The TLS session one device resumes on its next connection to the server (None at first)."""

    __slots__ = ("session",)

    def __init__(self):
        self.session = None

    def offer(self):
        return self.session

    def keep(self, tls_socket):
        """Keep the session of ``tls_socket`` when it can be resumed: a TLS 1.3 ticket arrives after
        the handshake, so this is called once the reply's headers are read."""
        try:
            session = tls_socket.session
        except (AttributeError, ValueError, OSError):
            return
        if session is not None and (session.has_ticket or (tls_socket.version() != "TLSv1.3" and session.id)):
            self.session = session


class ResumingHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection that offers ``tls_session``'s session in its handshake."""

    def __init__(self, host, port, *, context, tls_session=None, **kwargs):
        super().__init__(host, port, context=context, **kwargs)
        self.tls_context = context
        self.tls_session = tls_session
        self.tls_socket = None  # kept after http.client hands the socket to a closing response

    def connect(self):
        http.client.HTTPConnection.connect(self)
        server_hostname = getattr(self, "_tunnel_host", None) or self.host
        session = self.tls_session.offer() if self.tls_session is not None else None
        self.sock = self.tls_context.wrap_socket(self.sock, server_hostname=server_hostname, session=session)
        self.tls_socket = self.sock


def tls_context(*, ca_file=None, insecure=False):
    if insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()


class Transport:
    """Posts envelopes to one server. Safe to share between threads: each thread has its own connection."""

    def __init__(
        self,
        server_url,
        *,
        ca_file=None,
        insecure=False,
        legacy=False,
        timeout=30.0,
        retry=RetryPolicy(),
        sleep=time.sleep,
        on_exchange=None,
        reuse_sessions=True,
    ):
        parts = urllib.parse.urlsplit(server_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"The server URL must be http(s)://host[:port], not {server_url!r}.")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.base_path = parts.path.rstrip("/")
        self.legacy = legacy
        self.timeout = timeout
        self.retry = retry
        self.sleep = sleep
        self.on_exchange = on_exchange  # called with (status, seconds) for every HTTP exchange
        self.context = tls_context(ca_file=ca_file, insecure=insecure) if self.scheme == "https" else None
        self._local = threading.local()
        self.reuse_sessions = reuse_sessions
        self.tls_session = TLSSession()  # for callers that give none: one device per transport
        self.handshakes = {"full": 0, "resumed": 0}  # new HTTPS connections, by how their handshake went
        self._count_lock = threading.Lock()

    @property
    def path(self):
        return self.base_path + (LEGACY_PATH if self.legacy else JSON_PATH)

    def _connection(self, tls_session):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.scheme == "https":
                conn = ResumingHTTPSConnection(
                    self.host,
                    self.port,
                    timeout=self.timeout,
                    context=self.context,
                    tls_session=tls_session if self.reuse_sessions else None,
                )
            else:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn, self._local.used = conn, False
        return conn

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _handshake_done(self, conn, tls_session):
        """After a new HTTPS connection's first reply: count its handshake, keep its session."""
        tls_socket, conn.tls_socket = conn.tls_socket, None
        if tls_socket is None:
            return
        with self._count_lock:
            self.handshakes["resumed" if tls_socket.session_reused else "full"] += 1
        if self.reuse_sessions and tls_session is not None:
            tls_session.keep(tls_socket)

    def _exchange(self, body: bytes, content_type: str, tls_session):
        """One request on this thread's connection; a stale keep-alive connection is reopened once."""
        for fresh_try in (False, True):
            conn = self._connection(tls_session)
            if isinstance(conn, ResumingHTTPSConnection) and conn.sock is None:
                conn.tls_session = tls_session if self.reuse_sessions else None  # whose handshake it will be
            reused = self._local.used
            started = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    self.path,
                    body=body,
                    headers={
                        "Content-Type": content_type,
                        "Accept": "application/json, application/xml",
                        "User-Agent": "smart-agent",
                    },
                )
                response = conn.getresponse()
                if isinstance(conn, ResumingHTTPSConnection):
                    self._handshake_done(conn, tls_session)
                data = response.read()
            except STALE_CONNECTION as exc:
                self.close()
                if reused and not fresh_try:
                    continue  # the server closed an idle connection before our request: not processed
                raise TransportError(f"The connection to {self.host} was closed: {exc}") from exc
            except ssl.SSLError as exc:
                self.close()
                raise TransportError(f"TLS failed with {self.host}: {exc}") from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise TransportError(f"Cannot reach {self.scheme}://{self.host}:{self.port or ''}: {exc}") from exc
            self._local.used = True
            if response.will_close:
                self.close()
            if self.on_exchange:
                self.on_exchange(response.status, time.perf_counter() - started)
            return response.status, response.getheader("Retry-After"), data
        raise AssertionError("unreachable")

    def post(self, make_body, tls_session=None):
        """POST the envelope ``make_body()`` returns (called again for each retry: fresh nonce and
        timestamp); return the HTTP 200 body. Other statuses raise TransportError/ServerBusy.
        ``tls_session``: the device's ``TLSSession`` (default: the transport's own)."""
        tls_session = tls_session or self.tls_session
        attempt = 0
        while True:
            text = make_body()
            if self.legacy:
                from .envelope import wrap_xml

                body, content_type = wrap_xml(text).encode("utf-8"), "application/xml; charset=utf-8"
            else:
                body, content_type = text.encode("utf-8"), "application/json"
            status, retry_after_header, data = self._exchange(body, content_type, tls_session)
            if status == 200:
                return data
            if status not in RETRY_STATUSES:
                error = TransportError(f"HTTP {status} from the server", status=status, body=data)
                detail = (
                    f"{error.error_code}: {error.server_message}"
                    if error.error_code
                    else data[:300].decode("utf-8", "replace").strip()
                )
                error.args = (f"HTTP {status} from the server: {detail}",)
                raise error
            retry_after = parse_retry_after(retry_after_header)
            if attempt >= self.retry.max_retries:
                raise ServerBusy(
                    f"The server is busy (HTTP {status}) after {attempt + 1} attempts.",
                    status=status,
                    body=data,
                    retry_after=retry_after,
                )
            if retry_after is not None and retry_after > self.retry.max_delay:
                raise ServerBusy(
                    f"The server is busy (HTTP {status}) and asks to retry after {retry_after:.0f} s.",
                    status=status,
                    body=data,
                    retry_after=retry_after,
                )
            self.sleep(self.retry.delay(attempt, retry_after))
            attempt += 1

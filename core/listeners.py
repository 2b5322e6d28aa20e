"""The server's listeners and their roles (docs/running.md, "Listeners").

* The **management** listener (``ONPREM_BIND``, HTTPS, default ``0.0.0.0:8443``) serves
  everything: the workspaces, the REST API, the probes and the device endpoints.
* The **product** listeners (``ONPREM_PRODUCT_HTTPS_BIND`` and ``ONPREM_PRODUCT_HTTP_BIND``)
  serve the device endpoints only (Smart Transport, Call Home, the CSLU push) and answer any
  other path 404. Their defaults are the guide's ports, 443 and 80, when the server runs as
  root, and 9443 and 8080 otherwise (an ordinary user cannot bind a port below 1024). A variable
  set to the empty string turns that listener off.

Inside Django a request's listener is told by the port of the socket that accepted it: gunicorn
puts the listening socket's own port in ``SERVER_PORT`` (not the Host header's), so a port
listed in a product bind is a product listener. That is why a product listener must have a
port of its own (``problems`` refuses a port shared with the management listener) and cannot be
a unix socket.
"""

import os
import socket
from dataclasses import dataclass

from django.conf import settings

# django.http and django.urls are imported where used: settings.py imports this module.

MANAGEMENT = "management"
PRODUCT = "product"

MANAGEMENT_SETTING = "ONPREM_BIND"
PRODUCT_SETTINGS = {"https": "ONPREM_PRODUCT_HTTPS_BIND", "http": "ONPREM_PRODUCT_HTTP_BIND"}
DEFAULT_MANAGEMENT_PORT = 8443
# The guide's device URLs (https://<host>/SmartTransport, http://<host>/SmartTransport) when the
# server may bind them, else ports an ordinary user may bind.
PRIVILEGED_PRODUCT_BINDS = {"https": "0.0.0.0:443", "http": "0.0.0.0:80"}
UNPRIVILEGED_PRODUCT_BINDS = {"https": "0.0.0.0:9443", "http": "0.0.0.0:8080"}
DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Listener:
    role: str  # MANAGEMENT or PRODUCT
    scheme: str  # "https" or "http"
    bind: str  # as gunicorn's --bind takes it: HOST:PORT, [IPV6]:PORT, unix:PATH, fd://N
    setting: str  # the environment variable it comes from

    @property
    def address(self):
        """(host, port), or None for a unix socket or an inherited descriptor."""
        try:
            return parse_bind(self.bind)
        except ValueError:
            return None

    @property
    def port(self):
        address = self.address
        return address[1] if address else None


def parse_bind(bind):
    """``"0.0.0.0:443"`` -> ``("0.0.0.0", 443)``, ``"[::]:80"`` -> ``("::", 80)``; ValueError otherwise."""
    if bind.startswith(("unix:", "fd://")) or ":" not in bind:
        raise ValueError(f"{bind!r} is not HOST:PORT")
    host, _, port = bind.rpartition(":")
    host = host.strip()
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(f"{bind!r}: an IPv6 address goes in brackets, e.g. [::]:443")
        host = host[1:-1]
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{bind!r}: the port must be a number from 1 to 65535")
    return host or "0.0.0.0", int(port)


def runs_as_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _split(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def configured(environ=None, management_port=None):
    """Every listener the environment asks for, management first, then product https, then http.

    ``ONPREM_BIND`` unset: the management listener on all interfaces at ``management_port``
    (default: ``ONPREM_PORT``, else 8443).
    """
    environ = os.environ if environ is None else environ
    port = management_port or environ.get("ONPREM_PORT") or DEFAULT_MANAGEMENT_PORT
    listeners = [
        Listener(MANAGEMENT, "https", bind, MANAGEMENT_SETTING)
        for bind in _split(environ.get(MANAGEMENT_SETTING) or f"0.0.0.0:{port}")
    ]
    defaults = PRIVILEGED_PRODUCT_BINDS if runs_as_root() else UNPRIVILEGED_PRODUCT_BINDS
    for scheme, name in PRODUCT_SETTINGS.items():
        value = environ.get(name)
        if value is None:
            value = defaults[scheme]
        listeners += [Listener(PRODUCT, scheme, bind, name) for bind in _split(value)]
    return listeners


def product_ports(listeners):
    """The SERVER_PORT values (strings, as WSGI has them) of the product listeners."""
    return frozenset(str(listener.port) for listener in listeners if listener.role == PRODUCT and listener.port)


def problems(listeners):
    """What makes this set of listeners unusable, one sentence each (empty: fine)."""
    found = []
    management_ports = {listener.port for listener in listeners if listener.role == MANAGEMENT}
    seen = {}
    for listener in listeners:
        try:
            host, port = parse_bind(listener.bind)
        except ValueError as error:
            if listener.role == PRODUCT:
                found.append(
                    f"{listener.setting}: {error}. A product listener needs HOST:PORT "
                    "(its requests are told apart by the port)."
                )
            continue
        if listener.role == PRODUCT and port in management_ports:
            found.append(
                f"{listener.setting}: port {port} is also a management listener's port ({MANAGEMENT_SETTING}); "
                "the product and management listeners need different ports."
            )
            continue
        key = (host, port)
        if key in seen and seen[key] != listener.setting:
            found.append(f"{listener.setting} and {seen[key]} both bind {listener.bind}.")
        seen.setdefault(key, listener.setting)
    return found


def bind_error(listener):
    """None when ``listener``'s address can be bound now, else why not (a sentence for the operator)."""
    address = listener.address
    if address is None:
        return None  # a unix socket or an inherited descriptor: gunicorn reports those itself
    host, port = address
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        return f"cannot listen on {listener.bind} ({listener.setting}): the address does not resolve ({error})."
    family, kind, proto, _, sockaddr = infos[0]
    probe = socket.socket(family, kind, proto)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        probe.bind(sockaddr)
    except PermissionError as error:
        hint = " Ports below 1024 need root (or CAP_NET_BIND_SERVICE)." if port < 1024 else ""
        return f"cannot listen on {listener.bind} ({listener.setting}): {error.strerror}.{hint}"
    except OSError as error:
        hint = " Another program uses that port." if error.errno in (98, 48) else ""
        return f"cannot listen on {listener.bind} ({listener.setting}): {error.strerror}.{hint}"
    finally:
        probe.close()
    return None


def public_port(scheme):
    """The port devices reach the product listener of ``scheme`` on (None: no such listener).

    ``ONPREM_PRODUCT_HTTPS_PORT`` / ``ONPREM_PRODUCT_HTTP_PORT`` when a NAT or a container maps
    the listener to another port, else the first bound port of that scheme.
    """
    bound = [
        listener.port
        for listener in settings.ONPREM_LISTENERS
        if listener.role == PRODUCT and listener.scheme == scheme and listener.port
    ]
    if not bound:
        return None
    return getattr(settings, f"ONPREM_PRODUCT_{scheme.upper()}_PORT", None) or bound[0]


def product_base_urls(host):
    """``[(scheme, "scheme://host[:port]"), ...]`` of the product listeners, https first."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    urls = []
    for scheme in ("https", "http"):
        port = public_port(scheme)
        if port is not None:
            urls.append((scheme, f"{scheme}://{host}" + ("" if port == DEFAULT_PORTS[scheme] else f":{port}")))
    return urls


def product_not_found(request, exception=None):
    """Anything but a device endpoint on a product listener: a bare 404, no workspace page."""
    from django.http import HttpResponseNotFound

    return HttpResponseNotFound(b"Not Found\n", content_type="text/plain; charset=utf-8")


class ProductListenerMiddleware:
    """On a product listener (the accepting socket's port, ``SERVER_PORT``, is a product port):
    route with the product URLconf (the device endpoints only) and answer 404 at once to any
    other path, before the redirect to HTTPS, the static files or the session are looked at."""

    def __init__(self, get_response):
        from django.urls import Resolver404, resolve

        self.get_response = get_response
        self._resolve, self._not_found = resolve, Resolver404

    def __call__(self, request):
        if request.META.get("SERVER_PORT") in settings.ONPREM_PRODUCT_PORTS:
            request.urlconf = settings.ONPREM_PRODUCT_URLCONF
            request.listener_role = PRODUCT
            try:
                self._resolve(request.path_info, urlconf=request.urlconf)
            except self._not_found:
                return product_not_found(request)
        else:
            request.listener_role = MANAGEMENT
        return self.get_response(request)

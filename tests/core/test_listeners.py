"""Listeners by role (core/listeners.py): the configuration, its checks, and the product listener's
routing (the device endpoints only) as Django applies it to a request's SERVER_PORT."""

import socket

import pytest

from core import listeners
from core.listeners import Listener, parse_bind


def test_parse_bind():
    assert parse_bind("0.0.0.0:443") == ("0.0.0.0", 443)
    assert parse_bind("[::]:80") == ("::", 80)
    assert parse_bind(":8080") == ("0.0.0.0", 8080)
    for bad in ("unix:/run/onprem.sock", "fd://3", "localhost", "host:0", "host:http", "[::1:80"):
        with pytest.raises(ValueError):
            parse_bind(bad)


def test_defaults_follow_the_user(monkeypatch):
    environ = {"ONPREM_PORT": "8443"}
    monkeypatch.setattr(listeners, "runs_as_root", lambda: True)
    assert [(item.role, item.scheme, item.bind) for item in listeners.configured(environ)] == [
        ("management", "https", "0.0.0.0:8443"),
        ("product", "https", "0.0.0.0:443"),
        ("product", "http", "0.0.0.0:80"),
    ]
    monkeypatch.setattr(listeners, "runs_as_root", lambda: False)
    assert [item.bind for item in listeners.configured(environ)] == ["0.0.0.0:8443", "0.0.0.0:9443", "0.0.0.0:8080"]
    # An empty variable turns that product listener off; several addresses are separated by commas.
    chosen = listeners.configured(
        {
            "ONPREM_BIND": "127.0.0.1:8443",
            "ONPREM_PRODUCT_HTTPS_BIND": "",
            "ONPREM_PRODUCT_HTTP_BIND": "10.0.0.5:80, [::]:80",
        }
    )
    assert [(item.scheme, item.bind) for item in chosen if item.role == "product"] == [
        ("http", "10.0.0.5:80"),
        ("http", "[::]:80"),
    ]
    assert listeners.product_ports(chosen) == {"80"}


def test_problems_name_the_setting_and_the_cure():
    management = Listener("management", "https", "0.0.0.0:8443", "ONPREM_BIND")
    assert listeners.problems([management, Listener("product", "https", "0.0.0.0:9443", "X")]) == []
    (shared,) = listeners.problems(
        [management, Listener("product", "http", "10.0.0.5:8443", "ONPREM_PRODUCT_HTTP_BIND")]
    )
    assert "ONPREM_PRODUCT_HTTP_BIND: port 8443 is also a management listener's port" in shared
    (unix,) = listeners.problems([management, Listener("product", "http", "unix:/tmp/x", "ONPREM_PRODUCT_HTTP_BIND")])
    assert unix.startswith("ONPREM_PRODUCT_HTTP_BIND:") and "HOST:PORT" in unix
    # A unix socket stays fine for the management listener, as before.
    assert listeners.problems([Listener("management", "https", "unix:/tmp/x", "ONPREM_BIND")]) == []
    twice = listeners.problems(
        [
            management,
            Listener("product", "https", "0.0.0.0:9443", "ONPREM_PRODUCT_HTTPS_BIND"),
            Listener("product", "http", "0.0.0.0:9443", "ONPREM_PRODUCT_HTTP_BIND"),
        ]
    )
    assert twice == ["ONPREM_PRODUCT_HTTP_BIND and ONPREM_PRODUCT_HTTPS_BIND both bind 0.0.0.0:9443."]


def test_bind_error_for_a_port_in_use():
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        error = listeners.bind_error(Listener("product", "http", f"127.0.0.1:{port}", "ONPREM_PRODUCT_HTTP_BIND"))
        assert error == (
            f"cannot listen on 127.0.0.1:{port} (ONPREM_PRODUCT_HTTP_BIND): Address already in use. "
            "Another program uses that port."
        )
    finally:
        taken.close()
    assert listeners.bind_error(Listener("product", "http", f"127.0.0.1:{port}", "ONPREM_PRODUCT_HTTP_BIND")) is None


# --- routing: tests/conftest.py makes 9443 (https) and 8080 (http) the product ports ----------------
DEVICE_PATHS = ["/SmartTransport", "/Transportgateway/services/DeviceRequestHandler", "/cslu/v1/pi/Acme-1"]
OTHER_PATHS = ["/", "/login/", "/admin/", "/api/v1/accounts", "/oauth/token", "/healthz", "/metrics", "/static/x.css"]


@pytest.mark.django_db
@pytest.mark.parametrize("port", ["8080", "9443"])
def test_product_listener_answers_only_the_device_endpoints(client, settings, port):
    settings.SECURE_SSL_REDIRECT = True  # as in production: not even a redirect on the product listener
    secure = port == "9443"
    for path in OTHER_PATHS:
        response = client.get(path, SERVER_PORT=port, secure=secure)
        assert response.status_code == 404, path
        assert response.content == b"Not Found\n" and response["Content-Type"].startswith("text/plain")
        assert "Set-Cookie" not in response
        assert client.post(path, b"{}", content_type="application/json", SERVER_PORT=port).status_code == 404
    for path in DEVICE_PATHS:
        # The device endpoints answer as on the management listener (a malformed message: 400; a
        # push for an account that does not exist: the view's own 404).
        response = client.post(path, b"not json", content_type="application/json", SERVER_PORT=port, secure=secure)
        assert response.status_code == (404 if path.startswith("/cslu/") else 400), (path, response.status_code)
        managed = client.post(path, b"not json", content_type="application/json", secure=True)
        assert response.status_code == managed.status_code, path


@pytest.mark.django_db
def test_management_listener_serves_everything(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/login/", secure=True).status_code == 200  # the test client's port 80: management
    assert client.get("/healthz", secure=True).status_code == 200
    assert client.post("/SmartTransport", b"not json", content_type="application/json", secure=True).status_code != 404
    # Plain http on the management listener is still sent to HTTPS (only the device paths are exempt).
    assert client.get("/login/").status_code == 301

"""The Network widget's HTTPS proxy carries registration and synchronization to CSSM ("Proxy Tab")."""

import base64
import select
import socket
import threading

import pytest

from core import system_settings
from sync.services import registration, synchronization
from tests import ports
from tests.sync.sync_helpers import CCO_PASSWORD, CCO_USER

pytestmark = pytest.mark.django_db


class ConnectProxy:
    """A minimal explicit HTTPS proxy: answers CONNECT, then relays bytes; records what it was asked."""

    def __init__(self):
        self.port = ports.claim_port(ports.CSSM)
        self.requests = []
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client):
        with client:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            lines = head.decode("latin-1").split("\r\n")
            self.requests.append(lines)
            method, target, _ = lines[0].split(" ", 2)
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
                return
            host, port = target.rsplit(":", 1)
            with socket.create_connection((host, int(port)), timeout=30) as upstream:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                while True:
                    ready, _, _ = select.select([client, upstream], [], [], 30)
                    if not ready:
                        return
                    for source in ready:
                        data = source.recv(65536)
                        if not data:
                            return
                        (upstream if source is client else client).sendall(data)

    def close(self):
        self.sock.close()


@pytest.fixture
def proxy():
    server = ConnectProxy()
    yield server
    server.close()


def test_registration_and_sync_go_through_the_configured_proxy(use_cssm, pending_account, sysadmin, proxy):
    system_settings.update(
        "proxy",
        actor=sysadmin,
        proxy_enabled=True,
        proxy_host="127.0.0.1",
        proxy_port=proxy.port,
        proxy_username="squid",
        proxy_password="tunnel-secret",
    )
    account = pending_account()
    registration.register_online(account, actor=sysadmin, username=CCO_USER, password=CCO_PASSWORD)
    synchronization.synchronize(account, actor=sysadmin)
    target = use_cssm.url.removeprefix("https://")
    assert [lines[0].rsplit(" ", 1)[0] for lines in proxy.requests] == [f"CONNECT {target}"] * 2
    # the proxy's credentials (Proxy Username / Password) are offered to it
    expected = "Basic " + base64.b64encode(b"squid:tunnel-secret").decode()
    assert all(f"Proxy-Authorization: {expected}" in lines for lines in proxy.requests)


def test_a_proxy_that_is_down_fails_the_registration(use_cssm, pending_account, sysadmin):
    system_settings.update(
        "proxy",
        actor=sysadmin,
        proxy_enabled=True,
        proxy_host="127.0.0.1",
        proxy_port=ports.claim_port(ports.CSSM),
        proxy_username="",
    )
    account = pending_account()
    with pytest.raises(Exception, match="cannot be reached"):
        registration.register_online(account, actor=sysadmin, username=CCO_USER, password=CCO_PASSWORD)

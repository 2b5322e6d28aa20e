"""onprem/gunicorn_conf.py through gunicorn's own code: one TLS context per worker, a new one
as soon as the certificate files change on disk."""
import os
import socket
import ssl
import threading

import pytest
from gunicorn.config import Config
from gunicorn.sock import ssl_context

from onprem.tls import generate_self_signed


def _config(cert, key):
    config = Config()
    config.set("certfile", str(cert))
    config.set("keyfile", str(key))
    # What `-c python:onprem.gunicorn_conf` does: the module's names that are settings.
    from onprem import gunicorn_conf

    config.set("ssl_context", gunicorn_conf.ssl_context)
    return config


def _served_certificate(context):
    """The DER certificate a client sees from a server using ``context``."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve():
        conn, _ = listener.accept()
        try:
            with context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(1)
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = ssl.create_default_context()
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(listener.getsockname()) as raw, client.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
        tls.sendall(b"x")
    thread.join(5)
    listener.close()
    return der


@pytest.fixture
def pair(tmp_path):
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    generate_self_signed("first.example", cert, key)
    return cert, key


def test_the_config_module_sets_gunicorns_ssl_context_hook():
    config = Config()
    config.set("config", "python:onprem.gunicorn_conf")
    from gunicorn.app.base import Application

    class App(Application):
        def init(self, parser, opts, args):
            return None

        def load(self):
            return None

    app = App.__new__(App)
    app.cfg = config
    app.load_config_from_module_name_or_filename("python:onprem.gunicorn_conf")
    from onprem import gunicorn_conf

    assert app.cfg.ssl_context is gunicorn_conf.ssl_context


def test_one_context_while_the_files_stay_the_same(pair):
    config = _config(*pair)
    first = ssl_context(config)
    assert ssl_context(config) is first and ssl_context(config) is first
    assert _served_certificate(first) == ssl.PEM_cert_to_DER_cert(pair[0].read_text())


def test_a_replaced_certificate_is_served_from_the_next_connection(pair, tmp_path):
    cert, key = pair
    config = _config(cert, key)
    before = ssl_context(config)
    old_der = _served_certificate(before)
    # What the Security widget's import and ensure_tls do: new files at the same paths.
    generate_self_signed("second.example", tmp_path / "new.crt", tmp_path / "new.key")
    os.replace(tmp_path / "new.key", key)
    os.replace(tmp_path / "new.crt", cert)
    after = ssl_context(config)
    assert after is not before
    new_der = _served_certificate(after)
    assert new_der != old_der and new_der == ssl.PEM_cert_to_DER_cert(cert.read_text())


def test_a_key_that_does_not_match_fails_that_connection_and_is_not_kept(pair, tmp_path):
    cert, key = pair
    config = _config(cert, key)
    good = ssl_context(config)
    generate_self_signed("other.example", tmp_path / "other.crt", tmp_path / "other.key")
    os.replace(tmp_path / "other.key", key)  # the key replaced, the certificate not yet
    with pytest.raises(ssl.SSLError):
        ssl_context(config)
    os.replace(tmp_path / "other.crt", cert)  # the pair complete again
    fixed = ssl_context(config)
    assert fixed is not good and _served_certificate(fixed) == ssl.PEM_cert_to_DER_cert(cert.read_text())

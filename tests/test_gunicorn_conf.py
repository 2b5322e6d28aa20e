"""onprem/gunicorn_conf.py through gunicorn's own code: one TLS context per worker, a new one
as soon as the certificate files change on disk."""

import os
import ssl

import pytest
from gunicorn.config import Config
from gunicorn.sock import ssl_context

from core.tls import generate_self_signed
from tests.tls_probe import peer_certificate


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
    return peer_certificate(context)[1]


@pytest.fixture(autouse=True)
def _data_dir(tmp_path, monkeypatch):
    """The contexts' shared ticket keys go to the data dir: a private one."""
    monkeypatch.setenv("ONPREM_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def pair(tmp_path):
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    generate_self_signed("first.example", cert, key)
    return cert, key


def test_the_config_module_sets_gunicorns_ssl_context_hook():
    """What `--config python:onprem.gunicorn_conf` makes of it: gunicorn's own loader."""
    from gunicorn.app.base import Application

    from onprem import gunicorn_conf

    class App(Application):
        def init(self, parser, opts, args):
            return None

        def load_config(self):  # instead of reading sys.argv: just the module, as --config names it
            self.load_config_from_module_name_or_filename("python:onprem.gunicorn_conf")

        def load(self):
            return None

    config = App().cfg
    assert config.ssl_context is gunicorn_conf.ssl_context
    # and its logger, whose handlers scrub secrets (tests/reliability/test_reliability_secrets_in_logs.py)
    assert config.logger_class is gunicorn_conf.ScrubbingLogger


def test_one_context_while_the_files_stay_the_same(pair):
    config = _config(*pair)
    first = ssl_context(config)
    assert ssl_context(config) is first and ssl_context(config) is first
    assert _served_certificate(first) == ssl.PEM_cert_to_DER_cert(pair[0].read_text())


def test_the_contexts_share_the_data_dirs_ticket_keys(pair, tmp_path):
    from core import tls_tickets

    context = ssl_context(_config(*pair))
    assert context.num_tickets == 1 and tls_tickets.session_timeout(context) == tls_tickets.DEFAULT_ROTATE
    assert (tmp_path / "data" / "tls" / "ticket-keys.json").exists()


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

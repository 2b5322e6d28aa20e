"""Fixtures of the Access Management tests: a real slapd, a real OIDC provider process, and
helpers that configure them through the widget's own services."""

import sys
from pathlib import Path

import pytest
import requests

from bench.harness import Process
from tests import ports
from tests.access_management.oidc_provider import CLIENT_ID, CLIENT_SECRET, RESOURCE
from tests.access_management.slapd_server import READER_DN, READER_PASSWORD, SLAPD, SUFFIX, Slapd, make_tls_files

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def slapd_server(tmp_path_factory):
    if SLAPD is None:
        pytest.skip("slapd is not installed (apt-get install slapd ldap-utils): the LDAP tests need a real server")
    server = Slapd(tmp_path_factory.mktemp("slapd")).start()
    server.add_user("alice", "Alice-Pass-1", given="Alice", sn="Liddell", mail="alice@example.com")
    server.add_user("bob", "Bob-Pass-2")
    server.add_user("carol", "Carol-Pass-3")
    server.add_group("devs", ["alice", "bob"], gid=20001, description="Developers")
    server.add_group("ops", ["carol"], gid=20002)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def slapd_tls_server(tmp_path_factory):
    """A second slapd that speaks only LDAP over TLS (simple-tls), with a certificate of a private CA."""
    if SLAPD is None:
        pytest.skip("slapd is not installed (apt-get install slapd ldap-utils): the LDAP tests need a real server")
    folder = tmp_path_factory.mktemp("slapd-tls")
    tls = make_tls_files(folder)
    server = Slapd(folder, tls=tls).start()
    server.add_user("tina", "Tina-Pass-4")
    yield server
    server.stop()


@pytest.fixture
def ldap_data(slapd_server):
    """The form data of a working LDAP configuration for the test server."""
    return {
        "enabled": True,
        "title": "Test LDAP",
        "host": "127.0.0.1",
        "port": slapd_server.port,
        "user_base_dn": f"ou=people,{SUFFIX}",
        "uid_attribute": "uid",
        "encryption": "plain",
        "bind_dn": READER_DN,
        "bind_password": READER_PASSWORD,
        "group_base_dn": f"ou=groups,{SUFFIX}",
        "ldap_type": "openldap",
    }


@pytest.fixture
def ldap_configured(db, ldap_data):
    from admin_widgets.access_management.services import save_ldap_config

    return save_ldap_config(actor=None, data=ldap_data)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    port = ports.claim_port(ports.DIRECTORY)
    provider = Process(
        [sys.executable, HERE / "oidc_provider.py", port, CLIENT_ID, CLIENT_SECRET],
        log=tmp_path_factory.mktemp("oidc") / "provider.log",
        port=port,
        name="oidc_provider.py",
    )
    provider.start().wait_for_port(timeout=30)
    base = f"http://127.0.0.1:{port}"

    class Handle:
        url = base

        @staticmethod
        def next_user(username="adfs.user@corp.example", roles=(), email="", mode="normal"):
            requests.post(
                f"{base}/_control",
                json={"username": username, "roles": list(roles), "email": email, "mode": mode},
                timeout=5,
            ).raise_for_status()

    yield Handle
    provider.stop()


@pytest.fixture
def adfs_configured(db, oidc_provider):
    from admin_widgets.access_management.services import save_provider

    def _configure(mode="v4", import_claims=True, secret=CLIENT_SECRET):
        return save_provider(
            actor=None,
            kind="adfs",
            data={
                "enabled": True,
                "server_url": oidc_provider.url,
                "adfs_mode": mode,
                "import_claims": import_claims,
                "resource_name": RESOURCE,
                "client_id": CLIENT_ID,
                "client_secret": secret,
            },
        )

    return _configure


@pytest.fixture
def client_factory(db):
    """client_factory() -> a fresh test client (one browser per user in a test)."""
    from django.test import Client

    return Client

"""Listeners by role for real: `manage.py serve` with a management listener and both product
listeners (core/listeners.py), each on a port of tests/ports.py's SERVE range.

A device (the reference agent) registers, authorizes and reports over the product listener's
https:// and http:// URLs; the product listeners answer workspace and API paths 404; the
management listener still serves everything; a port already taken stops the start, saying which.
"""

import json
import socket
import sqlite3

import pytest

from bench.harness import Installation
from smart_agent import Agent, Identity
from tests import ports

pytestmark = pytest.mark.live
requests = pytest.importorskip("requests")

SEED = """
import json
from licensing.demo import seed_demo
from licensing.models import Entitlement
result = seed_demo(name="Listeners", product_instances=0, seed=7)
campus = next(va for va in result.virtual_accounts if va.name == "Campus")
Entitlement.objects.create(virtual_account=campus, license=result.licenses["NE"], license_type="perpetual",
                           quantity=1000)
print("SEEDED " + json.dumps({"token": result.tokens[0].token, "ne": result.licenses["NE"].entitlement_tag}))
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    https_port, http_port = ports.claim_port(ports.SERVE, reuse=False), ports.claim_port(ports.SERVE, reuse=False)
    server = Installation(
        tmp_path_factory.mktemp("listeners"),
        port=ports.claim_port(ports.SERVE, reuse=False),
        ONPREM_PRODUCT_HTTPS_BIND=f"127.0.0.1:{https_port}",
        ONPREM_PRODUCT_HTTP_BIND=f"127.0.0.1:{http_port}",
        ONPREM_WEB_WORKERS="2",
        ONPREM_PRODUCT_HTTP_WORKERS="1",
    )
    try:
        server.manage("migrate", "--noinput")
        output = server.manage("shell", "-c", SEED).stdout
        seeded = json.loads(next(line for line in output.splitlines() if line.startswith("SEEDED "))[7:])
        server.start("--no-beat")
        # serve prints the listeners once every one of them answers.
        server.serve.wait_until(lambda: "Listeners:" in server.printed(), timeout=90, what="print its listeners")
        server.token, server.ne = seeded["token"], seeded["ne"]
        server.product_https = f"https://localhost:{https_port}"
        server.product_http = f"http://localhost:{http_port}"
        server.https_port, server.http_port = https_port, http_port
        yield server
    finally:
        server.cleanup()


def session(site):
    http = requests.Session()
    http.trust_env = False  # no proxies, no REQUESTS_CA_BUNDLE
    http.verify = str(site.cert)
    return http


def instance(site, serial):
    connection = sqlite3.connect(f"file:{site.data_dir / 'onprem.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(
            "SELECT hostname FROM licensing_productinstance WHERE udi_serial_number = ?", (serial,)
        ).fetchall()
    finally:
        connection.close()


def test_serve_prints_every_listener(site):
    printed = site.printed()
    assert f"management https 127.0.0.1:{site.port}" in " ".join(printed.split())
    lines = [" ".join(line.split()) for line in printed.splitlines()]
    assert any(
        line.startswith(f"product https 127.0.0.1:{site.https_port} device endpoints only")
        and line.endswith(f"https://localhost:{site.https_port}/SmartTransport")
        for line in lines
    ), printed
    assert any(
        line.startswith(f"product http 127.0.0.1:{site.http_port} device endpoints only")
        and line.endswith(f"http://localhost:{site.http_port}/SmartTransport")
        for line in lines
    ), printed


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_a_device_registers_authorizes_and_reports_on_the_product_listener(site, tmp_path, scheme):
    url = site.product_https if scheme == "https" else site.product_http
    serial = f"FOC25{scheme.upper():0<5}"[:11]
    agent = Agent(
        url, tmp_path / scheme, Identity("C9300-24T", serial, hostname=f"dev-{scheme}"), ca_file=str(site.cert)
    )
    assert agent.register(site.token)["status"] == "SUCCESS"
    assert instance(site, serial) == [(f"dev-{scheme}",)]
    assert agent.authorize({site.ne: 1})["compliance"] == "IN_COMPLIANCE"
    assert agent.report()  # the usage report is acknowledged
    # The legacy Call Home URL on the same listener.
    legacy = Agent(url, tmp_path / scheme, ca_file=str(site.cert), legacy=True)
    assert legacy.authorize({site.ne: 1})["compliance"] == "IN_COMPLIANCE"
    # The access log names the listener's requests like any other.
    assert "POST /SmartTransport" in (site.data_dir / "logs" / "access.log").read_text()


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_the_product_listener_refuses_everything_else(site, scheme):
    base = site.product_https if scheme == "https" else site.product_http
    http = session(site)
    for path in (
        "/",
        "/login/",
        "/admin/",
        "/api/v1/accounts",
        "/oauth/token",
        "/healthz",
        "/static/onprem/favicon.svg",
    ):
        answer = http.get(base + path, timeout=10, allow_redirects=False)
        assert answer.status_code == 404, (path, answer.status_code)
        assert answer.text == "Not Found\n" and "Set-Cookie" not in answer.headers
    answer = http.post(base + "/api/v1/accounts", json={}, timeout=10, allow_redirects=False)
    assert answer.status_code == 404


def test_the_management_listener_serves_everything(site, tmp_path):
    http = session(site)
    assert http.get(f"{site.url}/login/", timeout=10).status_code == 200
    assert http.get(f"{site.url}/healthz", timeout=10).status_code == 200
    assert http.get(f"{site.url}/api/v1/accounts", timeout=10).status_code == 403  # there: refused without a token
    # ...and the device endpoints too, as before there were product listeners.
    agent = Agent(site.url, tmp_path / "m", Identity("C9300-24T", "FOC2599MGMT"), ca_file=str(site.cert))
    assert agent.register(site.token)["status"] == "SUCCESS"


def test_a_port_already_taken_stops_the_start(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", ports.claim_port(ports.SERVE, reuse=False)))
    taken.listen()
    busy = taken.getsockname()[1]
    try:
        server = Installation(
            tmp_path,
            port=ports.claim_port(ports.SERVE, reuse=False),
            ONPREM_PRODUCT_HTTPS_BIND="",
            ONPREM_PRODUCT_HTTP_BIND=f"127.0.0.1:{busy}",
        )
        server.manage("migrate", "--noinput")
        done = server.manage("serve", check=False, timeout=120)
    finally:
        taken.close()
    assert done.returncode == 1
    assert (
        f"Not started: Cannot listen on 127.0.0.1:{busy} (ONPREM_PRODUCT_HTTP_BIND): Address already in use. "
        "Another program uses that port." in done.stderr
    ), done.stderr
    assert "The license server is up" not in done.stdout

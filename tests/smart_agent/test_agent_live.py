"""End to end: the agent, its CLI and the fleet simulator against the real `manage.py serve` over HTTPS.

One server for the module, in a private ONPREM_DATA_DIR, on a port of this suite's range
(tests/ports.py's AGENT_LIVE), seeded with a demo local account (active without CSSM) through
`manage.py shell` before it starts. Everything the devices do is checked in the server's SQLite database too.
"""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import Installation
from smart_agent import Agent, Failed, Identity
from smart_agent.fleet.__main__ import main as fleet_main
from tests import ports

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]

SEED = """
import json
from licensing.demo import seed_demo
from licensing.models import Entitlement
result = seed_demo(name="Agent Live", product_instances=0, seed=5)
campus = next(va for va in result.virtual_accounts if va.name == "Campus")
for key in ("NE", "DE"):
    Entitlement.objects.create(virtual_account=campus, license=result.licenses[key], license_type="perpetual",
                               quantity=100000)
print("SEEDED " + json.dumps({"token": result.tokens[0].token,
                              "tags": {k: v.entitlement_tag for k, v in result.licenses.items()}}))
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    if not (ROOT / "licensing" / "transport" / "urls.py").exists():
        pytest.skip("the device endpoints (licensing/transport) are not there yet")
    server = Installation(
        tmp_path_factory.mktemp("agent-live"),
        port=ports.claim_port(ports.AGENT_LIVE),
        ONPREM_HEARTBEAT_SECONDS="2",
        ONPREM_WEB_WORKERS="4",
    )
    try:
        server.manage("migrate", "--noinput")
        output = server.manage("shell", "-c", SEED).stdout
        seeded = json.loads(next(line for line in output.splitlines() if line.startswith("SEEDED "))[7:])
        server.start("--no-beat")
        server.wait_until_up()
        server.token, server.tags = seeded["token"], seeded["tags"]
        yield server
    finally:
        server.cleanup()


def query(server, sql, *args):
    connection = sqlite3.connect(f"file:{server.data_dir / 'onprem.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        return connection.execute(sql, args).fetchall()
    finally:
        connection.close()


def cli(server, state_dir, *args, ca=True):
    tls = ["--ca-file", str(server.cert)] if ca else []
    done = subprocess.run(
        [sys.executable, "-m", "smart_agent", "--server", server.url, "--state-dir", str(state_dir), *tls, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout, done.stderr


def test_cli_over_https(live, tmp_path):
    ne, de = live.tags["NE"], live.tags["DE"]
    state = tmp_path / "c9300"
    code, out, err = cli(
        live,
        state,
        "--pid",
        "C9300-24T",
        "--serial",
        "FOC2501L0CL",
        "--hostname",
        "cmp01-acc-sw1",
        "--ip",
        "10.10.1.1",
        "--mac",
        "70:ca:9b:10:20:30",
        "register",
        "--token",
        live.token,
    )
    assert code == 0, err
    assert "in virtual account Campus" in out
    assert query(live, "SELECT hostname FROM licensing_productinstance WHERE udi_serial_number = ?", "FOC2501L0CL") == [
        ("cmp01-acc-sw1",)
    ]

    code, out, err = cli(live, state, "authorize", f"{ne}=1", f"{de}=1")
    assert code == 0, err
    assert f"AUTHORIZED: {ne} x1" in out and "Compliance: IN_COMPLIANCE" in out
    code, out, err = cli(live, state, "report")
    assert code == 0 and out.startswith("ACK: report "), err
    code, out, err = cli(live, state, "renew-id")
    assert code == 0 and out.startswith("Renewed: certificate "), err
    code, out, err = cli(live, state, "--json", "status")
    assert code == 0 and json.loads(out)["compliance"] == "IN_COMPLIANCE"
    code, out, err = cli(live, state, "authorize", f"{ne}=2")  # signed with the renewed certificate
    assert code == 0, err
    code, out, err = cli(live, state, "deregister")
    assert code == 0 and "Deregistered" in out and ne in out
    assert query(live, "SELECT id FROM licensing_productinstance WHERE udi_serial_number = ?", "FOC2501L0CL") == []

    # The clear failures: unknown token (1), self-signed server without --ca-file (4), not registered (3).
    code, out, err = cli(
        live, tmp_path / "x", "--pid", "C9300-24T", "--serial", "FOC2501L0CM", "register", "--token", "not-a-token"
    )
    assert code == 1 and "TOKEN_UNKNOWN: The registration token is not valid." in err
    code, out, err = cli(
        live,
        tmp_path / "y",
        "--pid",
        "C9300-24T",
        "--serial",
        "FOC2501L0CN",
        "register",
        "--token",
        live.token,
        ca=False,
    )
    assert code == 4 and "certificate verify failed" in err
    code, out, err = cli(live, state, "report")
    assert code == 3 and "is not registered" in err


def test_library_over_https(live, tmp_path):
    ne, de = live.tags["NE"], live.tags["DE"]
    messages = []
    agent = Agent(
        live.url,
        tmp_path / "csr",
        Identity(
            "CSR1000V",
            "9KX7Q2M4T1Z",
            uuid="0b9f2d4e-6a8c-4e1f-9b3d-5c7a1e2f4d6b",
            hostname="edge-vrtr-1",
            ip_address="10.20.0.1",
        ),
        ca_file=str(live.cert),
        on_message=lambda *m: messages.append(m),
    )
    registered = agent.register(live.token)
    assert registered["status"] == "SUCCESS" and registered["local_account"] == "Agent Live"
    assert registered["id_certificate_serial"] == agent.state["certificate_serial"]

    assert agent.authorize({ne: 1, de: 1})["compliance"] == "IN_COMPLIANCE"
    first = agent.report()
    assert [a["status"] for a in first["acks"]] == ["ACK"]
    envelope = json.loads(next(m[2] for m in reversed(messages) if m[:2] == ("request", "REPORT_USAGE")))
    sent = json.loads(envelope["payload"])
    report = sent["reports"][0]
    stored = query(
        live,
        "SELECT payload, signature_value FROM licensing_rumreport WHERE report_id = ?",
        first["acks"][0]["report_id"],
    )
    assert stored == [(report["payload"], report["signature"]["value"])]  # byte-for-byte

    # A report resent (its reply lost) is recognised by its id and not applied twice.
    agent.state["pending_reports"] = [report]
    assert agent.report([])["acks"] == [{"report_id": first["acks"][0]["report_id"], "status": "DUPLICATE"}]

    agent.renew_id(rotate_key=True)
    assert agent.authorize({ne: 3})["authorizations"][0]["status"] == "AUTHORIZED"
    usage = query(
        live,
        "SELECT u.count FROM licensing_licenseusage u JOIN licensing_productinstance p "
        "ON p.id = u.product_instance_id WHERE p.udi_serial_number = ?",
        "9KX7Q2M4T1Z",
    )
    assert usage == [(3,)]

    legacy = Agent(live.url, tmp_path / "csr", ca_file=str(live.cert), legacy=True)
    assert legacy.authorize({ne: 2, de: 0})["compliance"] == "IN_COMPLIANCE"

    released = agent.deregister()["released"]
    assert {r["tag"] for r in released} == {ne}
    # serve closes every connection and runs 4 workers: one full TLS handshake, then every
    # reconnect resumed the session, whichever worker took it (shared ticket keys).
    assert agent.transport.handshakes == {"full": 1, "resumed": 6}  # 7 messages
    again = Agent(live.url, tmp_path / "csr", ca_file=str(live.cert))
    assert not again.registered


def test_replies_from_the_server_verify_and_bind_to_requests(live, tmp_path):
    """A message replayed byte-for-byte is refused (REPLAY), and a reply cannot be swapped for another."""
    messages = []
    agent = Agent(
        live.url,
        tmp_path / "n9k",
        Identity("N9K-C93180YC-EX", "FDO2433R0ZK"),
        ca_file=str(live.cert),
        on_message=lambda *m: messages.append(m),
    )
    agent.register(live.token)
    agent.authorize({live.tags["NE"]: 1})
    request = next(m[2] for m in reversed(messages) if m[:2] == ("request", "AUTHORIZE"))
    import http.client
    import ssl

    connection = http.client.HTTPSConnection(
        "localhost", live.port, context=ssl.create_default_context(cafile=str(live.cert))
    )
    connection.request("POST", "/SmartTransport", body=request.encode(), headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    replay = json.loads(json.loads(response.read())["payload"])
    assert response.status == 200 and replay["status"] == "FAILED" and replay["error_code"] == "REPLAY"
    # Each reply answers its own request: in_reply_to is the nonce the agent sent.
    reply = json.loads(json.loads(next(m[2] for m in reversed(messages) if m[:2] == ("reply", "AUTHORIZE")))["payload"])
    assert reply["in_reply_to"] == json.loads(json.loads(request)["payload"])["nonce"]
    # After deregistration the old certificate is unknown: NOT_REGISTERED, raised as Failed.
    key = agent.store.read("key.pem"), agent.store.read("certificate.pem"), agent.store.read("chain.pem")
    state = dict(agent.state)
    agent.deregister()
    for name, data in zip(("key.pem", "certificate.pem", "chain.pem"), key, strict=True):
        agent.store.write(name, data)
    agent.state = state
    with pytest.raises(Failed) as caught:
        agent.authorize({live.tags["NE"]: 1})
    assert caught.value.error_code == "NOT_REGISTERED"


def test_fleet_of_50_devices(live, tmp_path, capsys):
    licenses = f"{live.tags['NE']}=1,{live.tags['DE']}=1,{live.tags['AIR']}=4"
    code = fleet_main(
        [
            "--server",
            live.url,
            "--ca-file",
            str(live.cert),
            "--token",
            live.token,
            "--devices",
            "50",
            "--concurrency",
            "10",
            "--licenses",
            licenses,
            "--redundancy-pairs",
            "5",
            "--seed",
            "50",
            "--json",
            "--quiet",
        ]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0 and summary["failed"] == 0, summary["failures"]
    assert summary["registered"] == summary["authorized"] == 50
    assert {k: v["ok"] for k, v in summary["by_type"].items()} == {"REGISTER": 50, "AUTHORIZE": 50, "REPORT_USAGE": 50}
    assert summary["latency_ms"]["p99"] is not None and summary["requests_per_second"] > 0
    # Each device: a full TLS handshake for its first message, its own session resumed after.
    assert summary["tls_handshakes"] == {"full": 50, "resumed": summary["requests"] - 50}
    pairs = query(
        live,
        "SELECT redundancy_role, COUNT(*) FROM licensing_productinstance "
        "WHERE redundancy_group != '' GROUP BY redundancy_role",
    )
    assert dict(pairs) == {"active": 5, "standby": 5}


def test_bounded_soak_reports_errors_and_memory_of_the_server_tree(live, tmp_path):
    # python -m bench.soak: 15 s of steady reporting by 10 devices against the real server.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.soak",
            "--server",
            live.url,
            "--ca-file",
            str(live.cert),
            "--token",
            live.token,
            "--minutes",
            "0.25",
            "--devices",
            "10",
            "--report-interval",
            "2",
            "--server-pid",
            str(live.proc.pid),
            "--json",
            "--licenses",
            f"{live.tags['NE']}=1",
        ],
        cwd=ROOT,
        env=live.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["failed"] == 0 and result["ok"] == result["requests"] > 10  # registers plus repeated reports
    assert 14 <= result["elapsed_s"] < 120
    processes = " ".join(row["process"] for row in result["memory"])
    assert "gunicorn" in processes and "celery" in processes
    for row in result["memory"]:
        assert row["samples"] >= 2 and row["rss_end_mb"] > 0 and row["growth_percent"] is not None


def test_soak_refuses_an_unbounded_run(live):
    done = subprocess.run(
        [sys.executable, "-m", "bench.soak", "--server", live.url, "--token", "x", "--minutes", "0"],
        cwd=ROOT,
        env=live.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "--minutes must be more than 0" in done.stderr


def test_an_odd_serial_registers_and_works_over_https(live, tmp_path):
    """A serial PrintableString cannot hold, through the agent's CSR, the server's certificate and back."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    serial = "ABCé_@1"
    agent = Agent(live.url, tmp_path / "odd", Identity("C9300-24T", serial), ca_file=str(live.cert))
    registered = agent.register(live.token)
    assert registered["status"] == "SUCCESS"
    subject = x509.load_pem_x509_certificate(registered["id_certificate"].encode()).subject
    assert subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == f"PID:C9300-24T SN:{serial}"
    assert query(
        live, "SELECT udi_serial_number FROM licensing_productinstance WHERE udi_serial_number = ?", serial
    ) == [(serial,)]
    assert agent.authorize({live.tags["NE"]: 1})["compliance"] == "IN_COMPLIANCE"
    agent.renew_id()
    assert agent.deregister()["status"] == "SUCCESS"

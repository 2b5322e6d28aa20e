"""The command line: argument parsing, messages and exit codes."""

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from smart_agent import cli

NE = "regid.2017-03.com.cisco.NETWORK_ESSENTIALS,1.0_ne"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run(fake_server, tmp_path, capsys):
    def call(*args, state="state"):
        code = cli.main(["--server", fake_server.url, "--state-dir", str(tmp_path / state), *args])
        out, err = capsys.readouterr()
        return code, out, err

    return call


IDENTITY = ["--pid", "C9300-24T", "--serial", "FOC2412X0AB", "--mac", "70CA.9B01.0203", "--hostname", "sw1"]


def test_tag_count_parsing():
    assert cli.tag_count(f"{NE}=3") == (NE, 3)
    assert cli.tag_count("a=b=0") == ("a=b", 0)
    for bad in ("tag", "=1", "tag=-1", "tag=x", "tag="):
        with pytest.raises(argparse.ArgumentTypeError):
            cli.tag_count(bad)


def test_usage_errors_exit_2(run, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(["--state-dir", "x"])  # no command
    assert caught.value.code == 2
    with pytest.raises(SystemExit) as caught:
        cli.main(["--state-dir", "x", "authorize", "no-count"])
    assert caught.value.code == 2
    assert "is not TAG=COUNT" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        cli.main(["--state-dir", "x", "--insecure", "--ca-file", "c.pem", "status"])
    assert caught.value.code == 2
    code, out, err = run("--pid", "C9300-24T", "register", "--token", "GOOD-TOKEN")
    assert code == 2 and "--pid and --serial" in err


def test_register_authorize_report_deregister(run, tmp_path):
    code, out, err = run(*IDENTITY, "register", "--token", "GOOD-TOKEN")
    assert code == 0, err
    assert out.startswith("Registered: product instance ")
    # Later commands need no identity: it comes from the state dir.
    code, out, err = run("authorize", f"{NE}=2", "unknown.tag=1")
    assert code == 0, err
    assert f"AUTHORIZED: {NE} x2" in out and "NOT_AUTHORIZED: unknown.tag x1 (UNKNOWN_TAG)" in out
    assert "Compliance: OUT_OF_COMPLIANCE" in out
    code, out, err = run("report")
    assert code == 0 and out.startswith("ACK: report ")
    code, out, err = run("--json", "status")
    status = json.loads(out)
    assert code == 0 and status["registered"] and status["identity"]["mac_address"] == "70:ca:9b:01:02:03"
    code, out, err = run("renew-id")
    assert code == 0 and out.startswith("Renewed: certificate ")
    code, out, err = run("poll")
    assert code == 0 and out.strip() == "Nothing pending."
    code, out, err = run("deregister")
    assert code == 0 and f"released: {NE} x2, unknown.tag x1" in out
    code, out, err = run("status")
    assert code == 3 and "registered: False" in out


def test_failed_reply_exit_1(run):
    code, out, err = run(*IDENTITY, "register", "--token", "WRONG")
    assert code == 1
    assert err.strip() == (
        "error: REGISTER FAILED: TOKEN_UNKNOWN: The registration token is not valid. "
        "(reply not signed by this device's chain: advisory)"
    )


def test_not_registered_exit_3(run):
    code, out, err = run("authorize", f"{NE}=1")
    assert code == 3 and "No device identity" in err
    code, out, err = run(*IDENTITY, "report")
    assert code == 3 and "is not registered" in err


def test_unreachable_exit_4(tmp_path, capsys):
    code = cli.main(
        [
            "--server",
            "http://127.0.0.1:9",
            "--state-dir",
            str(tmp_path / "s"),
            "--timeout",
            "2",
            *IDENTITY,
            "register",
            "--token",
            "T",
        ]
    )
    assert code == 4 and "Cannot reach" in capsys.readouterr().err


def test_invalid_reply_exit_5(run, fake_server):
    assert run(*IDENTITY, "register", "--token", "GOOD-TOKEN")[0] == 0
    fake_server.tamper = "payload"
    code, out, err = run("authorize", f"{NE}=1")
    assert code == 5 and "invalid reply: The reply signature does not verify." in err


def test_redundancy_options(run, fake_server):
    assert run(*IDENTITY, "register", "--token", "GOOD-TOKEN")[0] == 0
    code, out, err = run(
        "authorize",
        f"{NE}=1",
        "--app-role",
        "ACTIVE",
        "--app-id",
        "app-a",
        "--app-name",
        "wlc",
        "--peer",
        "app-b:STANDBY:102:sw1b",
    )
    assert code == 0, err
    request = json.loads(fake_server.received[-1][1]["payload"])
    assert request["app_redundancy"] == {
        "application_name": "wlc",
        "app_role": "ACTIVE",
        "app_id": "app-a",
        "peers": [{"name": "sw1b", "role": "STANDBY", "id": "app-b", "product_instance_identifier": "102"}],
    }
    code, out, err = run("authorize", f"{NE}=1", "--peer", "x:ACTIVE")
    assert code == 2 and "--app-role" in err


def test_python_dash_m_entry_point(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "smart_agent", "--state-dir", str(tmp_path / "s"), "status"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3 and "registered: False" in done.stdout


def test_agent_imports_nothing_from_django_or_the_project():
    code = (
        "import sys, smart_agent, smart_agent.cli, smart_agent.fleet, smart_agent.fleet.__main__; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('django', 'onprem', 'licensing', 'accounts', 'sync', 'admin_widgets', 'requests')]; print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_third_party_keys_command_saves_the_keys_privately_and_does_not_print_them(run, fake_server, tmp_path):
    code, out, err = run(*IDENTITY, "register", "--token", "GOOD-TOKEN")
    assert code == 0, err
    code, out, err = run("third-party-keys")
    assert code == 1 and "GET_THIRD_PARTY_KEY FAILED: NO_THIRD_PARTY_KEYS" in err
    saved = tmp_path / "state" / "third_party_keys.json"
    assert not saved.exists()
    fake_server.third_party_keys = [
        {"key_id": "k1", "tag": NE, "service": "Speech View", "key": "s3cret-speech", "expires_on": "2030-01-31"},
        {"key_id": "k2", "tag": "other.tag", "service": "APNs", "key": "s3cret-apns", "expires_on": None},
    ]
    code, out, err = run("third-party-keys", NE)
    assert code == 0, err
    assert f"Speech View: key k1 for {NE}, expires 2030-01-31" in out and "s3cret" not in out
    assert "APNs" not in out  # only the license asked for
    sent = fake_server.received[-1][1]
    assert sent["header"]["type"] == "GET_THIRD_PARTY_KEY" and json.loads(sent["payload"])["tags"] == [NE]
    assert [k["key"] for k in json.loads(saved.read_text())] == ["s3cret-speech"]
    assert saved.stat().st_mode & 0o777 == 0o600
    code, out, err = run("--json", "third-party-keys")
    assert code == 0 and {k["key_id"] for k in json.loads(out)["third_party_keys"]} == {"k1", "k2"}
    assert "tags" not in json.loads(fake_server.received[-1][1]["payload"])
    code, out, err = run("forget", "--yes")
    assert code == 0 and not saved.exists()  # the keys go with the registration

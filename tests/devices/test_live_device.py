"""The device protocol against a real server process (`manage.py serve`: gunicorn over HTTPS) on
loopback: a device registers and asks for licenses over a real socket, and an oversized body
is cut off with 413."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from devicesim import Device, make_csr, verify_reply
from ports import claim_port_or_any

requests = pytest.importorskip("requests")

BASE_DIR = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(BASE_DIR / "manage.py")]
SETUP = """
from licensing.models import Entitlement, LicenseDefinition
from licensing.services.accounts import activate_account, create_account
from licensing.services.tokens import create_token
account = activate_account(actor=None, account=create_account(actor=None, name="Live", cisco_smart_account="SA",
                                                               cisco_virtual_account="VA"))
va = account.virtual_accounts.get()
lic = LicenseDefinition.objects.create(name="Live License", entitlement_tag="regid.live")
Entitlement.objects.create(virtual_account=va, license=lic, quantity=1, license_type="perpetual")
print("TOKEN=" + create_token(actor=None, virtual_account=va, max_uses=2).token)
"""


def _port():
    # This file's share of the live-test range first, any free port otherwise; locked for this process.
    return claim_port_or_any(range(18540, 18600))


class LiveClient:
    """What devicesim.Device needs of a client, over a real HTTPS socket."""

    def __init__(self, base, cert):
        self.base = base
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(cert)

    def post(self, path, data, content_type):
        return self.session.post(self.base + path, data=data, headers={"Content-Type": content_type}, timeout=30)


@pytest.mark.live
def test_device_over_a_real_socket(tmp_path):
    port = _port()
    data_dir = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONPREM_") and k not in (
        "DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="onprem.settings", ONPREM_DATA_DIR=str(data_dir), ONPREM_PORT=str(port),
               ONPREM_BIND=f"127.0.0.1:{port}", ONPREM_WEB_WORKERS="2", ONPREM_CELERY_CONCURRENCY="1",
               ONPREM_DEVICE_MAX_MESSAGE_BYTES="65536", PYTHONUNBUFFERED="1")

    def manage(*args):
        done = subprocess.run([*MANAGE, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    manage("migrate", "--noinput")
    token = next(line[6:] for line in manage("shell", "-c", SETUP).splitlines() if line.startswith("TOKEN="))
    log = open(tmp_path / "serve.out", "w")
    proc = subprocess.Popen([*MANAGE, "serve"], cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        cert = data_dir / "tls" / "server.crt"
        client = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "serve.out").read_text()
            if cert.exists():
                client = LiveClient(f"https://localhost:{port}", cert)
                try:
                    client.session.get(f"https://localhost:{port}/login/", timeout=5)
                    break
                except (requests.ConnectionError, requests.Timeout):
                    pass
            time.sleep(0.3)
        else:
            pytest.fail("the server did not come up:\n" + (tmp_path / "serve.out").read_text())

        dev = Device(client, "LIVE-1")
        response = dev.post(dev.envelope("REGISTER", dev.payload(id_token=token, csr=make_csr(dev.key))))
        assert response.status_code == 200, response.text[:500]
        reply = json.loads(json.loads(response.content)["payload"])
        assert reply["status"] == "SUCCESS", reply
        dev.cert_serial, dev.chain = reply["id_certificate_serial"], reply["certificate_chain"]

        response = dev.post(dev.envelope("AUTHORIZE", dev.payload(entitlements=[{"tag": "regid.live", "count": 1}])))
        envelope = json.loads(response.content)
        verify_reply(envelope, dev.chain, use_db=False)  # signed with the chain the device got at registration
        reply = json.loads(envelope["payload"])
        assert reply["authorizations"] == [{"tag": "regid.live", "count": 1, "status": "AUTHORIZED"}]

        # the same bytes again over the wire: a replay
        response = dev.post(json.dumps(dev.envelope("AUTHORIZE", dev.payload(entitlements=[]))))
        body = response.request.body
        again = client.session.post(client.base + "/SmartTransport", data=body,
                                    headers={"Content-Type": "application/json"}, timeout=30)
        assert json.loads(json.loads(again.content)["payload"])["error_code"] == "REPLAY"

        oversized = client.session.post(client.base + "/SmartTransport", data=b"x" * 200_000,
                                        headers={"Content-Type": "application/json"}, timeout=30)
        assert oversized.status_code == 413
        garbage = client.session.post(client.base + "/Transportgateway/services/DeviceRequestHandler",
                                      data=b"<smartLicense>", headers={"Content-Type": "application/xml"}, timeout=30)
        assert garbage.status_code == 400
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()

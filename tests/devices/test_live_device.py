"""The device protocol against a real server process (`manage.py serve`: gunicorn over HTTPS) on
loopback: a device registers and asks for licenses over a real socket, and an oversized body
is cut off with 413."""

import json

import pytest

from tests.devices.devicesim import Device, make_csr, verify_reply

requests = pytest.importorskip("requests")

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
def test_device_over_a_real_socket(server_factory):
    server = server_factory(ONPREM_DEVICE_MAX_MESSAGE_BYTES="65536")
    server.manage("migrate", "--noinput")
    output = server.manage("shell", "-c", SETUP).stdout
    token = next(line[6:] for line in output.splitlines() if line.startswith("TOKEN="))
    server.start()
    server.wait_until_up(path="/login/")
    client = LiveClient(server.url, server.cert)
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
    again = client.session.post(
        client.base + "/SmartTransport", data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert json.loads(json.loads(again.content)["payload"])["error_code"] == "REPLAY"

    oversized = client.session.post(
        client.base + "/SmartTransport", data=b"x" * 200_000, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert oversized.status_code == 413
    garbage = client.session.post(
        client.base + "/Transportgateway/services/DeviceRequestHandler",
        data=b"<smartLicense>",
        headers={"Content-Type": "application/xml"},
        timeout=30,
    )
    assert garbage.status_code == 400

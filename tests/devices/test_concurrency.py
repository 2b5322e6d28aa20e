"""Races on PostgreSQL: threads with their own database connections send real messages at once."""

import json
import threading

import pytest
from django.db import connection, connections
from django.test import Client

from licensing.models import DeviceNonce, LicenseUsage, ProductInstance
from licensing.services.compliance import virtual_account_positions
from licensing.services.tokens import create_token
from tests.devices.devicesim import Device, make_csr

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _need_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")


def _race(envelopes_by_device, path="/SmartTransport"):
    """Post every (device, envelope) at once from its own thread; returns the reply payloads."""
    start = threading.Barrier(len(envelopes_by_device))
    replies, lock = [], threading.Lock()

    def run(dev, envelope):
        try:
            client = Client()
            start.wait(timeout=30)
            response = client.post(path, data=json.dumps(envelope), content_type="application/json")
            reply = (
                json.loads(json.loads(response.content)["payload"])
                if response.status_code == 200
                else {"http": response.status_code}
            )
            with lock:
                replies.append((dev, reply))
        finally:
            connections.close_all()  # each thread has its own connection; close it

    threads = [threading.Thread(target=run, args=pair) for pair in envelopes_by_device]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(replies) == len(envelopes_by_device)
    return replies


def test_fifty_registrations_race_for_a_token_with_ten_uses(make_account):
    _need_postgres()
    account = make_account("Race")
    token = create_token(actor=None, virtual_account=account.virtual_accounts.get(), max_uses=10)
    devices = [Device(None, f"RACE-{i}") for i in range(50)]
    pairs = [(d, d.envelope("REGISTER", d.payload(id_token=token.token, csr=make_csr(d.key)))) for d in devices]
    replies = _race(pairs)
    statuses = [reply.get("error_code", reply.get("status")) for _, reply in replies]
    assert statuses.count("SUCCESS") == 10, statuses
    assert statuses.count("TOKEN_EXHAUSTED") == 40, statuses
    token.refresh_from_db()
    assert token.uses == 10
    assert ProductInstance.objects.count() == 10


def test_the_same_message_racing_itself_passes_once(make_account):
    _need_postgres()
    account = make_account("Replay")
    token = create_token(actor=None, virtual_account=account.virtual_accounts.get(), max_uses=50)
    dev = Device(None, "REPLAY-1")
    envelope = dev.envelope("REGISTER", dev.payload(id_token=token.token, csr=make_csr(dev.key)))
    replies = _race([(dev, envelope)] * 10)
    statuses = sorted(reply.get("error_code", reply.get("status")) for _, reply in replies)
    assert statuses == ["REPLAY"] * 9 + ["SUCCESS"]
    token.refresh_from_db()
    assert token.uses == 1
    assert DeviceNonce.objects.count() == 1


def test_parallel_authorize_keeps_balances_right(make_account):
    _need_postgres()
    from licensing.models import Entitlement, LicenseDefinition

    account = make_account("Balances")
    va = account.virtual_accounts.get()
    lic = LicenseDefinition.objects.create(name="Race License", entitlement_tag="regid.race")
    Entitlement.objects.create(virtual_account=va, license=lic, quantity=25, license_type="perpetual")
    token = create_token(actor=None, virtual_account=va)
    devices = []
    for i in range(20):
        dev = Device(Client(), f"AUTH-{i}")
        assert dev.register(token)["status"] == "SUCCESS"
        devices.append(dev)
    # every device asks for 2, twice at once (two messages of one device racing too)
    pairs = [
        (d, d.envelope("AUTHORIZE", d.payload(entitlements=[{"tag": "regid.race", "count": 2}])))
        for d in devices
        for _ in range(2)
    ]
    replies = _race(pairs)
    assert all(reply["status"] == "SUCCESS" for _, reply in replies), replies
    assert LicenseUsage.objects.count() == 20
    position = virtual_account_positions(va)[0]
    assert (position.purchased, position.in_use, position.available) == (25, 40, -15)
    # and all release at once
    pairs = [(d, d.envelope("AUTHORIZE", d.payload(entitlements=[]))) for d in devices]
    _race(pairs)
    assert LicenseUsage.objects.count() == 0
    assert virtual_account_positions(va)[0].in_use == 0


def test_first_slp_pushes_of_one_udi_with_two_keys_pin_one_key(make_account):
    _need_postgres()
    from urllib.parse import quote

    from core import pki
    from licensing.models import DeviceIdentity, RumReport

    account = make_account("Slp Race")
    path = f"/cslu/v1/pi/{quote(account.name, safe='')}-{account.pk}"
    devices = [Device(None, "SLP-RACE") for _ in range(8)]  # one UDI, eight different keys
    pairs = []
    for i, dev in enumerate(devices):
        report = {
            "header": {"type": "rum"},
            "payload": json.dumps({"report_id": f"r{i}", "usage": []}),
            "signature": {"signing_type": "ecdsa-p256-sha256", "key": "k", "value": "v"},
        }
        pairs.append(
            (dev, dev.envelope("REPORT_USAGE", dev.payload(csr=make_csr(dev.key), reports=[report]), key="csr"))
        )
    replies = _race(pairs, path=path)
    winners = [dev for dev, reply in replies if reply.get("status") == "SUCCESS"]
    assert len(winners) == 1, replies
    assert sorted(reply.get("error_code", "") for _, reply in replies).count("BAD_SIGNATURE") == 7
    identity = DeviceIdentity.objects.get()
    assert identity.pinned_key_sha256 == pki.public_key_fingerprint(winners[0].key.public_key())
    assert RumReport.objects.count() == 1

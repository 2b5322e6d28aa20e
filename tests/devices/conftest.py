"""Device-protocol fixtures: simulated devices (devicesim.Device), registered or not."""

import pytest

from tests.devices.devicesim import Device


@pytest.fixture
def device(client):
    """device() -> a new simulated product instance (each with its own key and serial number)."""

    def _device(serial_number=None, **kwargs):
        return Device(client, serial_number, **kwargs)

    return _device


@pytest.fixture
def registered(device, token):
    """registered() -> a Device registered to Acme's Default virtual account."""

    def _registered(serial_number=None, **token_options):
        dev = device(serial_number)
        reply = dev.register(token(**token_options))
        assert reply["status"] == "SUCCESS", reply
        return dev

    return _registered

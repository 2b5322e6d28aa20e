"""Alert hook fixtures: devices (tests/devices), API callers (tests/api), and real commits.

The hooks run on commit, so these tests use ``transactional_db``: each request commits as in
production and the alerts are read back by the next request.
"""

import pytest

from tests.api.conftest import _api_settings, admin_api, api_as, people, token_for, vas  # noqa: F401
from tests.devices.devicesim import Device
from tests.engine.conftest import use  # noqa: F401
from tests.sync.conftest import cssm, pending_account, registered_account, use_cssm  # noqa: F401


@pytest.fixture
def device(client):
    def _device(serial_number=None, **kwargs):
        return Device(client, serial_number, **kwargs)

    return _device


@pytest.fixture
def registered(device, token):
    def _registered(serial_number=None, va=None):
        dev = device(serial_number)
        reply = dev.register(token(va))
        assert reply["status"] == "SUCCESS", reply
        return dev

    return _registered

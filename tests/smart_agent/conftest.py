import pytest

from smart_agent import Agent, Identity
from tests.smart_agent.agent_fake_server import FakeServer


@pytest.fixture
def fake_server(tmp_path):
    server = FakeServer(tmp_path)
    yield server
    server.close()


@pytest.fixture
def identity():
    return Identity(
        udi_pid="C9300-24T",
        udi_serial_number="FOC2412X0AB",
        udi_vid="V02",
        mac_address="70:ca:9b:01:02:03",
        hostname="acc-sw-1",
        ip_address="10.1.2.3",
        product_name="Catalyst 9300 24-port",
        product_type="SWITCH",
    )


@pytest.fixture
def make_agent(fake_server, tmp_path, identity):
    def make(state_dir=None, **options):
        return Agent(fake_server.url, state_dir or tmp_path / "state", options.pop("identity", identity), **options)

    return make

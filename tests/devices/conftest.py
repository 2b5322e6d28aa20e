"""Device-protocol fixtures: simulated devices (devicesim.Device), accounts, tokens, licenses."""
import pytest
from devicesim import Device

@pytest.fixture
def device(client):
    """device() -> a new simulated product instance (each with its own key and serial number)."""

    def _device(serial_number=None, **kwargs):
        return Device(client, serial_number, **kwargs)

    return _device


@pytest.fixture
def acme(make_account):
    return make_account("Acme")


@pytest.fixture
def default_va(acme):
    return acme.virtual_accounts.get(is_default=True)


@pytest.fixture
def token(default_va):
    """token(va=None, **options) -> a registration token made by the token service."""
    from licensing.services.tokens import create_token

    def _token(va=None, **options):
        return create_token(actor=None, virtual_account=va or default_va, **options)

    return _token


@pytest.fixture
def license_def(db):
    from licensing.models import LicenseDefinition, LicenseHierarchy

    def _make(name, *, substitutes_for=(), tag=None, **fields):
        lic = LicenseDefinition.objects.create(name=name, entitlement_tag=tag or f"regid.test.{name}", **fields)
        for lower in substitutes_for:
            LicenseHierarchy.objects.create(higher=lic, lower=lower)
        return lic

    return _make


@pytest.fixture
def add_line(db):
    from licensing.models import Entitlement

    def _add(va, lic, quantity, license_type="perpetual"):
        return Entitlement.objects.create(virtual_account=va, license=lic, quantity=quantity, license_type=license_type)

    return _add


@pytest.fixture
def registered(device, token):
    """registered() -> a Device registered to Acme's Default virtual account."""

    def _registered(serial_number=None, **token_options):
        dev = device(serial_number)
        reply = dev.register(token(**token_options))
        assert reply["status"] == "SUCCESS", reply
        return dev

    return _registered

"""Licensing-engine fixtures: licenses, lines, product instances and their usage, made plainly.

The catalogue, license lines and device usage arrive through sync and the device protocol,
whose services come with later issues; until then these factories write the rows directly.
"""
import pytest
from django.utils import timezone


@pytest.fixture
def acme(make_account):
    return make_account("Acme")


@pytest.fixture
def default_va(acme):
    return acme.virtual_accounts.get(is_default=True)


@pytest.fixture
def new_va():
    from licensing.services.virtual_accounts import create_virtual_account

    def _new(account, name):
        return create_virtual_account(actor=None, account=account, name=name)

    return _new


@pytest.fixture
def license_def(db):
    """license_def("Network Advantage", substitutes_for=[essentials]) -> a LicenseDefinition."""
    from licensing.models import LicenseDefinition, LicenseHierarchy

    def _make(name, *, substitutes_for=(), tag=None, **fields):
        lic = LicenseDefinition.objects.create(name=name, entitlement_tag=tag or f"regid.test.{name}", **fields)
        for lower in substitutes_for:
            LicenseHierarchy.objects.create(higher=lic, lower=lower)
        return lic

    return _make


@pytest.fixture
def add_line(db):
    """add_line(va, license, 10) -> an Entitlement (perpetual unless told)."""
    from licensing.models import Entitlement

    def _add(va, lic, quantity, license_type="perpetual", start=None, end=None, **fields):
        return Entitlement.objects.create(virtual_account=va, license=lic, quantity=quantity,
                                          license_type=license_type, start_date=start, end_date=end, **fields)

    return _add


@pytest.fixture
def add_pi(db):
    """add_pi(va, "SN1", role="active", group="app-1") -> a ProductInstance."""
    from licensing.models import ProductInstance

    def _add(va, serial, *, pid="C9300-24T", role="none", group="", **fields):
        return ProductInstance.objects.create(
            virtual_account=va, udi_pid=pid, udi_serial_number=serial, hostname=serial.lower(),
            registered_at=timezone.now(), redundancy_role=role, redundancy_group=group, **fields,
        )

    return _add


@pytest.fixture
def use(db):
    """use(pi, license, 3) -> a LicenseUsage row."""
    from licensing.models import LicenseUsage

    def _use(pi, lic, count):
        return LicenseUsage.objects.create(product_instance=pi, license=lic, count=count)

    return _use


@pytest.fixture
def use_many(add_pi, use):
    """use_many(va, license, 6): usage of ``count`` spread over plain product instances."""
    serials = iter(range(1_000_000))

    def _use_many(va, lic, count, per_instance=2):
        while count > 0:
            n = min(per_instance, count)
            use(add_pi(va, f"SN{next(serials):07d}-{lic.pk}"), lic, n)
            count -= n

    return _use_many

"""Licensing-engine fixtures: usage of licenses by product instances (the rest: tests/factories.py)."""

import pytest


@pytest.fixture
def use(db):
    """use(pi, license, 3) -> a LicenseUsage row."""
    from licensing.models import LicenseUsage

    def _use(pi, lic, count):
        return LicenseUsage.objects.create(product_instance=pi, license=lic, count=count)

    return _use


@pytest.fixture
def use_many(add_pi, use):
    """use_many(va, license, 6): usage of ``count`` spread over product instances."""
    serials = iter(range(1_000_000))

    def _use_many(va, lic, count, per_instance=2):
        while count > 0:
            n = min(per_instance, count)
            use(add_pi(va, f"SN{next(serials):07d}-{lic.pk}"), lic, n)
            count -= n

    return _use_many

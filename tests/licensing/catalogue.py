"""The catalogue of licenses and devices the report, detail and usage-chart tests share.

``catalogue`` builds it (the ``data`` fixture of tests/licensing/conftest.py); ``line`` and
``devices`` add to it."""

import datetime

from django.utils import timezone

from licensing.models import (
    Entitlement,
    LicenseDefinition,
    LicenseHierarchy,
    LicenseUsage,
    ProductInstance,
)

TODAY = datetime.date.today()


def make_license(name, *, lower=(), **fields):
    lic = LicenseDefinition.objects.create(name=name, entitlement_tag=f"regid.rp.{name.replace(' ', '_')}", **fields)
    for child in lower:
        LicenseHierarchy.objects.create(higher=lic, lower=child)
    return lic


def line(va, lic, quantity, license_type="perpetual", **fields):
    return Entitlement.objects.create(
        virtual_account=va, license=lic, quantity=quantity, license_type=license_type, **fields
    )


def devices(va, n, uses=(), *, prefix="SN", product="Catalyst 9300", **fields):
    """n product instances in ``va``; ``uses`` = [(license, count), ...] for each of them."""
    now = timezone.now()
    ProductInstance.objects.bulk_create(
        [
            ProductInstance(
                account_id=va.account_id,
                virtual_account=va,
                udi_pid="C9300-24T",
                udi_serial_number=f"{prefix}{i:06d}",
                hostname=f"{prefix.lower()}-{i:06d}",
                product_name=product,
                registered_at=now,
                **fields,
            )
            for i in range(n)
        ]
    )
    instances = list(ProductInstance.objects.filter(virtual_account=va, udi_serial_number__startswith=prefix))
    LicenseUsage.objects.bulk_create(
        [LicenseUsage(product_instance=pi, license=lic, count=count) for pi in instances for lic, count in uses]
    )
    return instances


def catalogue(acme, new_va):
    """Default: Advantage 10 (4 used), Essentials 2 (5 used: borrows 3), a term line of Essentials
    that expired, a subscription line of Advantage. Sales: Premier 7, one device of another type."""
    default = acme.virtual_accounts.get(is_default=True)
    sales = new_va("Sales")
    essentials = make_license("Network Essentials")
    advantage = make_license("Network Advantage", lower=[essentials])
    premier = make_license("DNA Premier")
    line(default, advantage, 10)
    line(default, essentials, 2)
    line(
        default,
        essentials,
        4,
        "term",
        start_date=TODAY - datetime.timedelta(days=400),
        end_date=TODAY - datetime.timedelta(days=35),
        sku="C9K-NE-1Y",
    )
    line(
        default,
        advantage,
        6,
        "subscription",
        start_date=TODAY - datetime.timedelta(days=10),
        end_date=TODAY + datetime.timedelta(days=355),
        sku="C9K-NA-1Y",
        subscription_id="Sub100200",
        source="ea",
    )
    line(
        sales,
        premier,
        7,
        "term",
        start_date=TODAY - datetime.timedelta(days=5),
        end_date=TODAY + datetime.timedelta(days=360),
        sku="DNA-P-1Y",
    )
    devices(default, 2, [(advantage, 2)], prefix="ADV")
    devices(default, 5, [(essentials, 1)], prefix="ESS", product="Catalyst 9200")
    devices(sales, 1, [(premier, 3), (essentials, 1)], prefix="PRE", product="ISR 4331")
    return {"default": default, "sales": sales, "essentials": essentials, "advantage": advantage, "premier": premier}

"""Add License / Remove Licenses (licensing.services.license_lines): Manual lines, RBAC, the events,
the reservations a removal must leave covered, refusals that write nothing, and the synchronization
leaving Manual lines alone."""

import datetime

import pytest

from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Entitlement
from licensing.services import license_lines, reservations
from licensing.services.compliance import virtual_account_positions
from sync.services import synchronization

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()
Source = Entitlement.Source


def _snapshot():
    return (
        sorted(Entitlement.objects.values_list("pk", "quantity", "source", "virtual_account_id")),
        Event.objects.count(),
    )


def test_add_a_perpetual_line(default_va, license_def, sysadmin):
    lic = license_def("Network Advantage")
    line = license_lines.add_license(
        actor=sysadmin,
        virtual_account=default_va,
        license=lic,
        quantity=7,
        license_type="perpetual",
        sku="C9300-NA",
    )
    assert (line.quantity, line.source, line.sku, line.end_date) == (7, Source.MANUAL, "C9300-NA", None)
    assert next(p for p in virtual_account_positions(default_va) if p.license_id == lic.pk).purchased == 7
    event = Event.objects.get(event_type="license.added_manually")
    assert event.message == (
        "7 “Network Advantage” perpetual licenses were added to the Virtual Account “Default” by a System "
        "Administrator (Add License)."
    )
    assert event.virtual_account == default_va and event.user == sysadmin


def test_add_a_term_line_needs_its_dates_in_order(default_va, license_def, sysadmin):
    lic = license_def("DNA")
    start, end = TODAY, TODAY + datetime.timedelta(days=365)
    line = license_lines.add_license(
        actor=sysadmin,
        virtual_account=default_va,
        license=lic,
        quantity=2,
        license_type="term",
        start_date=start,
        end_date=end,
    )
    assert (line.license_type, line.start_date, line.end_date) == ("term", start, end)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": -3}, "quantity"),
        ({"quantity": "x"}, "quantity"),
        ({"license_type": "demo"}, "license_type"),
        ({"license_type": "term"}, "end_date"),  # no end date
        ({"license_type": "term", "start_date": TODAY, "end_date": TODAY - datetime.timedelta(days=1)}, "end_date"),
        ({"end_date": TODAY}, "end_date"),  # a perpetual line with an end date
        ({"sku": "x" * 101}, "sku"),
        ({"license": None}, "license"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(default_va, license_def, sysadmin, changes, field):
    lic = license_def("Network Advantage")
    before = _snapshot()
    arguments = {
        "actor": sysadmin,
        "virtual_account": default_va,
        "license": lic,
        "quantity": 3,
        "license_type": "perpetual",
        **changes,
    }
    with pytest.raises(ServiceError) as refused:
        license_lines.add_license(**arguments)
    assert refused.value.field == field
    assert _snapshot() == before


def test_only_a_system_admin_may_add_or_remove(default_va, license_def, sysadmin, sysop, make_user, grant_role):
    from accounts.roles import AccountRole

    lic = license_def("Network Advantage")
    account_admin = make_user("aa")
    grant_role(account_admin, default_va.account, AccountRole.ACCOUNT_ADMIN)
    line = license_lines.add_license(
        actor=sysadmin, virtual_account=default_va, license=lic, quantity=3, license_type="perpetual"
    )
    before = _snapshot()
    for who in (sysop, account_admin):
        with pytest.raises(NotAllowed):
            license_lines.add_license(
                actor=who, virtual_account=default_va, license=lic, quantity=3, license_type="perpetual"
            )
        with pytest.raises(NotAllowed):
            license_lines.remove_licenses(actor=who, line=line)
    assert _snapshot() == before


def test_remove_part_then_all_of_a_manual_line(default_va, license_def, sysadmin):
    lic = license_def("Network Advantage")
    line = license_lines.add_license(
        actor=sysadmin, virtual_account=default_va, license=lic, quantity=5, license_type="perpetual"
    )
    assert license_lines.remove_licenses(actor=sysadmin, line=line, quantity=2) == 2
    line.refresh_from_db()
    assert line.quantity == 3
    assert license_lines.remove_licenses(actor=sysadmin, line=line) == 3
    assert not Entitlement.objects.filter(pk=line.pk).exists()
    messages = list(Event.objects.filter(event_type="license.removed_manually").values_list("message", flat=True))
    assert sorted(messages) == [
        "2 “Network Advantage” perpetual licenses were removed from the Virtual Account “Default” by a System "
        "Administrator (Remove Licenses).",
        "3 “Network Advantage” perpetual licenses were removed from the Virtual Account “Default” by a System "
        "Administrator (Remove Licenses).",
    ]


def test_removing_more_than_the_line_holds_is_refused(default_va, license_def, sysadmin):
    lic = license_def("Network Advantage")
    line = license_lines.add_license(
        actor=sysadmin, virtual_account=default_va, license=lic, quantity=2, license_type="perpetual"
    )
    before = _snapshot()
    for quantity in (3, 0, "x"):
        with pytest.raises(ServiceError):
            license_lines.remove_licenses(actor=sysadmin, line=line, quantity=quantity)
    assert _snapshot() == before


def test_a_line_from_cssm_cannot_be_removed(default_va, license_def, add_line, sysadmin):
    line = add_line(default_va, license_def("Network Advantage"), 4, source=Source.ORDER)
    before = _snapshot()
    with pytest.raises(ServiceError, match="source Manual"):
        license_lines.remove_licenses(actor=sysadmin, line=line)
    assert _snapshot() == before


def test_a_removal_may_not_leave_reservations_uncovered(default_va, license_def, add_line, add_pi, sysadmin):
    lic = license_def("Network Advantage")
    add_line(default_va, lic, 2, source=Source.ORDER)
    manual = license_lines.add_license(
        actor=sysadmin, virtual_account=default_va, license=lic, quantity=3, license_type="perpetual"
    )
    pi = add_pi(default_va, "SN1")
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=4)
    before = _snapshot()
    with pytest.raises(ServiceError, match="4 “Network Advantage” licenses .* are reserved") as refused:
        license_lines.remove_licenses(actor=sysadmin, line=manual, quantity=2)
    assert refused.value.field == "quantity"
    assert _snapshot() == before
    # 5 purchased, 4 reserved: one may go
    assert license_lines.remove_licenses(actor=sysadmin, line=manual, quantity=1) == 1


def test_the_synchronization_leaves_manual_lines_alone(default_va, license_def, add_line, sysadmin):
    lic = license_def("Network Advantage")
    from_cssm = add_line(default_va, lic, 4, source=Source.ORDER)
    manual = license_lines.add_license(
        actor=sysadmin, virtual_account=default_va, license=lic, quantity=3, license_type="perpetual"
    )
    # CSSM now holds nothing: its line goes, the Manual one stays as it is.
    synchronization.apply_entitlements(default_va.account, [])
    assert not Entitlement.objects.filter(pk=from_cssm.pk).exists()
    manual.refresh_from_db()
    assert manual.quantity == 3
    # CSSM sends 4 of the same license, type and SKU: a line of its own is added, the Manual one is
    # neither counted against it nor topped up.
    answer = {
        "line_id": "x",
        "tag": lic.entitlement_tag,
        "name": lic.name,
        "description": "",
        "product_family": "",
        "license_type": "perpetual",
        "billing_type": "prepaid",
        "quantity": 4,
        "start_date": None,
        "end_date": None,
        "subscription_id": "",
        "sku": "",
        "source": "order",
        "export_restricted": False,
        "parents": [],
    }
    synchronization.apply_entitlements(default_va.account, [answer])
    synchronization.apply_entitlements(default_va.account, [answer])
    lines = Entitlement.objects.filter(virtual_account=default_va, license=lic)
    assert sorted(lines.values_list("source", "quantity")) == [("manual", 3), ("order", 4)]

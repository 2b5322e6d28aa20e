"""Product instances: transfer (licenses stay, export-restricted ones follow), remove, the renewal ladder."""

import datetime

import pytest

from accounts.roles import AccountRole
from accounts.services.grants import set_account_role, set_virtual_account_role
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Entitlement, LicenseUsage, ProductInstance
from licensing.services.compliance import virtual_account_positions
from licensing.services.product_instances import (
    FAILED_TO_CONNECT,
    FAILED_TO_RENEW,
    OK,
    remove_product_instance,
    renewal_state,
    transfer_product_instance,
)

D = datetime.date
TODAY = D(2025, 3, 1)
UTC = datetime.timezone.utc


@pytest.fixture
def lab(acme, new_va):
    return new_va("Lab")


def _position(va, lic):
    for p in virtual_account_positions(va, as_of=TODAY):
        if p.license_id == lic.pk:
            return p.purchased, p.in_use, p.available
    return 0, 0, 0


def test_transfer_moves_usage_not_purchased_and_warns_of_shortage(default_va, lab, license_def, add_line, add_pi, use):
    dna = license_def("DNA Advantage")
    add_line(default_va, dna, 5)
    pi = add_pi(default_va, "SN1")
    use(pi, dna, 3)
    result = transfer_product_instance(actor=None, pi=pi, to_va=lab, as_of=TODAY)
    pi.refresh_from_db()
    assert pi.virtual_account == lab
    assert _position(default_va, dna) == (5, 0, 5)  # purchased stays behind
    assert _position(lab, dna) == (0, 3, -3)  # the destination goes out of compliance
    assert result.shortages == ["DNA Advantage"] and result.restricted_moved == []
    assert list(
        Event.objects.filter(event_type__startswith="pi.transferred")
        .order_by("pk")
        .values_list("virtual_account__name", "message")
    ) == [
        (
            "Default",
            "The product instance “sn1” was transferred from the Virtual Account “Default” to the "
            "Virtual Account “Lab”.",
        ),
        (
            "Lab",
            "The product instance “sn1” was transferred to the Virtual Account “Lab” from the Virtual "
            "Account “Default”.",
        ),
    ]


def test_export_restricted_purchased_quantity_follows_the_instance(default_va, lab, license_def, add_line, add_pi, use):
    hsec = license_def("HSEC", export_restricted=True)
    plain = license_def("Plain")
    add_line(default_va, hsec, 10)
    add_line(default_va, plain, 10)
    pi = add_pi(default_va, "SN1")
    use(pi, hsec, 4)
    use(pi, plain, 2)
    result = transfer_product_instance(actor=None, pi=pi, to_va=lab, as_of=TODAY)
    assert result.restricted_moved == [("HSEC", 4)]
    assert _position(lab, hsec) == (4, 4, 0)  # "the destination VA will never go Out of Compliance"
    assert _position(default_va, hsec) == (6, 0, 6)
    assert _position(lab, plain) == (0, 2, -2)
    assert result.shortages == ["Plain"]
    assert Event.objects.filter(event_type="license.transferred", virtual_account=default_va).get().message == (
        "4 “HSEC” perpetual licenses were transferred from the Virtual Account “Default” to the Virtual Account “Lab”."
    )


def test_transfer_refusals_write_nothing(acme, default_va, lab, license_def, add_pi, make_account, make_user):
    pi = add_pi(default_va, "SN1")
    other = make_account("Other").virtual_accounts.get()
    with pytest.raises(ServiceError, match="its own local account"):
        transfer_product_instance(actor=None, pi=pi, to_va=other)
    with pytest.raises(ServiceError, match="already in this virtual account"):
        transfer_product_instance(actor=None, pi=pi, to_va=default_va)
    vic = make_user("vic")
    set_virtual_account_role(actor=None, virtual_account=default_va, role=AccountRole.VA_ADMIN, user=vic)
    with pytest.raises(NotAllowed):
        transfer_product_instance(actor=vic, pi=pi, to_va=lab)  # no role on the destination
    pi.refresh_from_db()
    assert pi.virtual_account == default_va
    assert not Event.objects.filter(event_type__startswith="pi.").exists()


def test_remove_releases_usage_and_records_the_guide_text(default_va, license_def, add_line, add_pi, use):
    dna = license_def("DNA Advantage")
    add_line(default_va, dna, 2)
    pi = add_pi(default_va, "SN1")
    use(pi, dna, 3)
    assert _position(default_va, dna) == (2, 3, -1)
    remove_product_instance(actor=None, pi=pi)
    assert not ProductInstance.objects.exists() and not LicenseUsage.objects.exists()
    assert _position(default_va, dna) == (2, 0, 2)
    event = Event.objects.get(event_type="pi.removed")
    assert event.message == "The product instance “sn1” was removed from Smart Software Manager."
    assert event.virtual_account == default_va


def test_a_va_user_may_not_remove_but_a_va_admin_may(acme, default_va, add_pi, make_user):
    pi = add_pi(default_va, "SN1")
    vic, val = make_user("vic"), make_user("val")
    set_virtual_account_role(actor=None, virtual_account=default_va, role=AccountRole.VA_USER, user=vic)
    set_virtual_account_role(actor=None, virtual_account=default_va, role=AccountRole.VA_ADMIN, user=val)
    with pytest.raises(NotAllowed):
        remove_product_instance(actor=vic, pi=pi)
    assert ProductInstance.objects.filter(pk=pi.pk).exists()
    assert not Event.objects.filter(event_type="pi.removed").exists()
    remove_product_instance(actor=val, pi=pi)
    assert not ProductInstance.objects.filter(pk=pi.pk).exists()
    assert Event.objects.get(event_type="pi.removed").user == val


def test_an_account_user_may_remove(acme, default_va, add_pi, make_user):
    pi = add_pi(default_va, "SN1")
    au = make_user("au")
    set_account_role(actor=None, account=acme, role=AccountRole.ACCOUNT_USER, user=au)
    remove_product_instance(actor=au, pi=pi)
    assert not ProductInstance.objects.exists()


@pytest.mark.parametrize(
    "days, state, stage, days_left",
    [
        (0, OK, 0, 0),
        (29, OK, 0, 0),
        (30, FAILED_TO_CONNECT, 30, 60),
        (59, FAILED_TO_CONNECT, 30, 31),
        (60, FAILED_TO_CONNECT, 60, 30),
        (88, FAILED_TO_CONNECT, 60, 2),  # the guide's "within the next 2 days"
        (89, FAILED_TO_CONNECT, 60, 1),
        (90, FAILED_TO_RENEW, 90, 0),
        (400, FAILED_TO_RENEW, 90, 0),
    ],
)
def test_renewal_ladder(days, state, stage, days_left):
    last = datetime.datetime(2025, 1, 1, 12, tzinfo=UTC)
    pi = ProductInstance(registered_at=last - datetime.timedelta(days=5), last_contact_at=last)
    result = renewal_state(pi, last + datetime.timedelta(days=days, hours=1))
    assert (result.state, result.stage, result.days_left) == (state, stage, days_left)
    assert result.deadline == last + datetime.timedelta(days=90)


def test_renewal_ladder_counts_from_registration_without_contact():
    registered = datetime.datetime(2025, 1, 1, tzinfo=UTC)
    pi = ProductInstance(registered_at=registered, last_contact_at=None)
    assert renewal_state(pi, registered + datetime.timedelta(days=29, hours=23)).state == OK
    assert renewal_state(pi, registered + datetime.timedelta(days=30)).state == FAILED_TO_CONNECT


def test_whole_line_moves_keep_their_identity(default_va, lab, license_def, add_line, add_pi, use):
    hsec = license_def("HSEC", export_restricted=True)
    line = add_line(default_va, hsec, 3)
    pi = add_pi(default_va, "SN1")
    use(pi, hsec, 3)
    transfer_product_instance(actor=None, pi=pi, to_va=lab, as_of=TODAY)
    line.refresh_from_db()
    assert line.virtual_account == lab and Entitlement.objects.count() == 1

"""Specific License Reservation through the service layer: reserve, update, return; the balance,
the transfer rules, the events and the two reserved-license alerts."""

import datetime

import pytest
from django.utils import timezone

from accounts.roles import AccountRole
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Alert, Entitlement, LicenseReservation
from licensing.services import alerts as alert_service
from licensing.services import reservations
from licensing.services.compliance import virtual_account_positions
from licensing.services.product_instances import remove_product_instance, transfer_product_instance
from licensing.services.transfers import transfer_licenses

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


def position(va, lic):
    return next((p for p in virtual_account_positions(va) if p.license_id == lic.pk), None)


@pytest.fixture
def pool(default_va, license_def, add_line, add_pi):
    lic = license_def("Network Advantage")
    add_line(default_va, lic, 5)  # perpetual
    add_line(
        default_va, lic, 3, "term", start=TODAY - datetime.timedelta(days=10), end=TODAY + datetime.timedelta(days=300)
    )
    pi = add_pi(default_va, "SN1", uses={lic: 2})
    return default_va, lic, pi


def test_reserving_takes_licenses_out_of_available(pool, sysadmin):
    va, lic, pi = pool
    assert position(va, lic).available == 6
    terms = reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=6)
    assert terms == [(None, 5), (TODAY + datetime.timedelta(days=300), 1)]  # perpetual first, then the term
    p = position(va, lic)
    assert (p.purchased, p.in_use, p.reserved, p.available) == (8, 2, 6, 0)
    event = Event.objects.get(event_type="reservation.reserved")
    expiry = (TODAY + datetime.timedelta(days=300)).strftime("%d-%b-%Y")
    assert event.message == (
        f"The following licenses were reserved on product instance “sn1” in Virtual Account “Default”: "
        f"6 “Network Advantage” License(s) (5 perpetual, 1 expiring {expiry})."
    )
    assert event.virtual_account == va and event.user == sysadmin


def test_cannot_reserve_more_than_available_and_nothing_is_written(pool, sysadmin):
    va, lic, pi = pool
    with pytest.raises(ServiceError) as refused:
        reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=7)
    assert refused.value.field == "quantity"
    assert "Only 6" in refused.value.message
    assert not LicenseReservation.objects.exists()
    assert not Event.objects.filter(event_type__startswith="reservation.").exists()


@pytest.mark.parametrize("quantity", [0, -1, "x", "", None, True, 2.5])
def test_bad_quantities_are_refused(pool, sysadmin, quantity):
    _va, lic, pi = pool
    with pytest.raises(ServiceError):
        reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=quantity)
    assert not LicenseReservation.objects.exists()


def test_a_second_reservation_of_the_same_license_is_an_update(pool, sysadmin):
    _va, lic, pi = pool
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=1)
    with pytest.raises(ServiceError, match="update that reservation"):
        reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=1)


def test_update_and_return(pool, sysadmin):
    va, lic, pi = pool
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=2)
    reservations.update_reservation(actor=sysadmin, product_instance=pi, license=lic, quantity=6)
    assert position(va, lic).reserved == 6
    with pytest.raises(ServiceError, match="Only 6"):
        reservations.update_reservation(actor=sysadmin, product_instance=pi, license=lic, quantity=7)
    reservations.update_reservation(actor=sysadmin, product_instance=pi, license=lic, quantity=1)
    assert position(va, lic).reserved == 1
    assert Event.objects.filter(event_type="reservation.updated").count() == 2
    assert reservations.return_reservation(actor=sysadmin, product_instance=pi, license=lic) == 1
    assert position(va, lic).reserved == 0 and position(va, lic).available == 6
    assert (
        "were returned to the Virtual Account “Default”" in Event.objects.get(event_type="reservation.returned").message
    )
    with pytest.raises(ServiceError, match="no “Network Advantage” licenses reserved"):
        reservations.return_reservation(actor=sysadmin, product_instance=pi, license=lic)


def test_other_instances_reservations_are_not_double_counted(pool, add_pi, sysadmin):
    va, lic, pi = pool
    other = add_pi(va, "SN2")
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=4)
    with pytest.raises(ServiceError, match="Only 2"):
        reservations.reserve_licenses(actor=sysadmin, product_instance=other, license=lic, quantity=3)
    reservations.reserve_licenses(actor=sysadmin, product_instance=other, license=lic, quantity=2)
    assert position(va, lic).available == 0
    assert reservations.reserved_by_instance([pi, other]) == {pi.pk: 4, other.pk: 2}


def test_rbac_is_checked_in_the_service(pool, make_user, grant_role, new_va):
    va, lic, pi = pool
    sales = new_va("Sales")
    outsider = make_user("outsider")
    grant_role(outsider, sales, AccountRole.VA_ADMIN)
    with pytest.raises(NotAllowed):
        reservations.reserve_licenses(actor=outsider, product_instance=pi, license=lic, quantity=1)
    insider = make_user("insider")
    grant_role(insider, va, AccountRole.VA_USER)
    reservations.reserve_licenses(actor=insider, product_instance=pi, license=lic, quantity=1)
    with pytest.raises(NotAllowed):
        reservations.return_reservation(actor=outsider, product_instance=pi, license=lic)


def test_reserved_licenses_cannot_be_transferred(pool, new_va, sysadmin):
    va, lic, pi = pool
    sales = new_va("Sales")
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=6)
    # 8 purchased, 6 reserved: at most 2 may leave (the in-use 2 then make the VA short, as today)
    with pytest.raises(ServiceError) as refused:
        transfer_licenses(actor=sysadmin, from_va=va, to_va=sales, license=lic, quantity=3)
    assert "6 are reserved for product instances" in refused.value.message
    transfer_licenses(actor=sysadmin, from_va=va, to_va=sales, license=lic, quantity=2)
    assert position(va, lic).purchased == 6 and position(va, lic).reserved == 6


def test_reserved_licenses_move_with_their_product_instance(pool, new_va, sysadmin):
    va, lic, pi = pool
    sales = new_va("Sales")
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=6)
    transfer_product_instance(actor=sysadmin, pi=pi, to_va=sales)
    src, dst = position(va, lic), position(sales, lic)
    assert (src.purchased, src.reserved, src.in_use, src.available) == (2, 0, 0, 2)
    assert (dst.purchased, dst.reserved, dst.in_use) == (6, 6, 2)
    assert dst.available == -2  # the instance's usage moved too, its purchased licenses did not (as before)
    assert Event.objects.filter(event_type="reservation.transferred", virtual_account=va).exists()
    assert Event.objects.filter(event_type="reservation.transferred_in", virtual_account=sales).exists()


def test_removing_the_instance_returns_its_reservation(pool, sysadmin):
    va, lic, pi = pool
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=3)
    remove_product_instance(actor=sysadmin, pi=pi)
    assert not LicenseReservation.objects.exists()
    assert position(va, lic).available == 8
    assert Event.objects.filter(event_type="reservation.returned").count() == 1


def test_an_expired_reserved_term_reduces_available_and_raises_its_alert(
    default_va, license_def, add_line, add_pi, sysadmin
):
    va = default_va
    lic = license_def("DNA Advantage")
    end = TODAY + datetime.timedelta(days=5)
    add_line(va, lic, 4, "term", start=TODAY - datetime.timedelta(days=30), end=end)
    add_line(va, lic, 10, "term", start=TODAY - datetime.timedelta(days=30), end=TODAY + datetime.timedelta(days=400))
    pi = add_pi(va, "SN9")
    # the longest term goes first, so take a reservation that needs the short one too
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=12)
    later = end + datetime.timedelta(days=1)
    p = next(p for p in virtual_account_positions(va, as_of=later) if p.license_id == lic.pk)
    assert (p.purchased, p.reserved, p.available) == (10, 12, -2)  # the expired reservation still holds 2

    opened, _cleared = alert_service.recompute_alerts(va.account, as_of=later)
    expired = [a for a in opened if a.alert_type == Alert.Type.RESERVED_EXPIRED]
    assert len(expired) == 1
    alert = expired[0]
    assert alert.severity == Alert.Severity.MINOR and alert.product_instance == pi and alert.license == lic
    assert alert.message == (
        f"Reserved License Expired: a term license in the reservation of product instance “sn9” in the Virtual "
        f"Account “Default” has expired: 2 “DNA Advantage” License(s) expired on {end.isoformat()}."
    )
    assert alert_service.alert_actions(alert) == (alert_service.UPDATE_RESERVATION, alert_service.DISMISS)
    assert Event.objects.filter(event_type="reservation.expired").count() == 1
    # running again opens nothing new
    assert not [
        a for a in alert_service.recompute_alerts(va.account, as_of=later)[0] if a.alert_type == alert.alert_type
    ]

    # "Update Reserved Licenses" takes valid terms only: the alert clears
    reservations.update_reservation(actor=sysadmin, product_instance=pi, license=lic, quantity=10, as_of=later)
    _opened, cleared = alert_service.recompute_alerts(va.account, as_of=later)
    assert alert.pk in [a.pk for a in cleared]


def test_returned_to_smart_account(pool, sysadmin):
    va, lic, pi = pool
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=3)
    now = timezone.now()
    alert = reservations.return_to_smart_account(pi, now=now)
    assert alert.alert_type == Alert.Type.RESERVED_RETURNED and alert.status == Alert.Status.OPEN
    assert alert.message == (
        "The product instance “sn1”, which had licenses reserved, has been moved to another Smart Account. The "
        "licenses it was reserving will be returned to the original virtual account “Default”. Licenses reserved: "
        "“Network Advantage”."
    )
    assert position(va, lic).reserved == 0
    assert Event.objects.filter(event_type="reservation.returned_to_smart_account").count() == 1
    # the recompute leaves it alone (its cause is CSSM's), and a second return changes nothing
    alert_service.recompute_alerts(va.account)
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN
    assert reservations.return_to_smart_account(pi, now=now) is None
    assert Event.objects.filter(event_type="reservation.returned_to_smart_account").count() == 1
    alert_service.dismiss_alert(actor=sysadmin, alert=alert)


def test_expired_reservation_lines_do_not_block_a_term_less_line(default_va, license_def, add_line, add_pi, sysadmin):
    """Entitlement lines stay untouched by reserving: only reservation rows are written."""
    lic = license_def("Lines")
    add_line(default_va, lic, 2)
    pi = add_pi(default_va, "SN3")
    reservations.reserve_licenses(actor=sysadmin, product_instance=pi, license=lic, quantity=2)
    assert list(Entitlement.objects.values_list("quantity", flat=True)) == [2]


# --- The pages ------------------------------------------------------------------------------------


def page_url(acme, pi, rest=""):
    return f"/accounts/{acme.pk}/inventory/product-instances/{pi.pk}/reservations/{rest}"


def test_reserve_update_and_return_from_the_page(acme, pool, acme_user, browser):
    va, lic, pi = pool
    client = browser(acme_user)
    page = client.get(page_url(acme, pi)).content.decode()
    assert "Network Advantage (6 available)" in page and "No licenses are reserved" in page

    response = client.post(page_url(acme, pi), {"license": lic.pk, "quantity": "7"})
    assert response.status_code == 200
    assert "Only 6 “Network Advantage” licenses are available" in response.content.decode()
    assert not LicenseReservation.objects.exists()

    response = client.post(page_url(acme, pi), {"license": lic.pk, "quantity": "4"})
    assert response.status_code == 302
    assert position(va, lic).reserved == 4
    tab = client.get(f"/accounts/{acme.pk}/inventory/product-instances/", {"va": va.pk}).content.decode()
    assert f'<a href="{page_url(acme, pi)}">4</a>' in tab and "Reserve Licenses" in tab
    licenses = client.get(f"/accounts/{acme.pk}/inventory/licenses/", {"va": va.pk}).content.decode()
    assert "(4 Reserved)" in licenses
    detail = client.get(f"/accounts/{acme.pk}/inventory/product-instances/{pi.pk}/").content.decode()
    assert "Reserved Licenses" in detail and "4 perpetual" in detail

    assert client.post(page_url(acme, pi, f"{lic.pk}/update/"), {"quantity": "x"}).status_code == 302
    assert position(va, lic).reserved == 4
    client.post(page_url(acme, pi, f"{lic.pk}/update/"), {"quantity": "2"})
    assert position(va, lic).reserved == 2
    client.post(page_url(acme, pi, f"{lic.pk}/return/"))
    assert position(va, lic).reserved == 0
    assert client.post(page_url(acme, pi, f"{lic.pk}/return/")).status_code == 404


def test_another_virtual_accounts_admin_cannot_reach_the_page(acme, pool, make_user, grant_role, browser, new_va):
    _va, lic, pi = pool
    other = make_user("other")
    grant_role(other, new_va("Sales"), AccountRole.VA_ADMIN)
    assert browser(other).get(page_url(acme, pi)).status_code == 404  # not their virtual account
    assert browser(other).post(page_url(acme, pi), {"license": lic.pk, "quantity": 1}).status_code == 404
    assert not LicenseReservation.objects.exists()


def test_reserving_needs_csrf(acme, pool, acme_user):
    from django.test import Client

    _va, lic, pi = pool
    client = Client(enforce_csrf_checks=True)
    client.force_login(acme_user)
    assert client.post(page_url(acme, pi), {"license": lic.pk, "quantity": 1}).status_code == 403
    assert not LicenseReservation.objects.exists()


def test_the_alerts_tab_offers_update_reserved_licenses(
    acme, default_va, license_def, add_line, add_pi, acme_user, browser
):
    lic = license_def("Short Term")
    end = TODAY - datetime.timedelta(days=2)
    line = add_line(
        default_va, lic, 3, "term", start=TODAY - datetime.timedelta(days=30), end=TODAY + datetime.timedelta(days=5)
    )
    pi = add_pi(default_va, "SN7")
    reservations.reserve_licenses(actor=None, product_instance=pi, license=lic, quantity=2)
    Entitlement.objects.filter(pk=line.pk).update(end_date=end)  # the term has since ended
    LicenseReservation.objects.update(end_date=end)
    alert_service.recompute_alerts(acme)
    page = browser(acme_user).get(f"/accounts/{acme.pk}/alerts/").content.decode()
    assert "Update Reserved Licenses" in page
    assert f"{page_url(acme, pi)}#reservation-{lic.pk}" in page
    reservations_page = browser(acme_user).get(page_url(acme, pi)).content.decode()
    assert "Reserved License Expired" in reservations_page

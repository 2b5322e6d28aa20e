"""Port licenses (licensing/services/ports.py) and its page (Inventory > Licenses > Port): a
portable license's available licenses become licenses of a target CSSM names, with the same
terms; bad input is refused and changes nothing."""

import datetime

import pytest
from django.urls import reverse

from accounts.roles import AccountRole, SystemRole
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Entitlement, LicenseDefinition, PortableLicense, PortCompletion
from licensing.services import ports, reservations

pytestmark = pytest.mark.django_db

END = datetime.date(2099, 12, 31)


@pytest.fixture
def licenses(acme):
    dna = LicenseDefinition.objects.create(name="DNA Advantage On-Prem", entitlement_tag="regid.test.dna.onprem")
    cloud = LicenseDefinition.objects.create(name="DNA Advantage Cloud", entitlement_tag="regid.test.dna.cloud")
    other = LicenseDefinition.objects.create(name="Unrelated", entitlement_tag="regid.test.unrelated")
    PortableLicense.objects.create(account=acme, license=dna, target=cloud)
    return dna, cloud, other


def line(va, license, quantity, **fields):
    fields.setdefault("license_type", Entitlement.LicenseType.PERPETUAL)
    return Entitlement.objects.create(virtual_account=va, license=license, quantity=quantity, **fields)


def ledger(va, license):
    return sorted(
        Entitlement.objects.filter(virtual_account=va, license=license).values_list(
            "quantity", "license_type", "end_date", "subscription_id", "sku"
        ),
        key=str,
    )


def test_port_converts_available_licenses_with_their_terms(default_va, licenses, acme_admin):
    dna, cloud, _other = licenses
    line(default_va, dna, 3, sku="DNA-P")
    line(default_va, dna, 4, license_type="term", end_date=END, subscription_id="SUB-9", sku="DNA-T")
    result = ports.port_licenses(actor=acme_admin, virtual_account=default_va, license=dna, target=cloud, quantity=5)
    assert result.quantity == 5 and result.target == cloud
    # The lines that end first go first: the 4 term licenses, then 1 perpetual one.
    assert ledger(default_va, dna) == [(2, "perpetual", None, "", "DNA-P")]
    assert ledger(default_va, cloud) == sorted(
        [(4, "term", END, "SUB-9", "DNA-T"), (1, "perpetual", None, "", "DNA-P")], key=str
    )
    assert all(made.ported_from == dna for made in result.lines)
    completion = PortCompletion.objects.get()
    assert completion.target_tag == cloud.entitlement_tag and completion.acknowledged_at is None
    assert sorted(p["quantity"] for p in completion.ported) == [1, 4]
    assert {p["tag"] for p in completion.ported} == {dna.entitlement_tag}
    event = Event.objects.get(event_type="license.ported")
    assert "5 “DNA Advantage On-Prem” licenses were ported to “DNA Advantage Cloud”" in event.message
    assert event.title == "Licenses ported"


def test_preview_shows_before_and_after_and_writes_nothing(default_va, licenses, acme_admin):
    dna, cloud, _other = licenses
    line(default_va, dna, 6)
    line(default_va, cloud, 1)
    preview = ports.preview_port(actor=acme_admin, virtual_account=default_va, license=dna, target=cloud, quantity=2)
    assert (preview.from_before.purchased, preview.from_after.purchased) == (6, 4)
    assert (preview.to_before.purchased, preview.to_after.purchased) == (1, 3)
    assert (preview.to_before.available, preview.to_after.available) == (1, 3)
    assert ledger(default_va, dna) == [(6, "perpetual", None, "", "")] and not PortCompletion.objects.exists()


@pytest.mark.parametrize(
    "target, quantity, message",
    [
        ("other", 1, "cannot be ported to this license"),
        ("cloud", 7, "Only 6"),
        ("cloud", 0, "Quantity"),
        ("cloud", "x", "Quantity"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(default_va, licenses, acme_admin, target, quantity, message):
    dna, cloud, other = licenses
    line(default_va, dna, 6)
    with pytest.raises(ServiceError, match=message):
        ports.port_licenses(
            actor=acme_admin,
            virtual_account=default_va,
            license=dna,
            target={"cloud": cloud, "other": other}[target],
            quantity=quantity,
        )
    assert ledger(default_va, dna) == [(6, "perpetual", None, "", "")]
    assert not Entitlement.objects.filter(license=cloud).exists() and not PortCompletion.objects.exists()
    assert not Event.objects.filter(event_type="license.ported").exists()


def test_a_license_that_is_not_portable_is_refused(default_va, licenses, acme_admin):
    dna, cloud, other = licenses
    line(default_va, other, 3)
    with pytest.raises(ServiceError, match="“Unrelated” licenses are not portable"):
        ports.port_licenses(actor=acme_admin, virtual_account=default_va, license=other, target=cloud, quantity=1)


def test_in_use_and_reserved_licenses_are_not_portable(default_va, licenses, acme_admin, add_pi):
    dna, cloud, _other = licenses
    line(default_va, dna, 6)
    add_pi(default_va, "SN-USE", uses={dna: 2})
    reservations.reserve_licenses(actor=None, product_instance=add_pi(default_va, "SN-RES"), license=dna, quantity=1)
    limits = ports.port_limits(virtual_account=default_va, license=dna)
    assert (limits.in_use, limits.reserved, limits.portable) == (2, 1, 3)
    with pytest.raises(ServiceError, match=r"Only 3 .* \(2 in use, 1 reserved for product instances\)"):
        ports.port_licenses(actor=acme_admin, virtual_account=default_va, license=dna, target=cloud, quantity=4)
    ports.port_licenses(actor=acme_admin, virtual_account=default_va, license=dna, target=cloud, quantity=3)
    assert ledger(default_va, dna) == [(3, "perpetual", None, "", "")]


def test_copies_and_manual_lines_are_not_ported(default_va, licenses, acme_admin):
    dna, cloud, _other = licenses
    line(default_va, dna, 2, source=Entitlement.Source.MANUAL)
    line(default_va, dna, 1)
    assert ports.port_limits(virtual_account=default_va, license=dna).portable == 1
    with pytest.raises(ServiceError, match="Only 1"):
        ports.port_licenses(actor=acme_admin, virtual_account=default_va, license=dna, target=cloud, quantity=2)


def test_without_a_role_in_the_virtual_account_it_is_not_allowed(default_va, new_va, licenses, make_user, grant_role):
    dna, cloud, _other = licenses
    line(default_va, dna, 6)
    outsider = make_user("carol", SystemRole.USER)
    grant_role(outsider, new_va("Sales"), AccountRole.VA_USER)
    with pytest.raises(NotAllowed):
        ports.port_licenses(actor=outsider, virtual_account=default_va, license=dna, target=cloud, quantity=1)
    assert ledger(default_va, dna) == [(6, "perpetual", None, "", "")]


# --- the page --------------------------------------------------------------------------------------


def test_licenses_tab_shows_port_for_a_portable_license_only(client, acme, default_va, licenses, acme_admin):
    dna, cloud, other = licenses
    line(default_va, dna, 6)
    line(default_va, other, 2)
    client.force_login(acme_admin)
    page = client.get(reverse("licensing_inventory_licenses", args=[acme.pk]), {"va": default_va.pk})
    text = page.content.decode()
    assert text.count('class="inv-port"') == 1
    assert reverse("licensing_license_port", args=[acme.pk, default_va.pk, dna.pk]) in text
    assert reverse("licensing_license_port", args=[acme.pk, default_va.pk, other.pk]) not in text


def test_port_page_preview_then_port(client, acme, default_va, licenses, acme_admin, django_assert_max_num_queries):
    dna, cloud, _other = licenses
    line(default_va, dna, 6)
    client.force_login(acme_admin)
    url = reverse("licensing_license_port", args=[acme.pk, default_va.pk, dna.pk])
    with django_assert_max_num_queries(20):
        page = client.get(url)
    text = page.content.decode()
    assert page.status_code == 200 and "DNA Advantage Cloud" in text and 'data-figure="portable">6<' in text
    page = client.post(url, {"target": cloud.pk, "quantity": "9", "preview": "1"})
    assert page.status_code == 200 and "Only 6" in page.content.decode() and "form-invalid" in page.content.decode()
    page = client.post(url, {"target": cloud.pk, "quantity": "2", "preview": "1"})
    text = page.content.decode()
    assert "Preview: 2 licenses" in text and "6 → 4" in text and "0 → 2" in text
    assert not PortCompletion.objects.exists()
    page = client.post(url, {"target": cloud.pk, "quantity": "2"})
    assert page.status_code == 302
    assert ledger(default_va, cloud) == [(2, "perpetual", None, "", "")]


def test_port_page_of_a_license_that_is_not_portable_is_404(client, acme, default_va, licenses, acme_admin):
    _dna, _cloud, other = licenses
    client.force_login(acme_admin)
    page = client.get(reverse("licensing_license_port", args=[acme.pk, default_va.pk, other.pk]))
    assert page.status_code == 404


def test_port_page_is_refused_without_a_role_there(client, acme, default_va, new_va, licenses, make_user, grant_role):
    dna, _cloud, _other = licenses
    outsider = make_user("carol", SystemRole.USER)
    grant_role(outsider, new_va("Sales"), AccountRole.VA_USER)
    client.force_login(outsider)
    page = client.get(reverse("licensing_license_port", args=[acme.pk, default_va.pk, dna.pk]))
    assert page.status_code in (403, 404)


def test_license_transactions_say_ported_from(client, acme, default_va, licenses, acme_admin):
    dna, cloud, _other = licenses
    line(default_va, dna, 6)
    ports.port_licenses(actor=acme_admin, virtual_account=default_va, license=dna, target=cloud, quantity=2)
    client.force_login(acme_admin)
    page = client.get(reverse("licensing_activity", args=[acme.pk]))
    assert "Ported from “DNA Advantage On-Prem”" in page.content.decode()

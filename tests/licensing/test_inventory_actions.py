"""Inventory actions: Transfer and Remove of product instances, Transfer (with Preview) of licenses."""

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import AccountRole, SystemRole
from core.models import Event
from licensing.models import Entitlement, LicenseDefinition, LicenseUsage, ProductInstance

pytestmark = pytest.mark.django_db


def url(account, rest=""):
    return f"/accounts/{account.pk}/inventory/{rest}"


def snapshot():
    """Everything the actions may write."""
    return (
        list(Entitlement.objects.order_by("pk").values_list("pk", "virtual_account_id", "license_id", "quantity")),
        list(ProductInstance.objects.order_by("pk").values_list("pk", "virtual_account_id")),
        # (signing in records events of its own)
        Event.objects.filter(event_type__regex=r"^(pi|license)\.").count(),
    )


@pytest.fixture
def world(acme, new_va, make_user, make_account, grant_role):
    sales, lab = new_va("Sales"), new_va("Lab")
    default = acme.virtual_accounts.get(is_default=True)
    globex = make_account("Globex")
    people = {}
    for name, scope, role in [
        ("aa", acme, AccountRole.ACCOUNT_ADMIN),
        ("au", acme, AccountRole.ACCOUNT_USER),
        ("vaa", sales, AccountRole.VA_ADMIN),
        ("vau", sales, AccountRole.VA_USER),
    ]:
        people[name] = make_user(name, SystemRole.USER)
        grant_role(people[name], scope, role)
    dna = LicenseDefinition.objects.create(name="DNA Advantage", entitlement_tag="regid.test.dna")
    Entitlement.objects.create(virtual_account=sales, license=dna, quantity=10, license_type="perpetual")
    now = timezone.now()
    router = ProductInstance.objects.create(
        virtual_account=sales, udi_pid="ISR4331", udi_serial_number="FDO555", hostname="branch-rtr", registered_at=now
    )
    LicenseUsage.objects.create(product_instance=router, license=dna, count=4)
    lab_pi = ProductInstance.objects.create(
        virtual_account=lab, udi_pid="ISR4331", udi_serial_number="LAB001", hostname="lab-rtr", registered_at=now
    )
    foreign_pi = ProductInstance.objects.create(
        virtual_account=globex.virtual_accounts.get(is_default=True),
        udi_pid="ISR4331",
        udi_serial_number="GLX001",
        hostname="glx-rtr",
        registered_at=now,
    )
    return {
        "acme": acme,
        "default": default,
        "sales": sales,
        "lab": lab,
        "globex": globex,
        "dna": dna,
        "router": router,
        "lab_pi": lab_pi,
        "foreign_pi": foreign_pi,
        **people,
    }


def pi_transfer_url(w, pi):
    return url(w["acme"], f"product-instances/{pi.pk}/transfer/")


def pi_remove_url(w, pi):
    return url(w["acme"], f"product-instances/{pi.pk}/remove/")


def license_transfer_url(w, va=None, lic=None):
    va, lic = va or w["sales"], lic or w["dna"]
    return url(w["acme"], f"virtual-accounts/{va.pk}/licenses/{lic.pk}/transfer/")


def messages_of(response):
    return [str(m) for m in response.context["messages"]]


# --- Product instances: transfer -------------------------------------------------------------------


def test_transfer_a_product_instance_reports_the_shortage(world, browser):
    w = world
    client = browser(w["aa"])
    listing = client.get(url(w["acme"], "product-instances/"), {"va": w["sales"].pk}).content.decode()
    assert pi_transfer_url(w, w["router"]) in listing and pi_remove_url(w, w["router"]) in listing
    form = client.get(pi_transfer_url(w, w["router"])).content.decode()
    assert f'<option value="{w["lab"].pk}">Lab</option>' in form
    assert f'<option value="{w["sales"].pk}"' not in form  # not to itself

    response = client.post(pi_transfer_url(w, w["router"]), {"to_virtual_account": w["lab"].pk}, follow=True)
    assert response.redirect_chain[-1][0] == url(w["acme"], "product-instances/") + f"?va={w['sales'].pk}"
    text = " ".join(messages_of(response))
    assert "was transferred to the local virtual account “Lab”" in text
    # Lab has no DNA Advantage bought: the 4 in use leave it short.
    assert "License shortage" in text and "“DNA Advantage”" in text
    w["router"].refresh_from_db()
    assert w["router"].virtual_account == w["lab"]
    out = Event.objects.get(event_type="pi.transferred")
    came = Event.objects.get(event_type="pi.transferred_in")
    assert (out.user, out.virtual_account, came.virtual_account) == (w["aa"], w["sales"], w["lab"])


def test_transfer_to_the_same_or_an_unknown_virtual_account_writes_nothing(world, browser):
    w = world
    client = browser(w["aa"])
    before = snapshot()
    other = w["globex"].virtual_accounts.get(is_default=True)
    for to in (w["sales"].pk, other.pk, 999999, "abc", ""):
        response = client.post(pi_transfer_url(w, w["router"]), {"to_virtual_account": to})
        assert response.status_code == 200
        assert 'class="errorlist"' in response.content.decode()
    assert snapshot() == before


def test_va_admin_transfer_needs_a_role_on_both_virtual_accounts(world, browser, grant_role):
    w = world
    client = browser(w["vaa"])  # VA Admin of Sales only
    listing = client.get(url(w["acme"], "product-instances/"), {"va": w["sales"].pk}).content.decode()
    assert pi_transfer_url(w, w["router"]) not in listing
    licenses = client.get(url(w["acme"], "licenses/"), {"va": w["sales"].pk}).content.decode()
    assert license_transfer_url(w) not in licenses
    before = snapshot()
    assert client.get(pi_transfer_url(w, w["router"])).status_code == 403
    assert client.get(license_transfer_url(w)).status_code == 403
    for to in (w["lab"], w["default"]):
        assert client.post(pi_transfer_url(w, w["router"]), {"to_virtual_account": to.pk}).status_code == 403
        response = client.post(
            license_transfer_url(w), {"to_virtual_account": to.pk, "quantity": "1", "precedence": "LONGEST_TERM_FIRST"}
        )
        assert response.status_code == 403
    assert snapshot() == before

    grant_role(w["vaa"], w["lab"], AccountRole.VA_USER)  # now a role on both
    client = browser(w["vaa"])
    listing = client.get(url(w["acme"], "product-instances/"), {"va": w["sales"].pk}).content.decode()
    assert pi_transfer_url(w, w["router"]) in listing
    form = client.get(pi_transfer_url(w, w["router"])).content.decode()
    assert f'<option value="{w["lab"].pk}">Lab</option>' in form and ">Default</option>" not in form
    response = client.post(pi_transfer_url(w, w["router"]), {"to_virtual_account": w["default"].pk})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    response = client.post(
        license_transfer_url(w),
        {"to_virtual_account": w["default"].pk, "quantity": "1", "precedence": "LONGEST_TERM_FIRST"},
    )
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert snapshot() == before
    response = client.post(pi_transfer_url(w, w["router"]), {"to_virtual_account": w["lab"].pk})
    assert response.status_code == 302
    w["router"].refresh_from_db()
    assert w["router"].virtual_account == w["lab"]


# --- Product instances: remove ---------------------------------------------------------------------


def test_remove_a_product_instance(world, browser):
    w = world
    client = browser(w["vaa"])
    listing = client.get(url(w["acme"], "product-instances/"), {"va": w["sales"].pk}).content.decode()
    assert pi_remove_url(w, w["router"]) in listing and "data-confirm=" in listing
    response = client.post(pi_remove_url(w, w["router"]), follow=True)
    assert "was removed" in " ".join(messages_of(response))
    assert not ProductInstance.objects.filter(pk=w["router"].pk).exists()
    assert not LicenseUsage.objects.filter(license=w["dna"]).exists()  # released
    event = Event.objects.get(event_type="pi.removed")
    assert (event.user, event.virtual_account) == (w["vaa"], w["sales"])


def test_va_user_cannot_remove(world, browser, grant_role):
    w = world
    grant_role(w["vau"], w["lab"], AccountRole.VA_USER)  # so the row has an action: Transfer, not Remove
    client = browser(w["vau"])
    listing = client.get(url(w["acme"], "product-instances/"), {"va": w["sales"].pk}).content.decode()
    assert pi_transfer_url(w, w["router"]) in listing
    assert pi_remove_url(w, w["router"]) not in listing
    before = snapshot()
    assert client.post(pi_remove_url(w, w["router"])).status_code == 403
    assert snapshot() == before


def test_remove_is_post_only(world, browser):
    w = world
    assert browser(w["aa"]).get(pi_remove_url(w, w["router"])).status_code == 405
    assert ProductInstance.objects.filter(pk=w["router"].pk).exists()


def test_invisible_or_foreign_product_instances_are_not_found(world, browser):
    w = world
    before = snapshot()
    for who, pi in (("vaa", w["lab_pi"]), ("aa", w["foreign_pi"])):
        client = browser(w[who])
        assert client.post(pi_remove_url(w, pi)).status_code == 404
        assert client.get(pi_transfer_url(w, pi)).status_code == 404
        assert client.post(pi_transfer_url(w, pi), {"to_virtual_account": w["sales"].pk}).status_code == 404
    assert browser(w["aa"]).post(url(w["acme"], "product-instances/999999/remove/")).status_code == 404
    assert snapshot() == before


# --- Licenses: transfer and preview ----------------------------------------------------------------


def test_transfer_licenses(world, browser):
    w = world
    client = browser(w["au"])
    licenses = client.get(url(w["acme"], "licenses/"), {"va": w["sales"].pk}).content.decode()
    assert license_transfer_url(w) in licenses
    response = client.post(
        license_transfer_url(w),
        {"to_virtual_account": w["lab"].pk, "quantity": "6", "precedence": "LONGEST_TERM_FIRST"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == url(w["acme"], "licenses/") + f"?va={w['sales'].pk}"
    assert "6 “DNA Advantage” licenses were transferred to the local virtual account “Lab”." in messages_of(response)
    held = dict(Entitlement.objects.filter(license=w["dna"]).values_list("virtual_account_id", "quantity"))
    assert held == {w["sales"].pk: 4, w["lab"].pk: 6}
    out = Event.objects.get(event_type="license.transferred")
    came = Event.objects.get(event_type="license.transferred_in")
    assert (out.user, out.virtual_account, came.virtual_account) == (w["au"], w["sales"], w["lab"])


def test_preview_writes_nothing(world, browser):
    w = world
    client = browser(w["aa"])
    before = snapshot()
    response = client.post(
        license_transfer_url(w),
        {"to_virtual_account": w["lab"].pk, "quantity": "6", "precedence": "LONGEST_TERM_LAST", "preview": "1"},
    )
    assert response.status_code == 200
    preview = response.context["preview"]
    assert (preview.from_before.purchased, preview.from_after.purchased) == (10, 4)
    assert (preview.from_before.available, preview.from_after.available) == (6, 0)
    assert (preview.to_before.purchased, preview.to_after.purchased) == (0, 6)
    html = response.content.decode()
    assert "10 → 4" in html and "0 → 6" in html
    assert snapshot() == before


@pytest.mark.parametrize("quantity", ["0", "-1", "abc", "", "1.5", "11"])
def test_bad_quantity_is_refused(world, browser, quantity):
    w = world
    client = browser(w["aa"])
    before = snapshot()
    for extra in ({}, {"preview": "1"}):
        response = client.post(
            license_transfer_url(w),
            {"to_virtual_account": w["lab"].pk, "quantity": quantity, "precedence": "LONGEST_TERM_FIRST", **extra},
        )
        assert response.status_code == 200
        assert response.context["form"].errors["quantity"]
        assert response.context["preview"] is None
    assert snapshot() == before


def test_more_than_available_says_how_many(world, browser):
    w = world
    response = browser(w["aa"]).post(
        license_transfer_url(w),
        {"to_virtual_account": w["lab"].pk, "quantity": "11", "precedence": "LONGEST_TERM_FIRST"},
    )
    assert "Only 10 “DNA Advantage” licenses can be transferred" in response.content.decode()


def test_license_transfer_of_invisible_or_foreign_virtual_accounts_is_not_found(world, browser):
    w = world
    other = w["globex"].virtual_accounts.get(is_default=True)
    before = snapshot()
    data = {"to_virtual_account": w["sales"].pk, "quantity": "1", "precedence": "LONGEST_TERM_FIRST"}
    assert browser(w["vaa"]).post(license_transfer_url(w, va=w["lab"]), data).status_code == 404
    assert browser(w["aa"]).post(license_transfer_url(w, va=other), data).status_code == 404
    assert (
        browser(w["aa"]).get(url(w["acme"], f"virtual-accounts/{w['sales'].pk}/licenses/999999/transfer/")).status_code
        == 404
    )
    assert snapshot() == before


def test_actions_need_the_csrf_token(world):
    w = world
    client = Client(enforce_csrf_checks=True)
    client.force_login(w["aa"])
    before = snapshot()
    assert client.post(pi_remove_url(w, w["router"])).status_code == 403
    assert client.post(pi_transfer_url(w, w["router"]), {"to_virtual_account": w["lab"].pk}).status_code == 403
    assert (
        client.post(
            license_transfer_url(w),
            {"to_virtual_account": w["lab"].pk, "quantity": "1", "precedence": "LONGEST_TERM_FIRST"},
        ).status_code
        == 403
    )
    assert snapshot() == before

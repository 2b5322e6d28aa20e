"""Accounts > an account's License Transactions (/admin/accounts/<pk>/license-transactions/): the
lines in the guide's columns, Add License and Remove Licenses through the services, who may, and
the pinned query count of the page."""

import datetime

import pytest
from django.test import Client

from core.models import Event
from licensing.models import Entitlement

pytestmark = pytest.mark.django_db
TODAY = datetime.date.today()


def url(account, suffix=""):
    return f"/admin/accounts/{account.pk}/license-transactions/{suffix}"


def _messages(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_the_page_lists_every_line_of_the_account(admin_client, acme, default_va, new_va, license_def, add_line):
    lic = license_def("Network Advantage")
    add_line(default_va, lic, 4, sku="C9300-NA", source=Entitlement.Source.ORDER)
    add_line(new_va("Branch"), lic, 2, "term", end=TODAY + datetime.timedelta(days=30))
    response = admin_client.get(url(acme))
    assert response.status_code == 200
    text = response.content.decode()
    assert "C9300-NA" in text and "Branch" in text and "Add License" in text
    # a line from CSSM offers no Remove Licenses
    assert "Remove Licenses" not in text
    listed = admin_client.get("/admin/accounts/").content.decode()
    assert url(acme) in listed


def test_add_then_remove_from_the_page(admin_client, acme, default_va, license_def):
    lic = license_def("Network Advantage")
    response = admin_client.post(
        url(acme, "add/"),
        {
            "license": lic.pk,
            "virtual_account": default_va.pk,
            "quantity": "6",
            "license_type": "term",
            "start_date": TODAY.isoformat(),
            "end_date": (TODAY + datetime.timedelta(days=90)).isoformat(),
            "sku": "SKU-1",
        },
        follow=True,
    )
    assert any("6 “Network Advantage” licenses were added" in m for m in _messages(response))
    line = Entitlement.objects.get(virtual_account=default_va, license=lic)
    assert (line.source, line.quantity, line.sku) == ("manual", 6, "SKU-1")
    assert "Remove Licenses" in response.content.decode()
    response = admin_client.post(url(acme, f"{line.pk}/remove/"), {"quantity": "2"}, follow=True)
    assert any("2 “Network Advantage” licenses were removed" in m for m in _messages(response))
    line.refresh_from_db()
    assert line.quantity == 4
    admin_client.post(url(acme, f"{line.pk}/remove/"), {})
    assert not Entitlement.objects.filter(pk=line.pk).exists()


def test_a_refused_add_shows_the_error_on_the_form_and_writes_nothing(admin_client, acme, default_va, license_def):
    lic = license_def("Network Advantage")
    response = admin_client.post(
        url(acme, "add/"),
        {"license": lic.pk, "virtual_account": default_va.pk, "quantity": "3", "license_type": "term"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {"end_date": ["A term license needs its expiration date."]}
    assert not Entitlement.objects.exists() and not Event.objects.filter(event_type__contains="manually").exists()


def test_a_virtual_account_of_another_account_is_refused(admin_client, acme, make_account, license_def):
    other = make_account("Other").virtual_accounts.get()
    lic = license_def("Network Advantage")
    response = admin_client.post(
        url(acme, "add/"),
        {"license": lic.pk, "virtual_account": other.pk, "quantity": "3", "license_type": "perpetual"},
    )
    assert response.status_code == 200 and "virtual_account" in response.context["form"].errors
    assert not Entitlement.objects.exists()


def test_removing_a_cssm_line_is_refused(admin_client, acme, default_va, license_def, add_line):
    line = add_line(default_va, license_def("Network Advantage"), 4, source=Entitlement.Source.ORDER)
    response = admin_client.post(url(acme, f"{line.pk}/remove/"), {"quantity": "1"}, follow=True)
    assert any("source Manual" in m for m in _messages(response))
    line.refresh_from_db()
    assert line.quantity == 4


def test_a_line_of_another_account_is_404(admin_client, acme, make_account, license_def, add_line):
    other = make_account("Other").virtual_accounts.get()
    line = add_line(other, license_def("Network Advantage"), 4, source=Entitlement.Source.MANUAL)
    assert admin_client.post(url(acme, f"{line.pk}/remove/"), {}).status_code == 404
    assert Entitlement.objects.filter(pk=line.pk).exists()


def test_an_operator_sees_the_page_but_may_not_change_it(op_client, acme, default_va, license_def, add_line):
    lic = license_def("Network Advantage")
    line = add_line(default_va, lic, 4, source=Entitlement.Source.MANUAL)
    response = op_client.get(url(acme))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Remove Licenses" not in text and 'action="' + url(acme, "add/") not in text
    add = {"license": lic.pk, "virtual_account": default_va.pk, "quantity": "3", "license_type": "perpetual"}
    assert op_client.post(url(acme, "add/"), add).status_code == 403
    assert op_client.post(url(acme, f"{line.pk}/remove/"), {}).status_code == 403
    assert Entitlement.objects.get().quantity == 4


def test_a_system_user_gets_403(make_user, acme, login):
    user = make_user("plain")
    client = login(user)
    assert client.get(url(acme)).status_code == 403


def test_forms_need_csrf(sysadmin, acme, default_va, license_def):
    client = Client(enforce_csrf_checks=True)
    client.force_login(sysadmin)
    lic = license_def("Network Advantage")
    add = {"license": lic.pk, "virtual_account": default_va.pk, "quantity": "3", "license_type": "perpetual"}
    assert client.post(url(acme, "add/"), add).status_code == 403
    assert not Entitlement.objects.exists()


@pytest.mark.parametrize("count", [2, 60])
def test_the_page_costs_the_same_few_queries(
    admin_client, acme, default_va, license_def, add_line, count, django_assert_max_num_queries
):
    for n in range(count):
        add_line(default_va, license_def(f"L{n}"), n + 1, source=Entitlement.Source.MANUAL)
    with django_assert_max_num_queries(10):
        response = admin_client.get(url(acme))
    assert response.status_code == 200

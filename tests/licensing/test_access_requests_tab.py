"""Manage Account > Access Requests: approve (as Account User or Account Administrator) or decline."""

import pytest

from accounts.models import RoleGrant
from accounts.roles import AccountRole
from core.models import Event
from licensing.models import AccessRequest
from licensing.services.access import request_access

pytestmark = pytest.mark.django_db


@pytest.fixture
def carol(make_user):
    return make_user("carol", email="carol@example.com", first_name="Carol", last_name="Danvers")


@pytest.fixture
def pending(acme, carol):
    return request_access(actor=carol, account_name=acme.name, company="Carol Inc")


def tab(account, rest=""):
    return f"/accounts/{account.pk}/manage/access-requests/{rest}"


def state():
    return (
        list(AccessRequest.objects.order_by("pk").values_list("status", "decided_by_id")),
        list(RoleGrant.objects.order_by("pk").values_list("user_id", "role")),
        Event.objects.count(),
    )


def test_the_table_shows_every_column(acme, acme_admin, pending, browser):
    html = browser(acme_admin).get(tab(acme)).content.decode()
    for text in (
        "Carol Danvers",
        "carol",
        "carol@example.com",
        "Acme",
        "Carol Inc",
        pending.created_at.strftime("%Y-%m-%d"),
        "Pending",
        "Approve",
        "Decline",
    ):
        assert text in html
    assert 'data-confirm="Decline the access request of “carol”?"' in html


@pytest.mark.parametrize("role, label", [("account_user", "Account User"), ("account_admin", "Account Administrator")])
def test_approve_grants_the_chosen_role(acme, acme_admin, carol, pending, browser, role, label):
    response = browser(acme_admin).post(tab(acme, f"{pending.pk}/approve/"), {"role": role}, follow=True)
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == (AccessRequest.Status.APPROVED, acme_admin)
    assert RoleGrant.objects.get(user=carol).role == role
    assert Event.objects.get(event_type="access.approved").message == (
        "The access request of the user “carol” to the local account “Acme” was approved."
    )
    assert Event.objects.get(event_type="user.role_added", user=acme_admin).message == (
        f"The user “carol” was assigned the role “{label}”."
    )
    html = response.content.decode()
    assert "Approved" in html and "alice" in html  # Action By
    assert browser(carol).get(f"/accounts/{acme.pk}/").status_code == 200


def test_decline(acme, sysop, carol, pending, browser):
    browser(sysop).post(tab(acme, f"{pending.pk}/decline/"))
    pending.refresh_from_db()
    assert (pending.status, pending.decided_by) == (AccessRequest.Status.DECLINED, sysop)
    assert not RoleGrant.objects.filter(user=carol).exists()
    assert Event.objects.get(event_type="access.declined").message == (
        "The access request of the user “carol” to the local account “Acme” was declined."
    )


@pytest.mark.parametrize(
    "first, second", [("approve", "approve"), ("approve", "decline"), ("decline", "approve"), ("decline", "decline")]
)
def test_a_decided_request_cannot_be_decided_again(acme, acme_admin, pending, browser, first, second):
    client = browser(acme_admin)
    client.post(tab(acme, f"{pending.pk}/{first}/"), {"role": "account_user"})
    before = state()
    response = client.post(tab(acme, f"{pending.pk}/{second}/"), {"role": "account_admin"}, follow=True)
    assert "This request was already" in response.content.decode()
    assert state() == before


def test_a_bad_role_writes_nothing(acme, acme_admin, pending, browser):
    client = browser(acme_admin)
    before = state()
    for role in ("va_admin", "system_admin", ""):
        response = client.post(tab(acme, f"{pending.pk}/approve/"), {"role": role}, follow=True)
        assert "Choose Account User or Account Administrator." in response.content.decode()
    assert state() == before


def test_approving_a_disabled_user_writes_nothing(acme, acme_admin, carol, pending, browser):
    carol.is_active = False
    carol.save(update_fields=["is_active"])
    client = browser(acme_admin)
    before = state()
    response = client.post(tab(acme, f"{pending.pk}/approve/"), {"role": "account_user"}, follow=True)
    assert "The user “carol” is disabled." in response.content.decode()
    assert state() == before


@pytest.mark.parametrize("who", ["account_user", "va_admin", "va_user"])
def test_only_account_or_system_administrators_decide(
    acme, acme_user, make_user, grant_role, new_va, pending, browser, who
):
    if who == "account_user":
        person = acme_user
    else:
        person = make_user(who)
        grant_role(person, new_va("Sales"), AccountRole.VA_ADMIN if who == "va_admin" else AccountRole.VA_USER)
    client = browser(person)
    before = state()
    assert client.get(tab(acme)).status_code == 403
    assert client.post(tab(acme, f"{pending.pk}/approve/"), {"role": "account_admin"}).status_code == 403
    assert client.post(tab(acme, f"{pending.pk}/decline/")).status_code == 403
    assert state() == before


def test_a_request_of_another_account_is_not_found(acme, acme_admin, make_account, carol, grant_role, browser):
    globex = make_account("Globex")
    grant_role(acme_admin, globex, AccountRole.ACCOUNT_ADMIN)
    theirs = request_access(actor=carol, account_name="Globex")
    client = browser(acme_admin)
    before = state()
    assert client.post(tab(acme, f"{theirs.pk}/approve/"), {"role": "account_admin"}).status_code == 404
    assert client.post(tab(acme, f"{theirs.pk}/decline/")).status_code == 404
    assert client.post(tab(acme, "999999/decline/")).status_code == 404
    assert client.post(tab(acme, "abc/decline/")).status_code == 404
    assert client.get(tab(acme, f"{theirs.pk}/approve/")).status_code == 405
    assert state() == before


def test_search_finds_requests_by_company_or_user(acme, acme_admin, pending, make_user, browser):
    request_access(actor=make_user("zed"), account_name="Acme", company="Zed Corp")
    client = browser(acme_admin)
    html = client.get(tab(acme) + "?q=zed").content.decode().split("<tbody>")[1]
    assert "Zed Corp" in html and "Carol Inc" not in html
    html = client.get(tab(acme) + "?q=carol@").content.decode().split("<tbody>")[1]
    assert "Carol Inc" in html and "Zed Corp" not in html

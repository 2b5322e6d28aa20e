"""Manage Account: the Local Virtual Accounts and Users tabs, their rules and their refusals."""

import pytest

from accounts.models import RoleGrant, UserGroup, UserGroupMembership
from accounts.roles import AccountRole
from core.models import Event
from licensing.models import VirtualAccount

pytestmark = pytest.mark.django_db


def url(account, rest=""):
    return f"/accounts/{account.pk}/manage/{rest}"


def snapshot():
    return (
        list(
            VirtualAccount.objects.order_by("pk").values_list("pk", "account_id", "name", "description", "is_default")
        ),
        list(RoleGrant.objects.order_by("pk").values_list("pk", "user_id", "group_id", "virtual_account_id", "role")),
        Event.objects.count(),
    )


def one_default_each():
    from licensing.models import LocalAccount

    return all(account.virtual_accounts.filter(is_default=True).count() == 1 for account in LocalAccount.objects.all())


# --- Local Virtual Accounts -----------------------------------------------------------------


def test_account_admin_creates_a_virtual_account(acme, acme_admin, browser):
    client = browser(acme_admin)
    assert client.get(url(acme, "virtual-accounts/new/")).status_code == 200
    response = client.post(url(acme, "virtual-accounts/new/"), {"name": " Sales ", "description": "EMEA"}, follow=True)
    va = acme.virtual_accounts.get(name="Sales")
    assert (va.description, va.is_default) == ("EMEA", False)
    event = Event.objects.get(event_type="va.created")
    assert event.message == "The Virtual Account “Sales” was created"
    assert (event.account, event.virtual_account, event.user) == (acme, va, acme_admin)
    html = response.content.decode()
    assert response.redirect_chain[-1][0] == url(acme, "virtual-accounts/")
    assert "Sales" in html and "EMEA" in html


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": ""}, "This field is required."),
        ({"name": "   "}, "This field is required."),
        ({"name": "x" * 101}, "Ensure this value has at most 100 characters"),
        ({"name": "Sales"}, "A virtual account named “Sales” already exists in this account."),
        ({"name": "Default"}, "A virtual account named “Default” already exists in this account."),
        ({"name": "Ok", "description": "d" * 256}, "Ensure this value has at most 255 characters"),
    ],
)
def test_creating_with_bad_input_writes_nothing(acme, acme_admin, new_va, browser, data, message):
    new_va("Sales")
    client = browser(acme_admin)
    before = snapshot()
    response = client.post(url(acme, "virtual-accounts/new/"), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert snapshot() == before


def test_the_same_name_is_fine_in_another_account(acme, acme_admin, make_account, new_va, browser):
    new_va("Sales", account=make_account("Globex"))
    browser(acme_admin).post(url(acme, "virtual-accounts/new/"), {"name": "Sales"})
    assert acme.virtual_accounts.filter(name="Sales").exists()


@pytest.mark.parametrize("who", ["acme_user", "va_admin"])
def test_only_account_administrators_manage_virtual_accounts(
    acme, acme_user, make_user, grant_role, new_va, browser, who
):
    sales = new_va("Sales")
    if who == "va_admin":
        person = make_user("vaa")
        grant_role(person, sales, AccountRole.VA_ADMIN)
    else:
        person = acme_user
    client = browser(person)
    before = snapshot()
    assert client.get(url(acme, "virtual-accounts/new/")).status_code == 403
    assert client.post(url(acme, "virtual-accounts/new/"), {"name": "Mine"}).status_code == 403
    assert client.post(url(acme, f"virtual-accounts/{sales.pk}/edit/"), {"name": "Renamed"}).status_code == 403
    assert client.post(url(acme, f"virtual-accounts/{sales.pk}/delete/")).status_code == 403
    assert snapshot() == before
    listing = client.get(url(acme, "virtual-accounts/")).content.decode()
    assert "Sales" in listing and "New Virtual Account" not in listing and "/delete/" not in listing


def test_renaming_the_default_keeps_it_the_one_default(acme, acme_admin, new_va, browser):
    new_va("Sales")
    default = acme.virtual_accounts.get(is_default=True)
    client = browser(acme_admin)
    page = client.get(url(acme, "virtual-accounts/")).content.decode()
    assert f'href="{url(acme, f"virtual-accounts/{default.pk}/edit/")}"' in page and "★" in page
    form = client.get(url(acme, f"virtual-accounts/{default.pk}/edit/")).content.decode()
    assert "New Name" in form and 'value="Default"' in form
    client.post(url(acme, f"virtual-accounts/{default.pk}/edit/"), {"name": "Main", "description": "From CSSM"})
    default.refresh_from_db()
    assert (default.name, default.description, default.is_default) == ("Main", "From CSSM", True)
    assert Event.objects.get(event_type="va.renamed").message == "The Virtual Account “Default” was renamed to “Main”"
    sales = acme.virtual_accounts.get(name="Sales")
    client.post(url(acme, f"virtual-accounts/{sales.pk}/edit/"), {"name": "Default"})
    sales.refresh_from_db()
    assert (sales.name, sales.is_default) == ("Default", False)
    assert acme.virtual_accounts.get(is_default=True) == default and one_default_each()


def test_saving_the_same_name_changes_only_the_description(acme, acme_admin, new_va, browser):
    sales = new_va("Sales")
    browser(acme_admin).post(url(acme, f"virtual-accounts/{sales.pk}/edit/"), {"name": "Sales", "description": "new"})
    sales.refresh_from_db()
    assert sales.description == "new" and not Event.objects.filter(event_type="va.renamed").exists()


@pytest.mark.parametrize(
    "name, message",
    [
        ("Default", "A virtual account named “Default” already exists in this account."),
        ("", "This field is required."),
        ("y" * 101, "Ensure this value has at most 100 characters"),
    ],
)
def test_renaming_to_a_taken_or_bad_name_writes_nothing(acme, acme_admin, new_va, browser, name, message):
    sales = new_va("Sales")
    client = browser(acme_admin)
    before = snapshot()
    response = client.post(url(acme, f"virtual-accounts/{sales.pk}/edit/"), {"name": name})
    assert response.status_code == 200 and message in response.content.decode()
    assert snapshot() == before and one_default_each()


def test_deleting_a_virtual_account(acme, acme_admin, make_user, grant_role, new_va, browser):
    sales = new_va("Sales")
    grant_role(make_user("vaa"), sales, AccountRole.VA_ADMIN)
    response = browser(acme_admin).post(url(acme, f"virtual-accounts/{sales.pk}/delete/"), follow=True)
    assert not VirtualAccount.objects.filter(pk=sales.pk).exists()
    assert not RoleGrant.objects.filter(virtual_account_id=sales.pk).exists()
    assert Event.objects.get(event_type="va.removed").message == "The Virtual Account “Sales” has been deleted"
    assert Event.objects.get(event_type="user.va_role_removed_on_delete").message == (
        "User “vaa” was removed as virtual account admin when “Sales” was deleted."
    )
    assert "The local virtual account “Sales” was deleted." in response.content.decode()


def test_the_default_virtual_account_cannot_be_deleted(acme, acme_admin, browser):
    default = acme.virtual_accounts.get(is_default=True)
    client = browser(acme_admin)
    page = client.get(url(acme, "virtual-accounts/")).content.decode()
    assert f"virtual-accounts/{default.pk}/delete/" not in page
    before = snapshot()
    response = client.post(url(acme, f"virtual-accounts/{default.pk}/delete/"), follow=True)
    assert "The Default local virtual account cannot be deleted." in response.content.decode()
    assert snapshot() == before and one_default_each()


def test_delete_asks_for_confirmation_and_only_by_post(acme, acme_admin, new_va, browser):
    sales = new_va("Sales")
    client = browser(acme_admin)
    assert (
        'data-confirm="Delete the local virtual account “Sales”?"'
        in client.get(url(acme, "virtual-accounts/")).content.decode()
    )
    assert client.get(url(acme, f"virtual-accounts/{sales.pk}/delete/")).status_code == 405
    assert VirtualAccount.objects.filter(pk=sales.pk).exists()


def test_a_virtual_account_of_another_account_is_not_found(acme, acme_admin, make_account, new_va, grant_role, browser):
    globex = make_account("Globex")
    grant_role(acme_admin, globex, AccountRole.ACCOUNT_ADMIN)  # even an admin of both cannot cross in one URL
    theirs = new_va("Theirs", account=globex)
    client = browser(acme_admin)
    before = snapshot()
    assert client.get(url(acme, f"virtual-accounts/{theirs.pk}/edit/")).status_code == 404
    assert client.post(url(acme, f"virtual-accounts/{theirs.pk}/edit/"), {"name": "Mine"}).status_code == 404
    assert client.post(url(acme, f"virtual-accounts/{theirs.pk}/delete/")).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize(
    "rest",
    [
        "virtual-accounts/999999/edit/",
        "virtual-accounts/abc/edit/",
        "virtual-accounts/-1/delete/",
        "users/grants/999999/remove/",
        "users/grants/x/remove/",
    ],
)
def test_garbage_ids_answer_404(acme, acme_admin, browser, rest):
    client = browser(acme_admin)
    before = snapshot()
    assert client.post(url(acme, rest), {"name": "X"}).status_code == 404
    assert snapshot() == before


def test_a_va_only_user_lists_only_their_virtual_accounts(acme, make_user, grant_role, new_va, browser):
    sales = new_va("Sales")
    new_va("Support")
    person = make_user("vau")
    grant_role(person, sales, AccountRole.VA_USER)
    body = browser(person).get(url(acme, "virtual-accounts/")).content.decode().split("<tbody>")[1]
    assert "<td>Sales" in body and "Support" not in body and "<td>Default" not in body


# --- Users ------------------------------------------------------------------------------------


@pytest.fixture
def carol(make_user):
    return make_user("carol", email="carol@example.com", first_name="Carol", last_name="Danvers")


def test_users_tab_lists_direct_and_group_roles(acme, acme_admin, acme_user, make_user, new_va, grant_role, browser):
    sales = new_va("Sales")
    vau = make_user("vau")
    grant_role(vau, sales, AccountRole.VA_USER)
    group = UserGroup.objects.create(account=acme, name="Ops")
    member = make_user("member")
    UserGroupMembership.objects.create(group=group, user=member)
    from accounts.services.grants import set_account_role

    set_account_role(actor=None, account=acme, role=AccountRole.ACCOUNT_USER, group=group)
    make_user("outsider")
    html = browser(acme_admin).get(url(acme, "users/")).content.decode()
    for text in (
        "alice",
        "bob",
        "vau",
        "member",
        "Account Administrator",
        "Virtual Account User",
        "(Sales)",
        "via user group “Ops”",
    ):
        assert text in html
    assert "outsider" not in html
    # Direct grants can be removed here; group roles belong to the User Groups tab.
    assert html.count("/remove/") == 3


def test_account_admin_adds_a_user_as_account_user(acme, acme_admin, carol, browser):
    client = browser(acme_admin)
    assert client.get(url(acme, "users/add/")).status_code == 200
    response = client.post(url(acme, "users/add/"), {"user": "carol", "role": "account_user"}, follow=True)
    grant = RoleGrant.objects.get(user=carol)
    assert (grant.account, grant.virtual_account, grant.role, grant.granted_by) == (
        acme,
        None,
        AccountRole.ACCOUNT_USER,
        acme_admin,
    )
    assert Event.objects.get(event_type="user.role_added", user=acme_admin).message == (
        "The user “carol” was assigned the role “Account User”."
    )
    assert "carol" in response.content.decode()
    assert browser(carol).get(f"/accounts/{acme.pk}/").status_code == 200


def test_a_user_is_found_by_email_and_a_new_role_replaces_the_old(acme, acme_admin, carol, browser, grant_role):
    grant_role(carol, acme, AccountRole.ACCOUNT_USER)
    browser(acme_admin).post(url(acme, "users/add/"), {"user": "CAROL@example.com", "role": "account_admin"})
    assert list(RoleGrant.objects.filter(user=carol).values_list("role", flat=True)) == [AccountRole.ACCOUNT_ADMIN]


def test_roles_on_specific_virtual_accounts(acme, acme_admin, carol, new_va, browser):
    sales, support, _unused = new_va("Sales"), new_va("Support"), new_va("Unused")
    browser(acme_admin).post(
        url(acme, "users/add/"),
        {
            "user": "carol",
            "role": "virtual_accounts",
            f"va_{sales.pk}": "va_admin",
            f"va_{support.pk}": "va_user",
        },
    )
    assert set(RoleGrant.objects.filter(user=carol).values_list("virtual_account__name", "role")) == {
        ("Sales", AccountRole.VA_ADMIN),
        ("Support", AccountRole.VA_USER),
    }
    added = Event.objects.filter(event_type="user.role_added", user=acme_admin)
    messages = set(added.values_list("message", flat=True))
    assert "The user “carol” was assigned the role “Virtual Account Administrator (Sales)”." in messages


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"user": "nobody-here", "role": "account_user"},
            "No user with the User ID or email address “nobody-here” exists.",
        ),
        ({"user": "", "role": "account_user"}, "This field is required."),
        ({"user": "carol"}, "This field is required."),
        ({"user": "carol", "role": "system_admin"}, "Select a valid choice."),
        ({"user": "carol", "role": "virtual_accounts"}, "Choose a role on at least one local virtual account."),
        ({"user": "disabled", "role": "account_user"}, "The user “disabled” is disabled."),
    ],
)
def test_adding_a_user_with_bad_input_writes_nothing(acme, acme_admin, carol, make_user, browser, data, message):
    make_user("disabled", is_active=False)
    client = browser(acme_admin)
    before = snapshot()
    response = client.post(url(acme, "users/add/"), data)
    assert response.status_code == 200 and message in response.content.decode()
    assert snapshot() == before


def test_an_email_shared_by_two_users_asks_for_the_user_id(acme, acme_admin, make_user, browser):
    make_user("twin1", email="twins@example.com")
    make_user("twin2", email="twins@example.com")
    client = browser(acme_admin)
    before = snapshot()
    response = client.post(url(acme, "users/add/"), {"user": "twins@example.com", "role": "account_user"})
    assert "Several users have the email address “twins@example.com”; enter the User ID." in response.content.decode()
    assert snapshot() == before


def test_a_virtual_account_of_another_account_in_the_post_is_ignored(
    acme, acme_admin, carol, make_account, new_va, grant_role, browser
):
    globex = make_account("Globex")
    grant_role(acme_admin, globex, AccountRole.ACCOUNT_ADMIN)
    theirs = new_va("Theirs", account=globex)
    client = browser(acme_admin)
    before = snapshot()
    response = client.post(
        url(acme, "users/add/"), {"user": "carol", "role": "virtual_accounts", f"va_{theirs.pk}": "va_admin"}
    )
    assert "Choose a role on at least one local virtual account." in response.content.decode()
    assert snapshot() == before


def test_an_account_user_cannot_grant_roles(acme, acme_user, carol, browser):
    client = browser(acme_user)
    before = snapshot()
    assert client.get(url(acme, "users/add/")).status_code == 403
    assert client.post(url(acme, "users/add/"), {"user": "carol", "role": "account_admin"}).status_code == 403
    assert client.post(url(acme, "users/add/"), {"user": "bob", "role": "account_admin"}).status_code == 403
    assert snapshot() == before
    html = client.get(url(acme, "users/")).content.decode()
    assert "New User" not in html and "/remove/" not in html


def test_a_va_administrator_manages_only_roles_on_their_own_virtual_accounts(
    acme, acme_admin, carol, make_user, new_va, grant_role, browser
):
    sales, support = new_va("Sales"), new_va("Support")
    vaa = make_user("vaa")
    grant_role(vaa, sales, AccountRole.VA_ADMIN)
    grant_role(make_user("supporter"), support, AccountRole.VA_USER)
    client = browser(vaa)
    users_html = client.get(url(acme, "users/")).content.decode()
    assert "vaa" in users_html and "supporter" not in users_html and "alice" not in users_html
    form_html = client.get(url(acme, "users/add/")).content.decode()
    assert "Assign roles to specific local Virtual Accounts only" in form_html
    assert 'value="account_admin"' not in form_html and f'name="va_{sales.pk}"' in form_html
    assert f'name="va_{support.pk}"' not in form_html
    before = snapshot()
    # Account-wide roles and other VAs are out of reach: refused, nothing written.
    response = client.post(url(acme, "users/add/"), {"user": "carol", "role": "account_admin"})
    assert "Select a valid choice." in response.content.decode()
    response = client.post(
        url(acme, "users/add/"), {"user": "carol", "role": "virtual_accounts", f"va_{support.pk}": "va_admin"}
    )
    assert "Choose a role on at least one local virtual account." in response.content.decode()
    alice_grant = RoleGrant.objects.get(user=acme_admin)
    assert client.post(url(acme, f"users/grants/{alice_grant.pk}/remove/")).status_code == 403
    supporter_grant = RoleGrant.objects.get(user__username="supporter")
    assert client.post(url(acme, f"users/grants/{supporter_grant.pk}/remove/")).status_code == 403
    assert snapshot() == before
    client.post(url(acme, "users/add/"), {"user": "carol", "role": "virtual_accounts", f"va_{sales.pk}": "va_user"})
    assert RoleGrant.objects.get(user=carol).virtual_account == sales


def test_removing_a_role(acme, acme_admin, acme_user, browser):
    grant = RoleGrant.objects.get(user=acme_user)
    client = browser(acme_admin)
    assert client.get(url(acme, f"users/grants/{grant.pk}/remove/")).status_code == 405
    response = client.post(url(acme, f"users/grants/{grant.pk}/remove/"), follow=True)
    assert not RoleGrant.objects.filter(pk=grant.pk).exists()
    assert Event.objects.get(event_type="user.role_removed").message == (
        "The role “Account User” was removed from the user “bob”."
    )
    assert "bob" not in response.content.decode().split("<tbody>")[1]
    assert browser(acme_user).get(f"/accounts/{acme.pk}/").status_code == 404


def test_a_grant_of_another_account_is_not_found(acme, acme_admin, make_account, make_user, grant_role, browser):
    globex = make_account("Globex")
    grant_role(acme_admin, globex, AccountRole.ACCOUNT_ADMIN)
    theirs = grant_role(make_user("gus"), globex, AccountRole.ACCOUNT_USER)
    client = browser(acme_admin)
    before = snapshot()
    assert client.post(url(acme, f"users/grants/{theirs.pk}/remove/")).status_code == 404
    assert snapshot() == before

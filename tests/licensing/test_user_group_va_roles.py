"""Manage Account > User Groups: roles on specific local virtual accounts for a group's members
— assign, replace, remove, what the members then see, refusals and RBAC."""

import pytest

from accounts.models import RoleGrant
from accounts.rbac import Action, can, visible_virtual_accounts
from accounts.roles import AccountRole
from accounts.services import groups as group_service
from core.models import Event


def gurl(group, rest=""):
    return f"/accounts/{group.account_id}/manage/user-groups/{group.pk}/{rest}"


@pytest.fixture
def team(acme):
    return group_service.create_group(actor=None, account=acme, name="Team", description="")


@pytest.fixture
def member(make_user, team):
    user = make_user("dave")
    group_service.add_member(actor=None, group=team, user=user)
    return user


def test_assign_replace_and_remove_a_va_role(acme, new_va, acme_admin, team, member, browser):
    sales = new_va("Sales")
    client = browser(acme_admin)
    html = client.get(gurl(team)).content.decode()
    assert "Assign roles to specific local Virtual Accounts" in html
    response = client.post(gurl(team, "va-role/"), {"virtual_account": sales.pk, "role": AccountRole.VA_USER})
    assert response.status_code == 302
    assert [va.name for va in visible_virtual_accounts(member, acme)] == ["Sales"]
    assert can(member, Action.VIEW_ACCOUNT, virtual_account=sales)
    assert not can(member, Action.REMOVE_PRODUCT_INSTANCES, account=acme, virtual_account=sales)
    assert Event.objects.filter(event_type="user.role_added").order_by("pk").last().message == (
        "The user “Team” was assigned the role “Virtual Account User (Sales)”."
    )
    # A new role on the same virtual account replaces the previous one.
    client.post(gurl(team, "va-role/"), {"virtual_account": sales.pk, "role": AccountRole.VA_ADMIN})
    grant = RoleGrant.objects.get(group=team)
    assert (grant.virtual_account_id, grant.role) == (sales.pk, AccountRole.VA_ADMIN)
    assert can(member, Action.REMOVE_PRODUCT_INSTANCES, account=acme, virtual_account=sales)
    assert "Virtual Account Administrator" in client.get(gurl(team)).content.decode()
    assert client.post(gurl(team, f"grants/{grant.pk}/remove/")).status_code == 302
    assert not RoleGrant.objects.filter(group=team).exists()
    assert list(visible_virtual_accounts(member, acme)) == []


@pytest.mark.parametrize(
    "data",
    [
        {"virtual_account": "999999", "role": AccountRole.VA_USER},
        {"virtual_account": "", "role": AccountRole.VA_USER},
        {"role": AccountRole.ACCOUNT_ADMIN},  # an account-wide role is not a VA role
        {"role": "wizard"},
    ],
)
def test_bad_input_changes_nothing(acme, acme_admin, team, browser, data):
    data = {"virtual_account": acme.virtual_accounts.get().pk, **data}
    response = browser(acme_admin).post(gurl(team, "va-role/"), data)
    assert response.status_code == 400
    assert not RoleGrant.objects.filter(group=team).exists()


def test_another_accounts_virtual_account_is_refused(acme, make_account, acme_admin, team, browser):
    globex_va = make_account("Globex").virtual_accounts.get()
    response = browser(acme_admin).post(
        gurl(team, "va-role/"), {"virtual_account": globex_va.pk, "role": AccountRole.VA_USER}
    )
    assert response.status_code == 400
    assert not RoleGrant.objects.filter(group=team).exists()


@pytest.mark.parametrize(
    "role, on_va", [(AccountRole.ACCOUNT_USER, False), (AccountRole.VA_ADMIN, True), (AccountRole.VA_USER, True)]
)
def test_only_account_admins_manage_group_roles(acme, make_user, grant_role, team, browser, role, on_va):
    va = acme.virtual_accounts.get()
    user = make_user("carol")
    grant_role(user, va if on_va else acme, role)
    client = browser(user)
    assert (
        client.post(gurl(team, "va-role/"), {"virtual_account": va.pk, "role": AccountRole.VA_USER}).status_code == 403
    )
    assert not RoleGrant.objects.filter(group=team).exists()


def test_another_groups_grant_is_not_found(acme, acme_admin, team, browser):
    other = group_service.create_group(actor=None, account=acme, name="Other", description="")
    from accounts.services.grants import set_virtual_account_role

    grant = set_virtual_account_role(
        actor=None, virtual_account=acme.virtual_accounts.get(), role=AccountRole.VA_USER, group=other
    )
    assert browser(acme_admin).post(gurl(team, f"grants/{grant.pk}/remove/")).status_code == 404
    assert RoleGrant.objects.filter(pk=grant.pk).exists()

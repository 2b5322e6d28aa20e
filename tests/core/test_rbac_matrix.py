"""The RBAC tables of docs/rbac.md, cell by cell.

The expectations are written out here by hand (not derived from accounts/rbac.py), so a
change to the policy that disagrees with them fails a test; tests/core/test_rbac_doc.py keeps
the page itself equal to the code.
"""

import pytest

from accounts.models import UserGroup, UserGroupMembership
from accounts.rbac import Action, can, visible_virtual_accounts
from accounts.roles import AccountRole, SystemRole
from accounts.services.grants import set_account_role, set_virtual_account_role
from licensing.services.accounts import deactivate_account, visible_accounts
from licensing.services.virtual_accounts import create_virtual_account

A = Action
Y, N = True, False

# --- Administration workspace: System Admin, System Operator, System User -----------------
SYSTEM_TABLE = {
    A.OPEN_ADMIN_WORKSPACE: (Y, Y, N),
    A.MANAGE_USERS: (Y, Y, N),
    A.CHANGE_SYSTEM_ROLE: (Y, N, N),
    A.MANAGE_SYSTEM_ADMINS: (Y, N, N),
    A.VIEW_SYSTEM_CONFIG: (Y, Y, N),
    A.CHANGE_SYSTEM_CONFIG: (Y, N, N),
    A.MANAGE_ACCOUNTS: (Y, Y, N),
    A.MANAGE_SYNC: (Y, Y, N),
    A.TOGGLE_API_CONSOLE: (Y, N, N),
    A.MANAGE_API_GRANTS: (Y, Y, N),
    A.VIEW_LOGS: (Y, Y, N),
    A.VIEW_HEALTH: (Y, Y, N),
    A.MANAGE_LICENSE_LINES: (Y, N, N),
    A.REQUEST_ACCOUNT: (Y, Y, Y),
}


@pytest.mark.parametrize("action", list(SYSTEM_TABLE))
@pytest.mark.parametrize("column, role", list(enumerate([SystemRole.ADMIN, SystemRole.OPERATOR, SystemRole.USER])))
def test_system_table(make_user, action, column, role):
    user = make_user("someone", role)
    assert can(user, action) is SYSTEM_TABLE[action][column]


def test_every_system_action_is_in_the_table():
    from accounts.rbac import SYSTEM_MATRIX

    assert set(SYSTEM_MATRIX) == set(SYSTEM_TABLE)


# --- Per local account: on the VA the role is held on ("own") and on another VA ("other") ---
# Columns: Account Admin, Account User, VA Admin, VA User; each cell (own VA, other VA).
ACCOUNT_TABLE = {
    A.VIEW_ACCOUNT: ((Y, Y), (Y, Y), (Y, N), (Y, N)),
    A.MANAGE_VIRTUAL_ACCOUNTS: ((Y, Y), (N, N), (N, N), (N, N)),
    A.MANAGE_ACCOUNT_USERS: ((Y, Y), (N, N), (Y, N), (N, N)),
    A.MANAGE_CUSTOM_TAGS: ((Y, Y), (N, N), (N, N), (N, N)),
    A.MANAGE_TOKENS: ((Y, Y), (Y, Y), (Y, N), (Y, N)),
    A.CREATE_EXPORT_TOKENS: ((Y, Y), (Y, Y), (Y, N), (Y, N)),
    A.MANAGE_LICENSE_TAGS: ((Y, Y), (Y, Y), (Y, N), (Y, N)),
    A.SET_PREFERENCES: ((Y, Y), (Y, Y), (Y, N), (Y, N)),
    A.TRANSFER: ((Y, Y), (Y, Y), (Y, N), (Y, N)),
    A.REMOVE_PRODUCT_INSTANCES: ((Y, Y), (Y, Y), (Y, N), (N, N)),
    A.MANAGE_DLC_SETTINGS: ((Y, Y), (N, N), (N, N), (N, N)),
    A.ACCEPT_AGREEMENT: ((Y, Y), (N, N), (N, N), (N, N)),
    A.SYNC_USAGE: ((Y, Y), (Y, Y), (Y, N), (Y, N)),
    A.RESERVE_LICENSES: ((Y, Y), (Y, Y), (Y, N), (Y, N)),
}
ROLES = [AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_USER, AccountRole.VA_ADMIN, AccountRole.VA_USER]


@pytest.fixture
def estate(make_account, make_user):
    """One account with VAs "own" and "other"; a second account "Elsewhere"."""
    account = make_account("Acme")
    own = create_virtual_account(actor=None, account=account, name="own")
    other = create_virtual_account(actor=None, account=account, name="other")
    elsewhere = make_account("Elsewhere")
    return account, own, other, elsewhere


def _grant(user, role, account, own, via_group=False):
    holder = {"user": user}
    if via_group:
        group = UserGroup.objects.create(account=account, name=f"g-{user.username}")
        UserGroupMembership.objects.create(group=group, user=user)
        holder = {"group": group}
    if role in (AccountRole.ACCOUNT_ADMIN, AccountRole.ACCOUNT_USER):
        set_account_role(actor=None, account=account, role=role, **holder)
    else:
        set_virtual_account_role(actor=None, virtual_account=own, role=role, **holder)


@pytest.mark.parametrize("via_group", [False, True], ids=["direct", "via-group"])
@pytest.mark.parametrize("action", list(ACCOUNT_TABLE))
@pytest.mark.parametrize("column, role", list(enumerate(ROLES)))
def test_account_table(estate, make_user, action, column, role, via_group):
    account, own, other, elsewhere = estate
    user = make_user("holder")
    _grant(user, role, account, own, via_group)
    on_own, on_other = ACCOUNT_TABLE[action][column]
    assert can(user, action, virtual_account=own) is on_own
    assert can(user, action, virtual_account=other) is on_other
    # "Anywhere in this account": true when the role reaches at least one VA.
    assert can(user, action, account=account) is (on_own or on_other)
    # Nothing reaches another local account.
    assert can(user, action, account=elsewhere) is False
    assert can(user, action, virtual_account=elsewhere.virtual_accounts.get()) is False


def test_every_account_action_is_in_the_table():
    from accounts.rbac import ACCOUNT_MATRIX

    assert set(ACCOUNT_MATRIX) == set(ACCOUNT_TABLE)


@pytest.mark.parametrize("action", list(ACCOUNT_TABLE))
@pytest.mark.parametrize("role", [SystemRole.ADMIN, SystemRole.OPERATOR])
def test_system_admins_act_as_account_admin_everywhere(estate, make_user, action, role):
    account, own, other, elsewhere = estate
    user = make_user("boss", role)
    for va in (own, other, elsewhere.virtual_accounts.get()):
        assert can(user, action, virtual_account=va)


@pytest.mark.parametrize("action", list(ACCOUNT_TABLE))
def test_system_user_without_roles_can_do_nothing(estate, make_user, action):
    account, own, other, elsewhere = estate
    user = make_user("nobody")
    assert not can(user, action, account=account)
    assert not can(user, action, virtual_account=own)


def test_transfer_by_va_roles_needs_a_role_on_both_sides(estate, make_user):
    account, own, other, _ = estate
    va_admin = make_user("vaa")
    _grant(va_admin, AccountRole.VA_ADMIN, account, own)
    assert not can(va_admin, A.TRANSFER, virtual_account=own, to_virtual_account=other)
    set_virtual_account_role(actor=None, virtual_account=other, role=AccountRole.VA_USER, user=va_admin)
    assert can(va_admin, A.TRANSFER, virtual_account=own, to_virtual_account=other)
    assert can(va_admin, A.TRANSFER, virtual_account=other, to_virtual_account=own)


def test_transfer_never_crosses_accounts(estate, make_user):
    account, own, other, elsewhere = estate
    admin = make_user("admin", SystemRole.ADMIN)
    assert not can(admin, A.TRANSFER, virtual_account=own, to_virtual_account=elsewhere.virtual_accounts.get())


@pytest.mark.parametrize("role", [SystemRole.ADMIN, SystemRole.USER])
def test_inactive_account_is_closed_to_everyone(estate, make_user, role):
    account, own, other, _ = estate
    user = make_user("u", role)
    _grant(user, AccountRole.ACCOUNT_ADMIN, account, own)
    deactivate_account(actor=None, account=account)
    account.refresh_from_db()
    for action in ACCOUNT_TABLE:
        assert not can(user, action, account=account)
    assert account not in visible_accounts(user)


def test_pending_account_is_closed(make_account, make_user):
    pending = make_account("Pending", active=False)
    admin = make_user("admin", SystemRole.ADMIN)
    assert not can(admin, A.VIEW_ACCOUNT, account=pending)
    assert list(visible_accounts(admin)) == []


def test_disabled_user_can_do_nothing(estate, make_user):
    account, own, _, _ = estate
    user = make_user("gone", SystemRole.ADMIN)
    user.is_active = False
    user.save()
    assert not can(user, A.OPEN_ADMIN_WORKSPACE)
    assert not can(user, A.REQUEST_ACCOUNT)
    assert not can(user, A.VIEW_ACCOUNT, account=account)


def test_anonymous_can_do_nothing(estate):
    from django.contrib.auth.models import AnonymousUser

    account, *_ = estate
    assert not can(AnonymousUser(), A.REQUEST_ACCOUNT)
    assert not can(AnonymousUser(), A.VIEW_ACCOUNT, account=account)


def test_visible_accounts_and_virtual_accounts(estate, make_user):
    account, own, other, elsewhere = estate
    va_user = make_user("vau")
    _grant(va_user, AccountRole.VA_USER, account, own)
    assert list(visible_accounts(va_user)) == [account]
    assert list(visible_virtual_accounts(va_user, account)) == [own]
    assert list(visible_virtual_accounts(va_user, elsewhere)) == []

    account_user = make_user("au")
    _grant(account_user, AccountRole.ACCOUNT_USER, account, own)
    assert set(visible_virtual_accounts(account_user, account)) == {
        own,
        other,
        account.virtual_accounts.get(is_default=True),
    }

    operator = make_user("op", SystemRole.OPERATOR)
    assert set(visible_accounts(operator)) == {account, elsewhere}


def test_grants_are_loaded_once_per_account(estate, make_user, django_assert_num_queries):
    from accounts.rbac import Principal

    account, own, other, _ = estate
    user = make_user("vaa")
    _grant(user, AccountRole.VA_ADMIN, account, own)
    principal = Principal(user)
    with django_assert_num_queries(1):
        for action in ACCOUNT_TABLE:
            can(principal, action, virtual_account=own)
            can(principal, action, virtual_account=other)

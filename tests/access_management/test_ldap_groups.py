"""LDAP Groups tab against a real slapd: "Update LDAP Data" imports posixGroups, roles given to a
group reach its members through the RBAC policy, and memberships follow the directory at login."""

from django.contrib.auth import get_user_model

from accounts.models import LdapGroup, LdapGroupLink, RoleGrant
from accounts.rbac import Action, can
from accounts.roles import AccountRole

User = get_user_model()


def _login(client, username, password):
    response = client.post("/login/", {"username": username, "password": password})
    assert response.status_code == 302, response.content[:300]
    return User.objects.get(username=username)


def test_update_ldap_data_imports_the_groups(admin_client, ldap_configured):
    response = admin_client.post("/admin/access/ldap/groups/update/")
    assert response.status_code == 302
    groups = {group.name: group for group in LdapGroup.objects.all()}
    assert set(groups) == {"devs", "ops"}
    assert groups["devs"].member_uids == ["alice", "bob"]
    assert groups["devs"].description == "Developers"
    page = admin_client.get("/admin/access/ldap/groups/")
    assert b"devs" in page.content and b"ops" in page.content


def test_account_role_for_a_group_reaches_its_members(admin_client, client_factory, ldap_configured, make_account):
    acme = make_account("Acme")
    admin_client.post("/admin/access/ldap/groups/update/")
    devs = LdapGroup.objects.get(name="devs")
    response = admin_client.post(
        f"/admin/access/ldap/groups/{devs.pk}/", {"account": acme.pk, "role": AccountRole.ACCOUNT_USER}
    )
    assert response.status_code == 302
    assert RoleGrant.objects.filter(group__ldap_link__ldap_group=devs, role=AccountRole.ACCOUNT_USER).count() == 1

    alice = _login(client_factory(), "alice", "Alice-Pass-1")
    carol = _login(client_factory(), "carol", "Carol-Pass-3")
    assert can(alice, Action.VIEW_ACCOUNT, account=acme)
    assert not can(alice, Action.MANAGE_VIRTUAL_ACCOUNTS, account=acme)  # Account User, not Admin
    assert not can(carol, Action.VIEW_ACCOUNT, account=acme)
    page = admin_client.get(f"/admin/access/ldap/groups/{devs.pk}/")
    assert "Account User".encode() in page.content


def test_per_virtual_account_roles(admin_client, client_factory, ldap_configured, make_account):
    acme = make_account("Acme")
    default_va = acme.virtual_accounts.get()
    admin_client.post("/admin/access/ldap/groups/update/")
    ops = LdapGroup.objects.get(name="ops")
    admin_client.post(
        f"/admin/access/ldap/groups/{ops.pk}/",
        {"account": acme.pk, "role": "per_va", f"va_role_{default_va.pk}": AccountRole.VA_ADMIN},
    )
    carol = _login(client_factory(), "carol", "Carol-Pass-3")
    assert can(carol, Action.MANAGE_TOKENS, account=acme, virtual_account=default_va)
    assert not can(carol, Action.MANAGE_VIRTUAL_ACCOUNTS, account=acme)


def test_roles_given_after_the_first_login_apply_at_once(admin_client, client_factory, ldap_configured, make_account):
    acme = make_account("Acme")
    alice = _login(client_factory(), "alice", "Alice-Pass-1")
    admin_client.post("/admin/access/ldap/groups/update/")
    devs = LdapGroup.objects.get(name="devs")
    admin_client.post(f"/admin/access/ldap/groups/{devs.pk}/", {"account": acme.pk, "role": AccountRole.ACCOUNT_ADMIN})
    assert can(alice, Action.MANAGE_VIRTUAL_ACCOUNTS, account=acme)


def test_memberships_follow_the_directory_at_login(
    admin_client, client_factory, ldap_configured, make_account, slapd_server
):
    acme = make_account("Acme")
    admin_client.post("/admin/access/ldap/groups/update/")
    devs = LdapGroup.objects.get(name="devs")
    admin_client.post(f"/admin/access/ldap/groups/{devs.pk}/", {"account": acme.pk, "role": AccountRole.ACCOUNT_USER})
    carol = _login(client_factory(), "carol", "Carol-Pass-3")
    assert not can(carol, Action.VIEW_ACCOUNT, account=acme)

    slapd_server.add_member("devs", "carol")
    try:
        carol = _login(client_factory(), "carol", "Carol-Pass-3")
        assert can(carol, Action.VIEW_ACCOUNT, account=acme)
    finally:
        slapd_server.remove_member("devs", "carol")
    carol = _login(client_factory(), "carol", "Carol-Pass-3")
    assert not can(carol, Action.VIEW_ACCOUNT, account=acme)


def test_removing_the_role_withdraws_it(admin_client, client_factory, ldap_configured, make_account):
    acme = make_account("Acme")
    admin_client.post("/admin/access/ldap/groups/update/")
    devs = LdapGroup.objects.get(name="devs")
    admin_client.post(f"/admin/access/ldap/groups/{devs.pk}/", {"account": acme.pk, "role": AccountRole.ACCOUNT_USER})
    alice = _login(client_factory(), "alice", "Alice-Pass-1")
    grant = RoleGrant.objects.get(group__ldap_link__ldap_group=devs)
    response = admin_client.post(f"/admin/access/ldap/groups/{devs.pk}/roles/{grant.pk}/remove/")
    assert response.status_code == 302
    assert not can(alice, Action.VIEW_ACCOUNT, account=acme)
    assert not LdapGroupLink.objects.exists()  # the group's user group went with its last role


def test_a_group_gone_from_the_server_loses_its_roles(admin_client, ldap_configured, make_account, slapd_server):
    acme = make_account("Acme")
    slapd_server.add_group("temps", ["alice"], gid=20099)
    admin_client.post("/admin/access/ldap/groups/update/")
    temps = LdapGroup.objects.get(name="temps")
    admin_client.post(f"/admin/access/ldap/groups/{temps.pk}/", {"account": acme.pk, "role": AccountRole.ACCOUNT_USER})
    assert RoleGrant.objects.filter(group__ldap_link__ldap_group=temps).exists()
    slapd_server.modify("dn: cn=temps,ou=groups,dc=example,dc=com\nchangetype: delete\n")
    admin_client.post("/admin/access/ldap/groups/update/")
    assert not LdapGroup.objects.filter(name="temps").exists()
    assert not RoleGrant.objects.filter(group__name="LDAP temps").exists()


def test_import_without_group_base_dn_is_refused(admin_client, ldap_data, db):
    from admin_widgets.access_management.services import save_ldap_config

    save_ldap_config(actor=None, data=dict(ldap_data, group_base_dn=""))
    response = admin_client.post("/admin/access/ldap/groups/update/", follow=True)
    assert b"Group Base DN" in response.content
    assert not LdapGroup.objects.exists()


def test_ldap_users_tab_lists_ldap_users_only(
    admin_client, client_factory, ldap_configured, django_assert_max_num_queries
):
    _login(client_factory(), "alice", "Alice-Pass-1")
    page = admin_client.get("/admin/access/ldap/users/")
    assert b"alice" in page.content
    assert b"sysadmin" not in page.content.split(b"ldap-users")[1]  # the local admin is not an LDAP user
    for name in ("bob", "carol"):
        _login(client_factory(), name, {"bob": "Bob-Pass-2", "carol": "Carol-Pass-3"}[name])
    with django_assert_max_num_queries(12):
        admin_client.get("/admin/access/ldap/users/")


def test_more_groups_than_allowed_are_refused(admin_client, ldap_configured, monkeypatch):
    from accounts import ldap_directory

    monkeypatch.setattr(ldap_directory, "MAX_GROUPS", 1)  # the server has two groups
    response = admin_client.post("/admin/access/ldap/groups/update/", follow=True)
    assert b"more than 1 groups" in response.content
    assert not LdapGroup.objects.exists()


def test_operator_sees_a_group_but_cannot_give_roles(admin_client, make_user, ldap_configured, make_account):
    from django.test import Client

    from tests.factories import PASSWORD

    acme = make_account("Acme")
    admin_client.post("/admin/access/ldap/groups/update/")
    devs = LdapGroup.objects.get(name="devs")
    operator = Client()
    operator.post("/login/", {"username": make_user("op2", "system_operator").username, "password": PASSWORD})
    page = operator.get(f"/admin/access/ldap/groups/{devs.pk}/?account={acme.pk}")
    assert page.status_code == 200 and b"alice" in page.content
    assert b'method="post"' not in page.content.split(b'<main id="main">')[1]
    response = operator.post(f"/admin/access/ldap/groups/{devs.pk}/", {"account": acme.pk, "role": "account_user"})
    assert response.status_code == 403
    assert not RoleGrant.objects.filter(group__ldap_link__isnull=False).exists()

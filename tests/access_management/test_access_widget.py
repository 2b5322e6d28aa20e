"""The Access Management widget: pages, RBAC (System Admin changes, System Operator views, System
User nothing), CSRF, secrets encrypted at rest and never rendered, Test connection."""

import pytest
from django.db import connection
from django.test import Client

from accounts.models import ExternalIdentityProvider, LdapConfig
from accounts.roles import SystemRole
from core import crypto
from tests.access_management.slapd_server import READER_PASSWORD

PAGES = [
    "/admin/access/ldap/",
    "/admin/access/ldap/users/",
    "/admin/access/ldap/groups/",
    "/admin/access/adfs/",
    "/admin/access/sso/",
]


def _form(data):
    return {key: ("on" if value is True else value) for key, value in data.items() if value is not False}


def test_widget_is_on_the_admin_grid(admin_client, op_client):
    assert b"Access Management" in admin_client.get("/admin/").content


@pytest.mark.parametrize("path", PAGES)
def test_every_tab_opens_for_admin_and_operator(admin_client, make_user, path):
    from tests.factories import PASSWORD

    page = admin_client.get(path)
    assert page.status_code == 200
    operator = Client()
    assert (
        operator.post(
            "/login/", {"username": make_user("operator", SystemRole.OPERATOR).username, "password": PASSWORD}
        ).status_code
        == 302
    )
    response = operator.get(path)
    assert response.status_code == 200
    assert b"only a System Admin can change it" in response.content
    main = response.content.split(b'<main id="main">')[1]
    assert b'method="post"' not in main  # no form that changes anything


@pytest.mark.parametrize("path", PAGES + ["/admin/access/"])
def test_system_user_gets_403_and_anonymous_the_login_page(client, make_user, login, path):
    assert client.get(path).status_code == 302
    login(make_user("plain"))
    assert client.get(path).status_code == 403


def test_operator_cannot_change_anything(op_client, ldap_data, db):
    for path, data in [
        ("/admin/access/ldap/", _form(ldap_data)),
        ("/admin/access/adfs/", {"enabled": "on"}),
        ("/admin/access/sso/", {"enabled": "on"}),
        ("/admin/access/ldap/groups/update/", {}),
    ]:
        assert op_client.post(path, data).status_code == 403, path
    assert not LdapConfig.objects.filter(enabled=True).exists()
    assert not ExternalIdentityProvider.objects.filter(enabled=True).exists()


def test_admin_saves_ldap_config_through_the_form(admin_client, ldap_data):
    response = admin_client.post("/admin/access/ldap/", _form(ldap_data))
    assert response.status_code == 302
    config = LdapConfig.objects.get()
    assert config.enabled and config.port == ldap_data["port"] and config.bind_password == READER_PASSWORD


def test_bind_password_is_encrypted_and_never_rendered(admin_client, ldap_data):
    admin_client.post("/admin/access/ldap/", _form(ldap_data))
    with connection.cursor() as cursor:
        cursor.execute("SELECT bind_password FROM accounts_ldapconfig")
        (stored,) = cursor.fetchone()
    assert READER_PASSWORD not in stored
    assert crypto.decrypt(stored) == READER_PASSWORD
    for path in PAGES:
        content = admin_client.get(path).content.decode()
        assert READER_PASSWORD not in content, path
    page = admin_client.get("/admin/access/ldap/").content.decode()
    assert ">set<" in page
    # An invalid submission re-renders the form: still without the password.
    response = admin_client.post("/admin/access/ldap/", _form(dict(ldap_data, host="bad host!")))
    assert response.status_code == 200 and READER_PASSWORD not in response.content.decode()


def test_client_secrets_are_encrypted_and_never_rendered(admin_client, db):
    secret = "Sso-App-Secret-0042"
    response = admin_client.post(
        "/admin/access/sso/",
        {"enabled": "on", "server_url": "https://idp.example", "client_id": "app", "client_secret": secret},
    )
    assert response.status_code == 302
    with connection.cursor() as cursor:
        cursor.execute("SELECT client_secret FROM accounts_externalidentityprovider WHERE kind = 'sso'")
        (stored,) = cursor.fetchone()
    assert secret not in stored and crypto.decrypt(stored) == secret
    for path in PAGES:
        assert secret not in admin_client.get(path).content.decode()


def test_test_connection_reports_success_and_failure(admin_client, ldap_data):
    ok = admin_client.post("/admin/access/ldap/", dict(_form(ldap_data), action="test"))
    assert ok.status_code == 200 and b"Connected to" in ok.content
    assert not LdapConfig.objects.filter(enabled=True).exists()  # testing saves nothing
    bad = admin_client.post("/admin/access/ldap/", dict(_form(ldap_data), bind_password="nope", action="test"))
    assert b"the Bind DN or its password was refused" in bad.content
    assert b"nope" not in bad.content


def test_forms_need_the_csrf_token(sysadmin, ldap_data):
    from tests.factories import PASSWORD

    browser = Client(enforce_csrf_checks=True)
    login_page = browser.get("/login/")
    token = login_page.cookies["csrftoken"].value
    assert (
        browser.post(
            "/login/", {"username": "sysadmin", "password": PASSWORD, "csrfmiddlewaretoken": token}
        ).status_code
        == 302
    )
    for path in ["/admin/access/ldap/", "/admin/access/adfs/", "/admin/access/ldap/groups/update/"]:
        assert browser.post(path, _form(ldap_data)).status_code == 403
    assert not LdapConfig.objects.exists() or not LdapConfig.objects.get().enabled


def test_enabling_adfs_disables_the_other_tabs(admin_client, ldap_data):
    admin_client.post("/admin/access/ldap/", _form(ldap_data))
    response = admin_client.post(
        "/admin/access/adfs/",
        {
            "enabled": "on",
            "server_url": "https://adfs.example",
            "adfs_mode": "v4",
            "resource_name": "urn:x",
            "client_id": "cid",
        },
    )
    assert response.status_code == 302
    page = admin_client.get("/admin/access/ldap/")
    assert b"OAuth2 ADFS is enabled" in page.content and b'value="save"' not in page.content
    refused = admin_client.post("/admin/access/ldap/", _form(dict(ldap_data, title="Changed")))
    assert b"OAuth2 ADFS is enabled" in refused.content
    assert LdapConfig.objects.get().title == "Test LDAP"
    # ... and LDAP sign-in is off while ADFS is on.
    assert Client().post("/login/", {"username": "alice", "password": "Alice-Pass-1"}).status_code == 200


def test_sso_needs_ldap_off(admin_client, ldap_data):
    admin_client.post("/admin/access/ldap/", _form(ldap_data))
    response = admin_client.post(
        "/admin/access/sso/",
        {"enabled": "on", "server_url": "https://idp.example", "client_id": "app", "client_secret": "s"},
    )
    assert response.status_code == 200 and b"disable LDAP first" in response.content


@pytest.mark.parametrize("url", ["ftp://adfs.example", "adfs.example", "https://", "https://x.example/?a=b"])
def test_bad_server_url_is_refused(admin_client, db, url):
    response = admin_client.post(
        "/admin/access/adfs/",
        {"enabled": "on", "server_url": url, "adfs_mode": "v4", "resource_name": "r", "client_id": "c"},
    )
    assert response.status_code == 200 and b"must begin with https:// or http://" in response.content
    assert not ExternalIdentityProvider.objects.filter(enabled=True).exists()


def test_redirect_uri_is_shown_read_only(admin_client):
    page = admin_client.get("/admin/access/adfs/").content.decode()
    assert 'value="http://testserver/login/adfs/callback/" readonly' in page


def test_list_pages_keep_their_query_count(admin_client, db, django_assert_max_num_queries):
    from django.utils import timezone

    from accounts.models import LdapGroup

    LdapGroup.objects.bulk_create(
        [LdapGroup(dn=f"cn=g{i},dc=x", name=f"g{i}", imported_at=timezone.now()) for i in range(3)]
    )
    with django_assert_max_num_queries(12) as few:
        admin_client.get("/admin/access/ldap/groups/")
    LdapGroup.objects.bulk_create(
        [LdapGroup(dn=f"cn=h{i},dc=x", name=f"h{i}", imported_at=timezone.now()) for i in range(30)]
    )
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get("/admin/access/ldap/groups/")

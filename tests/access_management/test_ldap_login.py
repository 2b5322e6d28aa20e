"""LDAP sign-in against a real slapd: first login creates the user, wrong passwords fail, a saved
configuration applies to the next login without a restart, local users cannot be taken over."""

import pytest
from django.contrib.auth import get_user_model

from admin_widgets.access_management.services import save_ldap_config
from core.models import Event
from tests import ports
from tests.access_management.slapd_server import SUFFIX

User = get_user_model()


def _login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def test_ldap_user_logs_in_through_the_login_page(client, ldap_configured):
    response = _login(client, "alice", "Alice-Pass-1")
    assert response.status_code == 302, response.content[:400]
    user = User.objects.get(username="alice")
    assert user.source == User.Source.LDAP
    assert (user.first_name, user.last_name, user.email) == ("Alice", "Liddell", "alice@example.com")
    assert not user.has_usable_password()
    assert not user.needs_first_login_wizard  # the wizard's new-password step makes no sense for LDAP users
    assert client.get("/").status_code == 200
    assert Event.objects.filter(event_type="user.added", message__contains="alice").exists()


def test_second_login_reuses_the_user(client, ldap_configured):
    assert _login(client, "alice", "Alice-Pass-1").status_code == 302
    client.post("/logout/")
    assert _login(client, "ALICE", "Alice-Pass-1").status_code == 302
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_wrong_password_is_rejected(client, ldap_configured):
    response = _login(client, "alice", "wrong-password")
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not User.objects.filter(username="alice").exists()
    assert "_auth_user_id" not in client.session
    assert Event.objects.filter(event_type="auth.login_failed").exists()


def test_unknown_ldap_user_and_empty_password_are_rejected(client, ldap_configured):
    assert _login(client, "nobody", "whatever").status_code == 200
    assert _login(client, "alice", "").status_code == 200
    assert not User.objects.exists()


def test_an_ldap_entry_never_opens_a_local_user_of_the_same_name(client, ldap_configured, make_user):
    make_user("carol")  # a local user, with the tests' local password
    assert _login(client, "carol", "Carol-Pass-3").status_code == 200
    assert User.objects.get(username="carol").source == User.Source.LOCAL
    assert "_auth_user_id" not in client.session


def test_local_login_still_works_with_ldap_on(client, ldap_configured, sysadmin):
    from tests.factories import PASSWORD

    assert _login(client, "sysadmin", PASSWORD).status_code == 302


def test_disabled_ldap_user_cannot_log_in(client, ldap_configured):
    assert _login(client, "bob", "Bob-Pass-2").status_code == 302
    client.post("/logout/")
    User.objects.filter(username="bob").update(is_active=False)
    assert _login(client, "bob", "Bob-Pass-2").status_code == 200


def test_configuration_changes_apply_without_restart(client, ldap_data, db):
    assert _login(client, "alice", "Alice-Pass-1").status_code == 200  # nothing configured yet

    save_ldap_config(actor=None, data=ldap_data)
    assert _login(client, "alice", "Alice-Pass-1").status_code == 302
    client.post("/logout/")

    save_ldap_config(actor=None, data=dict(ldap_data, user_base_dn=f"ou=groups,{SUFFIX}"))
    assert _login(client, "alice", "Alice-Pass-1").status_code == 200  # alice is not under that base

    save_ldap_config(actor=None, data=dict(ldap_data, bind_password="", clear_bind_password=False))
    assert _login(client, "alice", "Alice-Pass-1").status_code == 302  # blank password field kept the stored one
    client.post("/logout/")

    save_ldap_config(actor=None, data=dict(ldap_data, enabled=False))
    assert _login(client, "alice", "Alice-Pass-1").status_code == 200


def test_wrong_bind_password_fails_login(client, ldap_data, db):
    save_ldap_config(actor=None, data=dict(ldap_data, bind_password="not-the-bind-password"))
    assert _login(client, "alice", "Alice-Pass-1").status_code == 200


def test_unreachable_server_fails_login_cleanly(client, ldap_data, db):
    save_ldap_config(actor=None, data=dict(ldap_data, port=ports.claim_port(ports.DIRECTORY)))
    assert _login(client, "alice", "Alice-Pass-1").status_code == 200


@pytest.mark.parametrize(
    "field, value",
    [
        ("host", "not a host!"),
        ("host", ""),
        ("port", 70000),
        ("user_base_dn", "not-a-dn"),
        ("user_base_dn", ""),
        ("uid_attribute", "uid)(x=*"),
        ("bind_dn", "garbage"),
        ("title", ""),
        ("group_base_dn", "=="),
        ("encryption", "starttls"),
        ("ldap_type", "novell"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(ldap_data, db, field, value):
    from core.errors import ServiceError

    with pytest.raises(ServiceError):
        save_ldap_config(actor=None, data=dict(ldap_data, **{field: value}))
    from accounts.models import LdapConfig

    assert not LdapConfig.objects.filter(enabled=True).exists()

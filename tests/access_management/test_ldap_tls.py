"""simple-tls: LDAP over TLS against a real slapd whose certificate a private CA signed."""

from django.contrib.auth import get_user_model

from admin_widgets.access_management.services import save_ldap_config, try_ldap_config

User = get_user_model()


def _tls_data(ldap_data, server, **changes):
    return dict(ldap_data, port=server.port, encryption="simple-tls", **changes)


def test_simple_tls_login_with_the_ca_certificate(client, db, ldap_data, slapd_tls_server):
    ca_pem = slapd_tls_server.tls[0].read_text()
    save_ldap_config(actor=None, data=_tls_data(ldap_data, slapd_tls_server, ca_certificate=ca_pem))
    response = client.post("/login/", {"username": "tina", "password": "Tina-Pass-4"})
    assert response.status_code == 302
    assert User.objects.get(username="tina").source == User.Source.LDAP


def test_an_untrusted_certificate_is_refused(client, db, ldap_data, slapd_tls_server):
    from core.errors import ServiceError

    data = _tls_data(ldap_data, slapd_tls_server)
    save_ldap_config(actor=None, data=data)
    assert client.post("/login/", {"username": "tina", "password": "Tina-Pass-4"}).status_code == 200
    try:
        try_ldap_config(data=data)
    except ServiceError as error:
        assert "failed" in error.message
    else:
        raise AssertionError("a server certificate no trusted CA signed was accepted")


def test_plain_against_a_tls_port_fails(client, db, ldap_data, slapd_tls_server):
    save_ldap_config(actor=None, data=dict(ldap_data, port=slapd_tls_server.port, encryption="plain"))
    assert client.post("/login/", {"username": "tina", "password": "Tina-Pass-4"}).status_code == 200


def test_a_bad_ca_certificate_is_refused(ldap_data, db):
    import pytest

    from core.errors import ServiceError

    with pytest.raises(ServiceError, match="not a PEM X.509 certificate"):
        save_ldap_config(
            actor=None,
            data=dict(
                ldap_data,
                encryption="simple-tls",
                ca_certificate="-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            ),
        )

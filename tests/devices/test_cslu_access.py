"""Who may push to the CSLU endpoint (/cslu/v1/pi/{LocalAccountName}-{n}): the Security widget's
"CSLU pushes" setting (Account tab). Three modes: open (any source, as the guide describes),
token (a push that would add a product instance must carry a registration token) and networks
(only sources in the listed CIDRs; the default lists the private and loopback networks).
"""

import json

import pytest

from accounts.security_models import SecurityPolicy
from core.models import Event
from licensing.models import DeviceIdentity, LicenseUsage, ProductInstance, RegistrationToken
from tests.devices.devicesim import cslu_path, make_csr, row_counts, rum

pytestmark = pytest.mark.django_db


def _access(mode, networks=None):
    values = {"cslu_access": mode}
    if networks is not None:
        values["cslu_networks"] = networks
    SecurityPolicy.objects.update_or_create(pk=1, defaults=values)


def _push(dev, account, *, report_id="1", usage=(), **fields):
    """POST a csr-signed push; the HTTP response (not decoded: a refused source gets no envelope)."""
    fields.setdefault("csr", make_csr(dev.key))
    payload = dev.payload(reports=[rum(dev.key, report_id, list(usage))], **fields)
    return dev.post(dev.envelope("REPORT_USAGE", payload), cslu_path(account))


def _reply(response):
    assert response.status_code == 200, response.content[:300]
    return json.loads(json.loads(response.content)["payload"])


def _from(dev, address, forwarded_for=None):
    dev.environ = {"REMOTE_ADDR": address}
    if forwarded_for is not None:
        dev.environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return dev


def _refused(response, address):
    assert response.status_code == 403, response.content[:300]
    body = json.loads(response.content)
    assert (body["status"], body["error_code"]) == ("FAILED", "SOURCE_NOT_ALLOWED")
    assert address in body["message"] and "Security" in body["message"]


# --- networks (the default) ----------------------------------------------------------------------


def test_the_default_takes_pushes_from_private_and_loopback_networks_only(device, acme):
    policy = SecurityPolicy()
    assert policy.cslu_access == "networks"
    assert "10.0.0.0/8" in policy.cslu_networks and "fc00::/7" in policy.cslu_networks
    allowed = ["127.0.0.1", "10.20.30.40", "172.16.5.5", "192.168.1.9", "::1", "fd00::5", "::ffff:10.1.2.3"]
    for address in allowed:
        assert _reply(_push(_from(device(), address), acme))["status"] == "SUCCESS", address
    assert ProductInstance.objects.count() == len(allowed)
    before = row_counts()
    for address in ("203.0.113.9", "8.8.8.8", "2001:db8::1", "::ffff:203.0.113.9", "", "not-an-address"):
        _refused(_push(_from(device(), address), acme), address or "an unknown address")
    assert row_counts() == before  # refused before the message is read: not even a nonce


def test_the_operators_networks_apply_to_every_push_to_the_endpoint(device, registered, acme):
    _access("networks", "198.51.100.0/24\n2001:db8:5::/48")
    assert _reply(_push(_from(device(), "198.51.100.7"), acme))["status"] == "SUCCESS"
    assert _reply(_push(_from(device(), "2001:db8:5::9"), acme))["status"] == "SUCCESS"
    _refused(_push(_from(device(), "10.0.0.1"), acme), "10.0.0.1")
    # a registered device pushing with its certificate is held to the list too ...
    dev = _from(registered(), "10.0.0.1")
    response = dev.post(dev.envelope("REPORT_USAGE", dev.payload(reports=[rum(dev.key, "1", [])])), cslu_path(acme))
    _refused(response, "10.0.0.1")
    # ... but the list is the CSLU endpoint's: /SmartTransport is not affected
    assert dev.send("REPORT_USAGE", reports=[rum(dev.key, "2", [])])["status"] == "SUCCESS"


def test_an_unknown_account_url_from_an_unlisted_source_is_refused_the_same(device, acme):
    """The source is checked first: an unlisted source cannot probe which account names exist."""
    dev = _from(device(), "203.0.113.9")
    dev.post(dev.envelope("REPORT_USAGE", dev.payload(reports=[rum(dev.key, "1", [])])), "/cslu/v1/pi/Nobody-999")
    _refused(dev.last_response, "203.0.113.9")


def test_x_forwarded_for_counts_only_behind_the_proxy(device, acme, settings):
    # Without ONPREM_BEHIND_PROXY the header is the client's own word: ignored.
    _refused(_push(_from(device(), "203.0.113.9", forwarded_for="10.0.0.1"), acme), "203.0.113.9")
    # Behind the TLS proxy (ONPREM_BEHIND_PROXY sets SECURE_PROXY_SSL_HEADER) the address the
    # proxy appended last is the client's; what the client itself sent before it is not.
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    _refused(_push(_from(device(), "10.0.0.5", forwarded_for="10.9.9.9, 203.0.113.9"), acme), "203.0.113.9")
    assert (
        _reply(_push(_from(device(), "10.0.0.5", forwarded_for="203.0.113.9, 10.1.1.1"), acme))["status"] == "SUCCESS"
    )


# --- open ------------------------------------------------------------------------------------------


def test_open_takes_pushes_from_any_source(device, acme):
    _access("open", "")
    assert _reply(_push(_from(device(), "203.0.113.9"), acme))["status"] == "SUCCESS"


# --- token -----------------------------------------------------------------------------------------


def test_token_mode_refuses_a_new_product_instance_without_a_token(device, acme):
    _access("token")
    before = row_counts()
    reply = _reply(_push(device(), acme, usage=[{"tag": "regid.x", "count": 1}]))
    assert (reply["status"], reply["error_code"]) == ("FAILED", "TOKEN_REQUIRED")
    assert "id_token" in reply["message"]
    after = row_counts()
    assert {k: v for k, v in after.items() if k != "DeviceNonce"} == {
        k: v for k, v in before.items() if k != "DeviceNonce"
    }


def test_token_mode_adds_the_product_instance_to_the_tokens_virtual_account(
    device, registered, acme, token, license_def
):
    from licensing.services.virtual_accounts import create_virtual_account

    _access("token")
    lic = license_def("Advantage")
    lab = create_virtual_account(actor=None, account=acme, name="Lab")
    tok = token(va=lab, export_controlled=True)
    dev = device()
    reply = _reply(_push(dev, acme, id_token=tok.token, usage=[{"tag": lic.entitlement_tag, "count": 3}]))
    assert reply["status"] == "SUCCESS"
    pi = ProductInstance.objects.get()
    assert pi.virtual_account == lab
    identity = DeviceIdentity.objects.get(product_instance=pi)
    assert (
        identity.created_with_token,
        identity.registration_token,
        identity.created_in_virtual_account,
        identity.export_controlled,
        identity.transport,
    ) == (tok, tok, lab, True, "cslu")
    assert RegistrationToken.objects.get(pk=tok.pk).uses == 1
    assert LicenseUsage.objects.get().count == 3
    # Its later pushes are authenticated by the pinned key: no token needed, none used.
    assert _reply(_push(dev, acme, report_id="2"))["status"] == "SUCCESS"
    assert RegistrationToken.objects.get(pk=tok.pk).uses == 1
    # A device registered with a token (REGISTER) pushes with its certificate, as in every mode.
    reg = registered()
    assert reg.send("REPORT_USAGE", path=cslu_path(acme), reports=[rum(reg.key, "1", [])])["status"] == "SUCCESS"


@pytest.mark.parametrize(
    "how, code", [("other_account", "TOKEN_UNKNOWN"), ("revoked", "TOKEN_REVOKED"), ("garbage", "TOKEN_UNKNOWN")]
)
def test_a_bad_token_on_a_push_writes_nothing(device, acme, token, make_account, how, code):
    from licensing.services.tokens import revoke_token

    if how == "other_account":
        value = token(va=make_account("Globex").virtual_accounts.get()).token
    elif how == "revoked":
        tok = token()
        revoke_token(actor=None, token=tok)
        value = tok.token
    else:
        value = "not-a-token"
    for mode in ("token", "networks"):  # a token sent is checked whatever the mode
        _access(mode)
        before = row_counts()
        reply = _reply(_push(device(), acme, id_token=value))
        assert reply["error_code"] == code, reply
        assert {k: v for k, v in row_counts().items() if k != "DeviceNonce"} == {
            k: v for k, v in before.items() if k != "DeviceNonce"
        }


def test_a_token_on_a_push_counts_against_its_registration_limit(device, acme, token):
    _access("token")
    SecurityPolicy.objects.filter(pk=1).update(registration_limit_per_token=1)
    tok = token()
    assert _reply(_push(device(), acme, id_token=tok.token))["status"] == "SUCCESS"
    response = _push(device(), acme, id_token=tok.token)
    assert response.status_code == 429
    assert "registration token" in json.loads(json.loads(response.content)["payload"])["message"]
    assert ProductInstance.objects.count() == 1 and RegistrationToken.objects.get(pk=tok.pk).uses == 1


def test_malformed_id_token_on_a_push(device, acme):
    reply = _reply(_push(device(), acme, id_token=""))
    assert reply["error_code"] == "MALFORMED" and "id_token" in reply["message"]


# --- the Security widget ---------------------------------------------------------------------------

BASE = "/admin/security/"


def _account_form(**overrides):
    data = {
        "auto_lock_attempts": "5",
        "auto_lock_window_minutes": "15",
        "lock_expiration_minutes": "30",
        "session_limit": "5",
        "cslu_access": "networks",
        "cslu_networks": "10.0.0.0/8",
        "device_max_license_count": "100000",
        "device_max_licenses_per_message": "100",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_system_admin_sets_the_cslu_access(sysadmin, login):
    client = login(sysadmin)
    page = client.get(BASE).content.decode()
    assert 'name="cslu_access"' in page and 'name="cslu_networks"' in page
    assert "Open: any source, no token" in page and "fc00::/7" in page
    response = client.post(BASE, _account_form(cslu_networks=" 192.0.2.0/24, 2001:DB8::/32\n10.1.2.3 "))
    assert response.status_code == 302
    policy = SecurityPolicy.objects.get()
    assert policy.cslu_access == "networks"
    assert policy.cslu_networks == "192.0.2.0/24\n2001:db8::/32\n10.1.2.3/32"  # one per line, canonical
    assert client.post(BASE, _account_form(cslu_access="token", cslu_networks="")).status_code == 302
    assert SecurityPolicy.objects.get().cslu_access == "token"
    assert (
        client.post(
            BASE, _account_form(device_max_license_count="250", device_max_licenses_per_message="20")
        ).status_code
        == 302
    )
    policy = SecurityPolicy.objects.get()
    assert (policy.device_max_license_count, policy.device_max_licenses_per_message) == (250, 20)
    assert Event.objects.filter(event_type="security.account_settings_changed").count() == 3


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("cslu_networks", "10.0.0.300/8", "“10.0.0.300/8” is not a network"),
        ("cslu_networks", "10.0.0.0/8, example.com", "“example.com” is not a network"),
        ("cslu_networks", "10.1.2.3/8", "“10.1.2.3/8” has host bits set: did you mean 10.0.0.0/8?"),
        ("cslu_networks", "", "List at least one network"),
        ("cslu_networks", "10.0.0.0/8 " * 300, "at most 100 networks"),
        ("cslu_access", "everyone", "Select a valid choice"),
        ("device_max_license_count", "0", "greater than or equal to 1"),
        ("device_max_license_count", "1000001", "less than or equal to 1000000"),
        ("device_max_licenses_per_message", "501", "less than or equal to 500"),
    ],
)
def test_bad_cslu_settings_change_nothing(sysadmin, login, field, value, message):
    client = login(sysadmin)
    before = Event.objects.count()
    response = client.post(BASE, _account_form(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SecurityPolicy.objects.exists() and Event.objects.count() == before


def test_the_service_refuses_bad_networks_too(sysadmin):
    from accounts.services import password_policy
    from core.errors import ServiceError

    with pytest.raises(ServiceError) as error:
        password_policy.update("account", actor=sysadmin, cslu_access="networks", cslu_networks="300.1.1.1/8")
    assert error.value.field == "cslu_networks" and "is not a network" in error.value.message
    assert not SecurityPolicy.objects.exists()


def test_a_form_without_the_new_fields_keeps_them(sysadmin, login):
    """A page opened before the upgrade posts no CSLU fields: they keep their values."""
    _access("token")
    client = login(sysadmin)
    form = {key: value for key, value in _account_form().items() if not key.startswith(("cslu_", "device_"))}
    assert client.post(BASE, form).status_code == 302
    policy = SecurityPolicy.objects.get()
    assert (policy.cslu_access, policy.device_max_license_count) == ("token", 100_000)


def test_operator_sees_the_cslu_access_read_only(sysop, login):
    client = login(sysop)
    page = client.get(BASE).content.decode()
    textarea = page.split('<textarea name="cslu_networks"')[1].split(">", 1)[0]
    select = page.split('<select name="cslu_access"')[1].split(">", 1)[0]
    assert "disabled" in textarea and "disabled" in select
    assert client.post(BASE, _account_form(cslu_access="open")).status_code == 403
    assert not SecurityPolicy.objects.exists()

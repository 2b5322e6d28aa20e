"""OAuth2 ADFS and SSO sign-in against a real OIDC provider process (oidc_provider.py): the full
authorization-code flow through the login page's button, claims -> system roles, and every kind
of bad token or callback refused."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.roles import SystemRole
from admin_widgets.access_management.services import save_provider
from core.models import Event
from tests import ports
from tests.access_management.oidc_provider import CLIENT_ID, CLIENT_SECRET

User = get_user_model()


def _to_provider(client, kind="adfs"):
    """Press the login page's button; the provider's authorization URL it leads to."""
    response = client.post(f"/login/{kind}/", {"next": ""})
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def _provider_answer(url):
    """The browser at the provider: it signs the user in and sends them back with a code."""
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:300]
    back = urlsplit(answer.headers["Location"])
    return back.path, {key: values[0] for key, values in parse_qs(back.query).items()}


def _sign_in(client, kind="adfs"):
    path, params = _provider_answer(_to_provider(client, kind))
    assert path == f"/login/{kind}/callback/"
    return client.get(path, params), params


def _signed_in(client):
    return "_auth_user_id" in client.session


def test_login_page_shows_the_adfs_button_only_when_enabled(client, adfs_configured):
    assert b"OAuth2 ADFS Log in" not in client.get("/login/").content
    adfs_configured()
    page = client.get("/login/").content.decode()
    assert "OAuth2 ADFS Log in" in page and 'action="/login/adfs/"' in page


@pytest.mark.parametrize(
    "claim, role",
    [
        (["ONPREM-SYSADMIN"], SystemRole.ADMIN),
        (["ONPREM-SYSOP"], SystemRole.OPERATOR),
        (["ONPREM-SYSUSER"], SystemRole.USER),
        ([], SystemRole.USER),
        (["ONPREM-SYSUSER", "ONPREM-SYSOP"], SystemRole.OPERATOR),
    ],
)
def test_v4_flow_signs_in_and_maps_role_claims(client, adfs_configured, oidc_provider, claim, role):
    adfs_configured()
    oidc_provider.next_user("jane@corp.example", roles=claim, email="jane@corp.example")
    response, _params = _sign_in(client)
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="jane@corp.example")
    assert (user.source, user.system_role, user.email) == (User.Source.ADFS, role, "jane@corp.example")
    assert not user.has_usable_password() and not user.needs_first_login_wizard
    assert _signed_in(client)
    assert client.get("/admin/").status_code == (200 if role != SystemRole.USER else 403)


def test_the_authorization_request_carries_state_nonce_pkce_and_resource(client, adfs_configured):
    adfs_configured()
    query = parse_qs(urlsplit(_to_provider(client)).query)
    assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and len(query["state"][0]) >= 32
    assert query["nonce"] and query["resource"] == ["urn:onprem:test"]
    assert query["redirect_uri"] == ["http://testserver/login/adfs/callback/"]


def test_the_token_request_carries_the_code_verifier_client_and_resource(client, adfs_configured, oidc_provider):
    adfs_configured()
    _sign_in(client)
    sent = requests.get(f"{oidc_provider.url}/_control", timeout=5).json()["token_requests"][-1]
    assert sent == ["client_id", "client_secret", "code", "code_verifier", "grant_type", "redirect_uri", "resource"]


def test_claims_follow_the_provider_at_every_login(client, adfs_configured, oidc_provider, sysadmin):
    # Another enabled System Admin exists: the last one is never demoted (test_last_system_admin.py).
    adfs_configured()
    oidc_provider.next_user("kim@corp.example", roles=["ONPREM-SYSADMIN"])
    _sign_in(client)
    client.post("/logout/")
    oidc_provider.next_user("kim@corp.example", roles=["ONPREM-SYSUSER"])
    _sign_in(client)
    assert User.objects.get(username="kim@corp.example").system_role == SystemRole.USER


def test_claims_never_demote_the_last_enabled_system_admin(client, adfs_configured, oidc_provider):
    adfs_configured()
    oidc_provider.next_user("kim@corp.example", roles=["ONPREM-SYSADMIN"])
    _sign_in(client)
    client.post("/logout/")
    oidc_provider.next_user("kim@corp.example", roles=["ONPREM-SYSUSER"])
    response, _params = _sign_in(client)
    assert response.status_code == 302 and _signed_in(client)
    assert User.objects.get(username="kim@corp.example").system_role == SystemRole.ADMIN
    assert Event.objects.filter(event_type="user.last_admin_kept").count() == 1
    assert client.get("/admin/").status_code == 200


def test_without_import_claims_role_claims_are_ignored(client, adfs_configured, oidc_provider):
    adfs_configured(import_claims=False)
    oidc_provider.next_user("lee@corp.example", roles=["ONPREM-SYSADMIN"])
    _sign_in(client)
    assert User.objects.get(username="lee@corp.example").system_role == SystemRole.USER


def test_v3_mode_uses_the_access_token(client, adfs_configured, oidc_provider):
    adfs_configured(mode="v3")
    oidc_provider.next_user("old@corp.example", roles=["ONPREM-SYSOP"])
    url = _to_provider(client)
    assert urlsplit(url).path == "/adfs/oauth2/authorize"
    path, params = _provider_answer(url)
    response = client.get(path, params)
    assert response.status_code == 302 and _signed_in(client)
    assert User.objects.get(username="old@corp.example").system_role == SystemRole.OPERATOR


@pytest.mark.parametrize(
    "mode, reason",
    [
        ("bad_signature", "signature is not valid"),
        ("wrong_aud", "another audience"),
        ("expired", "expired"),
        ("wrong_nonce", "nonce does not match"),
        ("wrong_iss", "unexpected issuer"),
        ("alg_none", "signature is not valid"),
        ("hs256_public_key", "signature is not valid"),
        ("not_yet_valid", "not valid yet"),
        ("no_expiry", "has no expiry"),
        ("no_sub", "lacks “sub” claim"),
        ("bad_at_hash", "invalid “at_hash” claim"),
        ("token_error_in_200", "the token endpoint refused the code (HTTP 200, server_error)"),
        ("token_not_json", "the token endpoint refused the code (HTTP 200)"),
    ],
)
def test_bad_tokens_are_refused(client, adfs_configured, oidc_provider, mode, reason):
    adfs_configured()
    oidc_provider.next_user("mallory@corp.example", roles=["ONPREM-SYSADMIN"], mode=mode)
    try:
        response, _ = _sign_in(client)
    finally:
        oidc_provider.next_user()
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert not _signed_in(client)
    assert not User.objects.filter(username="mallory@corp.example").exists()
    event = Event.objects.get(event_type="auth.external_login_failed")
    assert reason in event.message


@pytest.mark.parametrize("mode", ["v4", "v3"])
def test_tokens_without_a_kid_are_checked_against_every_published_key(client, adfs_configured, oidc_provider, mode):
    # During a signing-key rollover the JWKS has two keys, and ADFS V3's tokens name neither by kid.
    adfs_configured(mode=mode)
    oidc_provider.next_user("rolled@corp.example", roles=["ONPREM-SYSOP"], mode="rollover_no_kid")
    try:
        response, _ = _sign_in(client)
    finally:
        oidc_provider.next_user()
    assert response.status_code == 302 and response["Location"] == "/" and _signed_in(client)
    assert User.objects.get(username="rolled@corp.example").system_role == SystemRole.OPERATOR


def test_bad_state_is_refused(client, adfs_configured, oidc_provider):
    adfs_configured()
    path, params = _provider_answer(_to_provider(client))
    response = client.get(path, dict(params, state="forged-state"))
    assert response["Location"] == "/login/" and not _signed_in(client)
    assert "state parameter" in Event.objects.get(event_type="auth.external_login_failed").message
    # The flow was used up by the failed attempt: the genuine callback no longer works either.
    assert client.get(path, params)["Location"] == "/login/"
    assert not _signed_in(client)


def test_a_callback_from_another_browser_is_refused(client, adfs_configured):
    adfs_configured()
    path, params = _provider_answer(_to_provider(client))
    attacker = Client()
    assert attacker.get(path, params)["Location"] == "/login/"
    assert "_auth_user_id" not in attacker.session


def test_a_code_is_used_once(client, adfs_configured):
    adfs_configured()
    response, params = _sign_in(client)
    assert _signed_in(client)
    client.post("/logout/")
    replay = client.get("/login/adfs/callback/", params)
    assert replay["Location"] == "/login/" and not _signed_in(client)


def test_a_local_user_is_never_taken_over(client, adfs_configured, oidc_provider, make_user):
    adfs_configured()
    make_user("boss", SystemRole.USER)
    oidc_provider.next_user("boss", roles=["ONPREM-SYSADMIN"])
    response, _ = _sign_in(client)
    assert response["Location"] == "/login/" and not _signed_in(client)
    boss = User.objects.get(username="boss")
    assert boss.source == User.Source.LOCAL and boss.system_role == SystemRole.USER


def test_wrong_client_secret_fails_at_the_token_endpoint(client, adfs_configured):
    adfs_configured(secret="not-the-secret")
    response, _ = _sign_in(client)
    assert response["Location"] == "/login/" and not _signed_in(client)
    assert "invalid_client" in Event.objects.get(event_type="auth.external_login_failed").message


def test_disabled_adfs_answers_404(client, db):
    assert client.post("/login/adfs/").status_code == 404
    assert client.get("/login/adfs/callback/", {"code": "x", "state": "y"}).status_code == 404
    assert client.post("/login/other/").status_code == 404


def test_unreachable_provider_shows_an_error(client, db):
    closed = ports.claim_port(ports.DIRECTORY)  # nothing listens there
    save_provider(
        actor=None,
        kind="adfs",
        data={
            "enabled": True,
            "server_url": f"http://127.0.0.1:{closed}",
            "adfs_mode": "v4",
            "resource_name": "r",
            "client_id": "c",
        },
    )
    response = client.post("/login/adfs/", follow=True)
    assert b"cannot be reached" in response.content


def test_sso_client_flow(client, oidc_provider, db):
    save_provider(
        actor=None,
        kind="sso",
        data={"enabled": True, "server_url": oidc_provider.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    assert b"SSO Client Log in" in client.get("/login/").content
    oidc_provider.next_user("sam@corp.example", roles=["ONPREM-SYSOP"])
    response, _ = _sign_in(client, "sso")
    assert response.status_code == 302 and _signed_in(client)
    user = User.objects.get(username="sam@corp.example")
    assert (user.source, user.system_role) == (User.Source.SSO, SystemRole.OPERATOR)


def test_sso_forged_token_is_refused(client, oidc_provider, db):
    save_provider(
        actor=None,
        kind="sso",
        data={"enabled": True, "server_url": oidc_provider.url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
    )
    oidc_provider.next_user("eve@corp.example", mode="bad_signature")
    try:
        response, _ = _sign_in(client, "sso")
    finally:
        oidc_provider.next_user()
    assert response["Location"] == "/login/" and not _signed_in(client)
    assert not User.objects.filter(username="eve@corp.example").exists()


def test_next_url_is_kept_only_when_local(client, adfs_configured, oidc_provider):
    adfs_configured()
    oidc_provider.next_user("nina@corp.example", roles=["ONPREM-SYSADMIN"])
    url = client.post("/login/adfs/", {"next": "https://evil.example/"})["Location"]
    path, params = _provider_answer(url)
    assert client.get(path, params)["Location"] == "/"
    client.post("/logout/")
    url = client.post("/login/adfs/", {"next": "/admin/"})["Location"]
    path, params = _provider_answer(url)
    assert client.get(path, params)["Location"] == "/admin/"

"""The embedded OAuth2 server for real: `manage.py serve` over HTTPS, tokens fetched with
requests-oauthlib's client-credentials and password (legacy application) clients."""

import json

import pytest

requests = pytest.importorskip("requests")
requests_oauthlib = pytest.importorskip("requests_oauthlib")
oauthlib_oauth2 = pytest.importorskip("oauthlib.oauth2")

USER_PASSWORD = "Api-Live-Test-7!"
# One local account and one System Admin who has finished the initial login wizard (made by the
# services, as the widgets would): the password grant refuses a user whose wizard is pending.
SETUP = (
    "from licensing.services.accounts import activate_account, create_account; "
    "from accounts.services.users import create_user; "
    "activate_account(actor=None, account=create_account(actor=None, name='Acme', "
    "cisco_smart_account='Acme SA', cisco_virtual_account='Acme VA')); "
    f"create_user(actor=None, username='apiadmin', password='{USER_PASSWORD}', system_role='system_admin', "
    "needs_first_login_wizard=False)"
)


@pytest.fixture
def server(server_factory):
    return server_factory()


def _session(server, client):
    session = requests_oauthlib.OAuth2Session(client=client)
    session.trust_env = False  # loopback only, and only the generated certificate
    session.verify = str(server.cert)
    return session


@pytest.mark.live
def test_tokens_from_the_running_server(server):
    server.manage("migrate", "--noinput")
    server.manage("api_console", "enable")
    server.manage("shell", "-c", SETUP)
    machine = json.loads(
        server.manage(
            "api_client", "create", "--name", "machine", "--account", "Acme", "--role", "account_admin"
        ).stdout
    )
    people = json.loads(server.manage("api_client", "create", "--name", "people", "--grant-type", "password").stdout)
    server.start()
    server.wait_until_up()
    token_url = f"{server.url}/oauth/token"

    backend = _session(server, oauthlib_oauth2.BackendApplicationClient(client_id=machine["client_id"]))
    token = backend.fetch_token(
        token_url, client_id=machine["client_id"], client_secret=machine["client_secret"], timeout=20
    )
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600 and token["access_token"]

    legacy = _session(server, oauthlib_oauth2.LegacyApplicationClient(client_id=people["client_id"]))
    user_token = legacy.fetch_token(
        token_url,
        username="apiadmin",
        password=USER_PASSWORD,
        client_id=people["client_id"],
        client_secret=people["client_secret"],
        timeout=20,
    )
    assert user_token["token_type"] == "Bearer" and user_token["expires_in"] == 3600

    # the guide's curl example: a JSON body to /oauth/token
    with requests.Session() as raw:
        raw.trust_env = False
        raw.verify = str(server.cert)
        reply = raw.post(
            token_url,
            json={
                "grant_type": "client_credentials",
                "client_id": machine["client_id"],
                "client_secret": machine["client_secret"],
            },
            timeout=20,
        )
        assert reply.status_code == 200, reply.text
        wrong = raw.post(
            token_url,
            json={"grant_type": "client_credentials", "client_id": machine["client_id"], "client_secret": "wrong"},
            timeout=20,
        )
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
        # The REST API: 200 with either token, 403 without one or with a bad one (never 401).
        api = f"{server.url}/api/v1/accounts/Acme/virtual-accounts"
        assert raw.get(api, timeout=20).status_code == 403
        assert raw.get(api, headers={"Authorization": "Bearer nonsense"}, timeout=20).status_code == 403
        listed = backend.get(api, timeout=20)
        assert listed.status_code == 200, listed.text
        assert legacy.get(api, timeout=20).status_code == 200

"""POST /oauth/token: both grants, JSON and form bodies, refusals, events, expiry and cleanup."""

import datetime

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from accounts.api_clients import ApiGrant
from accounts.services import api_grants
from core.models import Event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _body(grant, secret, **extra):
    return {"grant_type": grant.grant_type, "client_id": grant.client_id, "client_secret": secret, **extra}


def _events(code):
    return list(Event.objects.filter(event_type=code).values_list("message", flat=True))


@pytest.mark.parametrize("path", ["/oauth/token", "/backend/oauth/token"])
def test_client_credentials_json_body(client, cc_grant, path):
    grant, secret, _ = cc_grant
    response = client.post(path, _body(grant, secret), content_type="application/json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["token_type"] == "Bearer"
    assert data["expires_in"] == 3600
    assert data["access_token"]
    assert "refresh_token" not in data
    assert response["Cache-Control"] == "no-store"
    token = AccessToken.objects.get()
    assert token.user is None and token.application == grant.application
    # valid one hour from now
    assert abs((token.expires - timezone.now()).total_seconds() - 3600) < 30
    assert _events("api.token_issued")


def test_client_credentials_form_body_and_basic_auth(client, cc_grant, basic):
    grant, secret, _ = cc_grant
    form = client.post(
        "/oauth/token", {"grant_type": "client_credentials", "client_id": grant.client_id, "client_secret": secret}
    )
    assert form.status_code == 200, form.content
    header = client.post(
        "/oauth/token", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic(grant.client_id, secret)
    )
    assert header.status_code == 200, header.content
    assert form.json()["access_token"] != header.json()["access_token"]


def test_password_grant_json_and_form(client, password_grant, make_user):
    grant, secret = password_grant
    alice = make_user("alice")
    json_reply = client.post(
        "/oauth/token", _body(grant, secret, username="alice", password=PASSWORD), content_type="application/json"
    )
    assert json_reply.status_code == 200, json_reply.content
    assert json_reply.json()["expires_in"] == 3600
    assert "refresh_token" not in json_reply.json()
    form_reply = client.post("/oauth/token", _body(grant, secret, username="alice", password=PASSWORD))
    assert form_reply.status_code == 200, form_reply.content
    assert set(AccessToken.objects.values_list("user", flat=True)) == {alice.pk}
    assert not RefreshToken.objects.exists()


def test_wrong_secret_unknown_client_recorded_without_secret(client, cc_grant):
    grant, secret, _ = cc_grant
    wrong = client.post("/oauth/token", _body(grant, "not-the-secret"), content_type="application/json")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    unknown = client.post(
        "/oauth/token",
        {"grant_type": "client_credentials", "client_id": "nobody", "client_secret": "x"},
        content_type="application/json",
    )
    assert unknown.status_code == 401
    failed = _events("api.token_failed")
    assert len(failed) == 2
    assert any(grant.client_id in message for message in failed)
    assert any("nobody" in message for message in failed)
    assert not any("not-the-secret" in message or secret in message for message in failed)
    assert not AccessToken.objects.exists()


def test_wrong_password_and_disabled_user(client, password_grant, make_user):
    grant, secret = password_grant
    make_user("alice")
    make_user("bob", is_active=False)
    wrong = client.post(
        "/oauth/token",
        _body(grant, secret, username="alice", password="Wrong-Password-1"),
        content_type="application/json",
    )
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    disabled = client.post(
        "/oauth/token", _body(grant, secret, username="bob", password=PASSWORD), content_type="application/json"
    )
    assert disabled.status_code == 400 and disabled.json()["error"] == "invalid_grant"
    failed = _events("api.token_failed")
    assert len(failed) == 2 and any("alice" in m for m in failed) and any("bob" in m for m in failed)
    assert not any("Wrong-Password-1" in m or PASSWORD in m for m in Event.objects.values_list("message", flat=True))
    assert not AccessToken.objects.exists()


def test_grant_type_must_match_the_grant(client, cc_grant, password_grant, make_user):
    grant, secret, _ = cc_grant
    make_user("alice")
    response = client.post(
        "/oauth/token",
        _body(grant, secret, grant_type="password", username="alice", password=PASSWORD),
        content_type="application/json",
    )
    assert response.status_code in (400, 401)
    assert not AccessToken.objects.exists()


def test_expired_grant_gets_no_token(client, cc_grant):
    grant, secret, _ = cc_grant
    grant.expires_at = timezone.now() - datetime.timedelta(seconds=1)
    grant.save(update_fields=["expires_at"])
    response = client.post("/oauth/token", _body(grant, secret), content_type="application/json")
    assert response.status_code == 401
    assert any("expired" in m for m in _events("api.token_failed"))
    assert not AccessToken.objects.exists()


def test_console_disabled_refuses_tokens(client, cc_grant):
    grant, secret, _ = cc_grant
    api_grants.set_api_console(actor=None, enabled=False)
    response = client.post("/oauth/token", _body(grant, secret), content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'{"grant_type": ["client_credentials"]}',
        b'{"grant_type": "client_credentials", "client_id": null}',
        b"\xff\xfe",
    ],
)
def test_malformed_json_is_a_clear_400(client, cc_grant, body):
    response = client.post("/oauth/token", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"]
    assert not AccessToken.objects.exists()


def test_oversize_body_refused(client, cc_grant):
    grant, secret, _ = cc_grant
    body = _body(grant, secret, padding="x" * 20000)
    response = client.post("/oauth/token", body, content_type="application/json")
    assert response.status_code == 400
    assert not AccessToken.objects.exists()


def test_get_is_not_a_token_request(client, cc_grant):
    assert client.get("/oauth/token").status_code == 405


def test_regenerated_secret_replaces_the_old_one_and_its_tokens(client, cc_grant, get_token):
    grant, secret, _ = cc_grant
    get_token(grant, secret)
    new_secret = api_grants.regenerate_secret(actor=None, grant=grant)
    assert new_secret != secret
    assert not AccessToken.objects.exists()
    old = client.post("/oauth/token", _body(grant, secret), content_type="application/json")
    assert old.status_code == 401
    get_token(grant, new_secret)


def test_secret_stored_hashed_only(cc_grant):
    grant, secret, _ = cc_grant
    grant.application.refresh_from_db()
    assert grant.application.client_secret != secret
    assert secret not in grant.application.client_secret


def test_cleanup_task_deletes_expired_tokens(client, cc_grant, get_token):
    from accounts.tasks import clear_expired_tokens

    grant, secret, _ = cc_grant
    get_token(grant, secret)
    get_token(grant, secret)
    stale = AccessToken.objects.order_by("id").first()
    stale.expires = timezone.now() - datetime.timedelta(seconds=5)
    stale.save(update_fields=["expires"])
    clear_expired_tokens.delay()
    assert list(AccessToken.objects.values_list("pk", flat=True)) == [AccessToken.objects.order_by("id").last().pk]
    assert not AccessToken.objects.filter(pk=stale.pk).exists()


def test_cleanup_is_scheduled_in_beat(db):
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="accounts.clear_expired_tokens")
    assert task.enabled and task.interval is not None


def test_grant_type_choices_cover_guide_names():
    assert ApiGrant.GrantType.CLIENT_CREDENTIALS.label == "Client Credentials Grant"
    assert ApiGrant.GrantType.PASSWORD.label == "Resource Owner Grant"


def test_password_grant_obeys_the_security_widgets_auto_lock(client, password_grant, make_user, settings):
    from accounts.security_models import SecurityPolicy, UserLock

    settings.ONPREM_TOKEN_RATE_LIMIT = 10**6  # this test is about the lock, not the rate limit
    SecurityPolicy.objects.update_or_create(
        pk=1, defaults={"auto_lock_enabled": True, "auto_lock_attempts": 3, "auto_lock_window_minutes": 10}
    )
    grant, secret = password_grant
    alice = make_user("alice")

    def ask(password):
        return client.post(
            "/oauth/token", _body(grant, secret, username="alice", password=password), content_type="application/json"
        )

    for _ in range(3):
        assert ask("Wrong-Password-1").status_code == 400
    assert UserLock.objects.filter(user=alice).exists()
    # Locked: even the right password gets no token, as on the login page.
    assert ask(PASSWORD).status_code == 400
    assert not AccessToken.objects.exists()
    UserLock.objects.filter(user=alice).delete()
    assert ask(PASSWORD).status_code == 200

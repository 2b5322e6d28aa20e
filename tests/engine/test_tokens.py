"""Registration tokens: create, revoke, remove, download, use — and the race for the last uses."""

import base64
import datetime
import re
import threading
import urllib.parse

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.utils import timezone

from accounts.roles import AccountRole, SystemRole
from accounts.services.grants import set_account_role, set_virtual_account_role
from core.errors import NotAllowed
from core.models import Event
from licensing.models import LocalAccount, RegistrationToken
from licensing.services import tokens
from licensing.services.accounts import deactivate_account
from licensing.services.tokens import TokenError, create_token, remove_token, revoke_token, use_token

NOW = datetime.datetime(2025, 3, 1, 12, 0, tzinfo=datetime.timezone.utc)


def _token_events():
    return list(Event.objects.filter(event_type__startswith="token.").values_list("event_type", "message"))


@pytest.fixture
def lab_token(token):
    return token(description="lab routers", now=NOW)


# -- create ---------------------------------------------------------------------------------


def test_create_token_defaults_and_the_guides_event(sysadmin, default_va):
    token = create_token(actor=sysadmin, virtual_account=default_va, description="  lab routers ", now=NOW)

    assert token.expires_at == NOW + datetime.timedelta(days=30)
    assert (token.description, token.max_uses, token.uses, token.export_controlled) == ("lab routers", None, 0, False)
    assert (token.created_by, token.created_by_name, token.created_at) == (sysadmin, "sysadmin", NOW)
    assert token.status_at(NOW) == RegistrationToken.Status.ACTIVE
    assert _token_events() == [
        (
            "token.created",
            f"A new Token “{token.token}” not allowing export-controlled functionality was generated for the "
            "Virtual Account “Default”.",
        )
    ]
    event = Event.objects.get(event_type="token.created")
    assert (event.user, event.virtual_account, event.account) == (sysadmin, default_va, default_va.account)


def test_an_export_controlled_token_where_the_account_allows_it(default_va):
    token = create_token(
        actor=None, virtual_account=default_va, expires_after_days=365, export_controlled=True, max_uses=5, now=NOW
    )
    assert token.export_controlled and token.max_uses == 5
    assert token.expires_at == NOW + datetime.timedelta(days=365)
    assert _token_events() == [
        (
            "token.created_export",
            f"A new Token “{token.token}” allowing export-controlled functionality was generated for the "
            "Virtual Account “Default”.",
        )
    ]


def test_the_token_looks_like_the_guides_and_is_unguessable(default_va):
    made = [create_token(actor=None, virtual_account=default_va, now=NOW).token for _ in range(20)]
    assert len(set(made)) == 20
    for token_string in made:
        # URL-encoded base64 text wrapped every 60 characters, like "NW5ObVd0...%0AQkRSND0%3D%0A".
        assert re.fullmatch(r"([A-Za-z0-9]|%2B|%2F|%3D|%0A)+", token_string)
        assert token_string.endswith("%0A") and len(token_string) <= 255
        lines = urllib.parse.unquote(token_string).splitlines()
        assert all(len(line) == 60 for line in lines[:-1])
        payload = base64.b64decode("".join(lines)).decode()
        prefix, secret = payload.split("|")
        assert re.fullmatch(r"[0-9a-f-]{36}-\d{13}", prefix)
        assert len(base64.b64decode(secret)) == 32  # 256 random bits
    stored = RegistrationToken.objects.get(token=made[0])
    assert stored.token_digest == tokens.token_digest(made[0]) and made[0] not in stored.token_digest


@pytest.mark.parametrize("days", [1, 365, "7", " 12 "])
def test_expire_after_accepts_1_to_365_days(default_va, days):
    token = create_token(actor=None, virtual_account=default_va, expires_after_days=days, now=NOW)
    assert token.expires_at == NOW + datetime.timedelta(days=int(days))


@pytest.mark.parametrize("days", ["", None])
def test_an_empty_expire_after_means_30_days(default_va, days):
    token = create_token(actor=None, virtual_account=default_va, expires_after_days=days, now=NOW)
    assert token.expires_at == NOW + datetime.timedelta(days=30)


@pytest.mark.parametrize("days", [0, 366, -1, "abc", "1.5", 1.5, True, "--5", "９", "1" * 5000])
def test_bad_expire_after_is_refused_and_nothing_written(default_va, days):
    with pytest.raises(TokenError, match="from 1 to 365") as error:
        create_token(actor=None, virtual_account=default_va, expires_after_days=days, now=NOW)
    assert (error.value.code, error.value.field) == ("invalid_expires_after_days", "expires_after_days")
    assert not RegistrationToken.objects.exists() and not _token_events()


@pytest.mark.parametrize("max_uses", [0, -1, "0", "many", 2.0, False, 2_147_483_648])
def test_bad_max_uses_is_refused_and_nothing_written(default_va, max_uses):
    with pytest.raises(TokenError, match="at least 1") as error:
        create_token(actor=None, virtual_account=default_va, max_uses=max_uses, now=NOW)
    assert error.value.code == "invalid_max_uses"
    assert not RegistrationToken.objects.exists() and not _token_events()


def test_an_overlong_description_is_refused(default_va):
    with pytest.raises(TokenError, match="at most 255"):
        create_token(actor=None, virtual_account=default_va, description="x" * 256, now=NOW)
    assert not RegistrationToken.objects.exists()


def test_no_export_controlled_token_where_the_account_does_not_allow_it(acme, default_va):
    LocalAccount.objects.filter(pk=acme.pk).update(export_control_allowed=False)
    default_va.account.refresh_from_db()
    with pytest.raises(TokenError, match="not permitted to create tokens allowing export-controlled") as error:
        create_token(actor=None, virtual_account=default_va, export_controlled=True, now=NOW)
    assert (error.value.code, error.value.field) == ("export_control_not_allowed", "export_controlled")
    assert not RegistrationToken.objects.exists() and not _token_events()
    # A token not allowing it is still fine.
    assert not create_token(actor=None, virtual_account=default_va, now=NOW).export_controlled


# -- who may -------------------------------------------------------------------------------


def test_rbac_tokens_need_a_role_on_that_virtual_account(acme, default_va, new_va, make_user):
    lab = new_va("Lab")
    outsider = make_user("mallory")
    va_user = make_user("vic")
    set_virtual_account_role(actor=None, virtual_account=lab, role=AccountRole.VA_USER, user=va_user)

    with pytest.raises(NotAllowed):
        create_token(actor=outsider, virtual_account=default_va, now=NOW)
    with pytest.raises(NotAllowed):
        create_token(actor=va_user, virtual_account=default_va, now=NOW)
    own = create_token(actor=va_user, virtual_account=lab, export_controlled=True, now=NOW)
    assert own.created_by == va_user

    other = create_token(actor=None, virtual_account=default_va, now=NOW)
    for service in (revoke_token, remove_token):
        with pytest.raises(NotAllowed):
            service(actor=va_user, token=other)
    with pytest.raises(NotAllowed):
        tokens.token_as_text(actor=outsider, token=other)
    revoke_token(actor=va_user, token=own)
    remove_token(actor=va_user, token=own)
    assert list(RegistrationToken.objects.all()) == [other]


def test_account_users_manage_tokens_of_every_virtual_account(acme, default_va, make_user):
    user = make_user("bob", SystemRole.USER)
    set_account_role(actor=None, account=acme, role=AccountRole.ACCOUNT_USER, user=user)
    token = create_token(actor=user, virtual_account=default_va, now=NOW)
    assert revoke_token(actor=user, token=token).revoked_by == user


def test_nobody_manages_tokens_of_a_deactivated_account(acme, default_va, sysadmin):
    deactivate_account(actor=None, account=acme)
    default_va.account.refresh_from_db()
    with pytest.raises(NotAllowed):
        create_token(actor=sysadmin, virtual_account=default_va, now=NOW)


# -- revoke, remove, download -----------------------------------------------------------------


def test_revoke_then_remove(sysadmin, lab_token):
    revoked = revoke_token(actor=sysadmin, token=lab_token, now=NOW)
    assert revoked.status_at(NOW) == RegistrationToken.Status.REVOKED
    assert (revoked.revoked_at, revoked.revoked_by) == (NOW, sysadmin)
    with pytest.raises(TokenError, match="has already been revoked") as error:
        revoke_token(actor=sysadmin, token=lab_token)
    assert error.value.code == "token_already_revoked"

    remove_token(actor=sysadmin, token=lab_token)
    assert not RegistrationToken.objects.exists()
    assert _token_events()[:2] == [
        ("token.removed", f"The Token “{lab_token.token}” in the Virtual Account “Default” was removed."),
        ("token.revoked", f"The Token “{lab_token.token}” in the Virtual Account “Default” was revoked."),
    ]


def test_remove_only_after_revoke(sysadmin, lab_token):
    with pytest.raises(TokenError, match="Revoke the token first") as error:
        remove_token(actor=sysadmin, token=lab_token)
    assert error.value.code == "token_not_revoked"
    assert RegistrationToken.objects.filter(pk=lab_token.pk).exists()
    assert [code for code, _ in _token_events()] == ["token.created"]


def test_an_expired_token_can_be_revoked_and_removed(lab_token):
    later = NOW + datetime.timedelta(days=31)
    assert lab_token.status_at(later) == RegistrationToken.Status.EXPIRED
    revoke_token(actor=None, token=lab_token, now=later)
    remove_token(actor=None, token=lab_token)
    assert not RegistrationToken.objects.exists()


def test_token_as_text_for_download(sysadmin, lab_token):
    assert tokens.token_as_text(actor=sysadmin, token=lab_token) == lab_token.token + "\n"
    assert tokens.token_file_name(lab_token) == "token_Default_20250301120000.txt"


def test_status_in_queries_matches_status_at(default_va, lab_token):
    spent = create_token(actor=None, virtual_account=default_va, max_uses=1, now=NOW)
    revoked = revoke_token(actor=None, token=create_token(actor=None, virtual_account=default_va, now=NOW))
    use_token(spent.token, now=NOW)
    later = NOW + datetime.timedelta(days=1)
    annotated = {t.pk: t.current_status for t in RegistrationToken.objects.with_status(later)}
    assert annotated == {lab_token.pk: "active", spent.pk: "expired", revoked.pk: "revoked"}
    assert list(RegistrationToken.objects.active(later)) == [lab_token]
    for t in RegistrationToken.objects.all():
        assert t.status_at(later) == annotated[t.pk]


# -- use at registration -----------------------------------------------------------------------


def test_use_counts_one_use(lab_token):
    used = use_token(lab_token.token, now=NOW)
    assert used.pk == lab_token.pk and used.uses == 1
    assert use_token(lab_token.token, now=NOW).uses == 2


def test_use_accepts_the_token_in_any_spelling(lab_token):
    decoded = urllib.parse.unquote(lab_token.token)  # real line breaks, "=" instead of %3D
    for spelling in (decoded, "".join(decoded.split()), f"  {lab_token.token}\n"):
        use_token(spelling, now=NOW)
    lab_token.refresh_from_db()
    assert lab_token.uses == 3


GUIDE_TOKEN = "NW5ObVd0L1BGZmFvOWZYenJiaGJyRVE4T0R5NFJheW90V2hq%0AQkRSND0%3D%0A"  # the guide's example


@pytest.mark.parametrize("bad", ["", "   ", None, 42, "not-a-token", GUIDE_TOKEN])
def test_an_unknown_token_is_refused(lab_token, bad):
    with pytest.raises(TokenError, match="not valid") as error:
        use_token(bad, now=NOW)
    assert error.value.code == "token_unknown"


def test_an_almost_right_token_is_refused(lab_token):
    with pytest.raises(TokenError) as error:
        use_token(lab_token.token[:-4] + ("A" if lab_token.token[-4] != "A" else "B") + lab_token.token[-3:], now=NOW)
    assert error.value.code == "token_unknown"


def test_an_expired_token_is_refused(lab_token):
    with pytest.raises(TokenError, match="has expired") as error:
        use_token(lab_token.token, now=lab_token.expires_at)
    assert error.value.code == "token_expired"
    use_token(lab_token.token, now=lab_token.expires_at - datetime.timedelta(seconds=1))


def test_a_revoked_token_is_refused(lab_token):
    revoke_token(actor=None, token=lab_token)
    with pytest.raises(TokenError, match="has been revoked") as error:
        use_token(lab_token.token, now=NOW)
    assert error.value.code == "token_revoked"
    lab_token.refresh_from_db()
    assert lab_token.uses == 0


def test_a_used_up_token_is_refused(default_va):
    token = create_token(actor=None, virtual_account=default_va, max_uses=2, now=NOW)
    use_token(token.token, now=NOW)
    use_token(token.token, now=NOW)
    with pytest.raises(TokenError, match="maximum number of uses") as error:
        use_token(token.token, now=NOW)
    assert error.value.code == "token_exhausted"
    token.refresh_from_db()
    assert token.uses == 2


def test_a_token_of_an_inactive_account_is_refused(acme, lab_token):
    deactivate_account(actor=None, account=acme)
    with pytest.raises(TokenError, match="not active") as error:
        use_token(lab_token.token, now=NOW)
    assert error.value.code == "account_inactive"


def test_the_database_refuses_more_uses_than_allowed(default_va):
    token = create_token(actor=None, virtual_account=default_va, max_uses=1, now=NOW)
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistrationToken.objects.filter(pk=token.pk).update(uses=2)


def test_refusal_codes_are_distinct():
    assert len(set(tokens.REFUSALS.values())) == len(tokens.REFUSALS)


# -- the race (PostgreSQL) ---------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_registrations_race_for_ten_uses(make_account):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    account = make_account("Race")
    va = account.virtual_accounts.get()
    token = create_token(actor=None, virtual_account=va, max_uses=10, now=timezone.now())

    start = threading.Barrier(50)
    outcomes = []
    lock = threading.Lock()

    def register():
        try:
            start.wait(timeout=30)
            try:
                with transaction.atomic():
                    use_token(token.token)
                    outcome = "ok"
            except TokenError as error:
                outcome = error.code
            with lock:
                outcomes.append(outcome)
        finally:
            connections.close_all()  # each thread has its own connection; close it

    threads = [threading.Thread(target=register) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(outcomes) == 50
    assert outcomes.count("ok") == 10
    assert outcomes.count("token_exhausted") == 40
    token.refresh_from_db()
    assert token.uses == 10

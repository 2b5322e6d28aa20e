"""The Password tab's rules: strength, history, expiration, force change after an admin reset,
applied wherever a password is set and to local users only."""

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.security_models import PasswordHistory
from accounts.services import password_policy
from accounts.services import users as user_service
from core.errors import ServiceError
from core.models import Event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()


def _errors(password, user=None):
    try:
        validate_password(password, user)
    except ValidationError as error:
        return " ".join(error.messages)
    return ""


@pytest.mark.parametrize(
    "password, rule, message",
    [
        ("Ab1!xyz", None, "too short"),
        ("abcdefgh1!", "rule_mixed_case", "upper and lower case"),
        ("ABCDEFGH1!", "rule_mixed_case", "upper and lower case"),
        ("Abcdefghi!", "rule_digit", "numeric characters"),
        ("Abcdefghi1", "rule_special", "special characters"),
        ("Xalice-Kettle9", "rule_not_username", "must not contain the user's name"),
        ("Password1!", "rule_not_common", "too common"),
    ],
)
def test_each_strength_rule_refuses_and_can_be_switched_off(make_user, policy, password, rule, message):
    alice = make_user("alice")
    policy(rule_mixed_case=True, rule_digit=True, rule_special=True)
    assert message in _errors(password, alice)
    if rule:
        policy(**{rule: False})
        assert message not in _errors(password, alice)


def test_minimum_length_is_configurable_up_to_15(make_user, policy):
    alice = make_user("alice")
    policy(min_length=15)
    assert "too short" in _errors("Kettle-Orbit-9", alice)  # 14
    assert _errors("Kettle-Orbit-9x", alice) == ""  # 15
    with pytest.raises(ValidationError):
        policy(min_length=16)


def test_strength_rules_off_accept_anything(make_user, policy):
    policy(strength_rules_enabled=False)
    assert _errors("abc", make_user("alice")) == ""


def test_rules_apply_to_local_users_only(make_user):
    ldap_user = make_user("lara", source=User.Source.LDAP)
    assert _errors("abc", ldap_user) == ""
    assert "too short" in _errors("abc", make_user("alice"))


def test_history_refuses_the_last_n_passwords(make_user, policy):
    alice = make_user("alice")
    policy(history_enabled=True, history_count=2)
    first, second, third = "Kettle-Orbit-1", "Kettle-Orbit-2", "Kettle-Orbit-3"
    for password in (first, second):
        user_service.change_password(user=alice, new_password=password)
    with pytest.raises(ServiceError, match="last 2 passwords"):
        user_service.change_password(user=alice, new_password=first)
    user_service.change_password(user=alice, new_password=third)
    # "first" is now three passwords back: allowed again with a history of 2.
    user_service.change_password(user=alice, new_password=first)
    alice.refresh_from_db()
    assert alice.check_password(first)
    assert PasswordHistory.objects.filter(user=alice).count() == 4
    # Only hashes are kept.
    assert not PasswordHistory.objects.filter(password__contains="Kettle").exists()


def test_history_covers_the_admin_reset_and_the_wizard(make_user, sysadmin, policy, client):
    alice = make_user("alice")
    policy(history_enabled=True, history_count=5)
    user_service.reset_password(actor=sysadmin, user=alice, new_password="Kettle-Orbit-1")
    with pytest.raises(ServiceError, match="last 5 passwords"):
        user_service.reset_password(actor=sysadmin, user=alice, new_password="Kettle-Orbit-1")
    user_service.reset_password(actor=sysadmin, user=alice, new_password="Kettle-Orbit-2")
    # The first-login wizard (forced by the reset) refuses an earlier password too.
    assert client.post("/login/", {"username": "alice", "password": "Kettle-Orbit-2"}).status_code == 302
    client.post("/welcome/language/", {"language": "en"})
    response = client.post(
        "/welcome/password/", {"new_password": "Kettle-Orbit-1", "confirm_password": "Kettle-Orbit-1"}
    )
    assert "last 5 passwords" in response.content.decode()
    response = client.post(
        "/welcome/password/", {"new_password": "Kettle-Orbit-3", "confirm_password": "Kettle-Orbit-3"}
    )
    assert response.status_code == 302


def test_force_change_after_admin_reset(make_user, sysadmin, policy):
    alice = make_user("alice")
    user_service.reset_password(actor=sysadmin, user=alice, new_password="Kettle-Orbit-1")
    client = Client()
    client.post("/login/", {"username": "alice", "password": "Kettle-Orbit-1"})
    assert client.get("/")["Location"] == "/welcome/language/"
    # Switched off: the reset password is simply the password.
    policy(force_change_after_reset=False)
    bob = make_user("bob")
    user_service.reset_password(actor=sysadmin, user=bob, new_password="Kettle-Orbit-2")
    client = Client()
    client.post("/login/", {"username": "bob", "password": "Kettle-Orbit-2"})
    assert client.get("/").status_code == 200


# --- Expiration ----------------------------------------------------------------------------------


@pytest.fixture
def expiring(make_user, policy, clock):
    alice = make_user("alice")
    alice.password_changed_at = clock.now
    alice.save(update_fields=["password_changed_at"])
    policy(expiration_enabled=True, expiration_days=60, expiration_warning_enabled=True, expiration_warning_days=7)
    return alice


def _messages(response):
    return [str(m) for m in response.context["messages"]]


def test_no_warning_before_the_warning_days(expiring, clock):
    clock.advance(days=52)
    client = Client()
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert not any("expires" in m for m in _messages(client.get("/")))


def test_warning_n_days_before_expiry(expiring, clock):
    clock.advance(days=54)
    client = Client()
    client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert "Your password expires in 6 day(s). Change it before then." in _messages(client.get("/"))


def test_expired_password_must_be_changed(expiring, clock):
    clock.advance(days=60, seconds=1)
    client = Client()
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    assert client.get("/")["Location"] == "/welcome/language/"
    expiring.refresh_from_db()
    assert expiring.needs_first_login_wizard
    assert Event.objects.filter(event_type="security.password_expired").count() == 1


def test_expired_password_refused_when_change_after_expiry_not_allowed(expiring, clock, policy):
    policy(change_after_expiry_allowed=False)
    clock.advance(days=61)
    response = Client().post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    assert "Your password has expired. Contact your administrator" in response.content.decode()


def test_expiration_ignores_non_local_users(make_user, policy, clock):
    lara = make_user("lara", source=User.Source.LDAP)
    lara.password_changed_at = clock.now - datetime.timedelta(days=400)
    policy(expiration_enabled=True)
    assert password_policy.expiry_state(lara) == ("ok", None)


def test_expiration_notice_emails_once(expiring, clock, policy, smtp_server, django_capture_on_commit_callbacks):
    expiring.email = "alice@example.com"
    expiring.save(update_fields=["email"])
    policy(expiration_email_enabled=True, expiration_email_days=5)
    clock.advance(days=50)
    with django_capture_on_commit_callbacks(execute=True):  # the mail goes out when the event commits
        assert password_policy.send_expiration_notices() == 0
        clock.advance(days=6)
        assert password_policy.send_expiration_notices() == 1
        assert password_policy.send_expiration_notices() == 0
    (mail,) = smtp_server.wait_for(1)
    recipients, message = mail.recipients, mail.message
    assert recipients == ["alice@example.com"]
    assert mail.subject == "Smart Software Manager On-Prem: User Password Expiration Notification"
    assert "expires on" in message.get_payload(decode=True).decode()


def test_expiration_notices_run_daily_from_beat(db):
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from accounts.tasks import password_expiration_notices

    task = PeriodicTask.objects.get(name="Password expiration notices")
    assert task.task == password_expiration_notices.name and task.enabled
    assert (task.interval.every, task.interval.period) == (1, IntervalSchedule.DAYS)
    assert password_expiration_notices.delay().get() == 0  # nothing expiring: nothing sent

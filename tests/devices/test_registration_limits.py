"""Registration limits: new product instances per token / per virtual account per hour.

Over a limit REGISTER gets HTTP 429 + Retry-After and writes nothing but its spent nonce; the
account gets one event and one "Registration Limit Reached" alert per window; re-registering a
known UDI is never limited; the Security widget's Account tab sets the two limits.
"""

import datetime
import json

import pytest
from django.utils import timezone

from accounts.security_models import SecurityPolicy
from core.models import Event
from licensing.models import Alert, DeviceIdentity, ProductInstance
from licensing.services.alerts import recompute_alerts
from licensing.transport import processing
from tests.devices.devicesim import cslu_path, make_csr, row_counts, rum, verify_reply

pytestmark = pytest.mark.django_db
LIMIT_EVENTS = ("device.registration_limited_token", "device.registration_limited_va")


class _Clock:
    """The transport's "now" (the device's own timestamps stay real: well within the 24-hour window)."""

    def __init__(self):
        self.moment = timezone.now().replace(microsecond=0)

    def now(self):
        return self.moment

    def advance(self, **delta):
        self.moment += datetime.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(processing, "timezone", fake)
    return fake


def _limits(per_token, per_va):
    SecurityPolicy.objects.update_or_create(
        pk=1, defaults={"registration_limit_per_token": per_token, "registration_limit_per_va": per_va}
    )


def _register(dev, tok):
    """POST a REGISTER; (HTTP status, decoded reply payload)."""
    response = dev.post(dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key))))
    reply = json.loads(response.content)
    verify_reply(reply)
    return response, json.loads(reply["payload"])


def _success(dev, tok):
    response, payload = _register(dev, tok)
    assert (response.status_code, payload["status"]) == (200, "SUCCESS"), payload
    return payload


def _without(counts, *names):
    return {key: value for key, value in counts.items() if key not in names}


def test_n_new_devices_per_token_then_429_and_nothing_written(device, token, clock):
    _limits(3, 0)
    tok = token()
    for _ in range(3):
        _success(device(), tok)
    clock.advance(minutes=10)
    before = row_counts()
    response, payload = _register(device(), tok)
    assert response.status_code == 429
    assert response["Retry-After"] == str(50 * 60)  # the oldest of the three leaves the window in 50 minutes
    assert (payload["status"], payload["error_code"], payload["retry_after"]) == ("FAILED", "RATE_LIMITED", 3000)
    assert "Retry after 3000 seconds" in payload["message"]
    after = row_counts()
    # Only the nonce (spent, as for every refusal) and the one event of this window.
    assert _without(after, "DeviceNonce", "Event") == _without(before, "DeviceNonce", "Event")
    assert after["DeviceNonce"] == before["DeviceNonce"] + 1
    assert after["Event"] == before["Event"] + 1
    assert ProductInstance.objects.count() == 3 and tok.__class__.objects.get(pk=tok.pk).uses == 3


def test_re_registration_at_the_limit_still_succeeds(device, token, clock):
    _limits(2, 0)
    tok = token()
    first = device()
    _success(first, tok)
    _success(device(), tok)
    assert _register(device(), tok)[0].status_code == 429
    reply = _success(first, tok)  # the same UDI again: not a new product instance
    assert ProductInstance.objects.count() == 2
    assert DeviceIdentity.objects.get(product_instance_id=reply["product_instance_id"]).created_with_token == tok


def test_the_per_va_limit_counts_every_token_of_the_virtual_account(device, token, default_va, make_account, clock):
    _limits(100, 2)
    tok_a, tok_b = token(), token()
    _success(device(), tok_a)
    _success(device(), tok_b)
    response, payload = _register(device(), tok_b)
    assert response.status_code == 429 and payload["error_code"] == "RATE_LIMITED"
    assert "virtual account" in payload["message"]
    alert = Alert.objects.get(alert_type=Alert.Type.REGISTRATION_LIMITED)
    assert alert.key == f"registration_limited:va:{default_va.pk}"
    # Another virtual account (here of another local account) has its own count.
    other_va = make_account("Globex").virtual_accounts.get(is_default=True)
    _success(device(), token(va=other_va))


def test_the_window_frees_after_an_hour(device, token, clock):
    _limits(2, 0)
    tok = token()
    _success(device(), tok)
    clock.advance(minutes=30)
    _success(device(), tok)
    response, _payload = _register(device(), tok)
    assert response["Retry-After"] == str(30 * 60)
    clock.advance(minutes=29, seconds=59)
    assert _register(device(), tok)[0]["Retry-After"] == "1"
    clock.advance(seconds=1)  # the first registration is now an hour old
    _success(device(), tok)
    assert _register(device(), tok)[0].status_code == 429  # the second one still counts, and the third


def test_one_event_and_one_alert_per_window(device, token, default_va, clock):
    _limits(1, 0)
    tok = token(description="Branch routers")
    _success(device(), tok)
    for _ in range(5):
        assert _register(device(), tok)[0].status_code == 429
    events = Event.objects.filter(event_type__in=LIMIT_EVENTS)
    assert events.count() == 1
    event = events.get()
    assert event.virtual_account == default_va and event.severity == "ALERT"
    assert "“Branch routers”" in event.message and "revoke it" in event.message
    alert = Alert.objects.get(alert_type=Alert.Type.REGISTRATION_LIMITED)
    assert (alert.status, alert.severity, alert.account_id) == ("open", "major", default_va.account_id)
    assert alert.message == event.message
    recompute_alerts(default_va.account)  # the alert's cause is not in the licensing data: it stays
    alert.refresh_from_db()
    assert alert.status == "open"
    clock.advance(hours=1, seconds=1)
    _success(device(), tok)
    assert _register(device(), tok)[0].status_code == 429
    assert events.count() == 2  # a new window, a new event; still the one alert
    assert Alert.objects.filter(alert_type=Alert.Type.REGISTRATION_LIMITED).count() == 1


def test_zero_is_unlimited_and_defaults_apply_without_a_policy_row(device, token, clock):
    assert not SecurityPolicy.objects.exists()
    policy = SecurityPolicy()
    assert (policy.registration_limit_per_token, policy.registration_limit_per_va) == (1000, 5000)
    _limits(0, 0)
    tok = token()
    for _ in range(4):
        _success(device(), tok)
    _limits(4, 0)
    assert _register(device(), tok)[0].status_code == 429


def test_a_refused_register_over_xml_is_429_too(device, token, clock):
    _limits(1, 0)
    tok = token()
    _success(device(), tok)
    dev = device()
    text = json.dumps(dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key))))
    body = f"<smartLicense><message><![CDATA[{text}]]></message></smartLicense>"
    response = dev.client.post(
        "/Transportgateway/services/DeviceRequestHandler", data=body, content_type="application/xml"
    )
    assert response.status_code == 429 and response["Retry-After"] == "3600"
    assert response["Content-Type"].startswith("application/xml")


# --- CSLU pushes that add product instances count against the same limits -----------------------


def _push(dev, account):
    """POST a tokenless CSLU push (signed with the device's own key); (HTTP status, decoded reply payload)."""
    payload = dev.payload(csr=make_csr(dev.key), reports=[rum(dev.key, dev.payload()["nonce"], [])])
    response = dev.post(dev.envelope("REPORT_USAGE", payload), cslu_path(account))
    reply = json.loads(response.content)
    verify_reply(reply)
    return response, json.loads(reply["payload"])


def test_cslu_pushes_that_add_product_instances_count_against_the_per_va_limit(device, token, acme, default_va, clock):
    """Tokenless pushes count against the per-VA limit: with 2 new instances per VA per hour, the
    third and later new devices are refused."""
    _limits(100, 2)
    known = device()
    assert _push(known, acme)[1]["status"] == "SUCCESS"
    assert _push(device(), acme)[1]["status"] == "SUCCESS"
    clock.advance(minutes=15)
    before = row_counts()
    for _ in range(4):
        response, payload = _push(device(), acme)
        assert response.status_code == 429 and response["Retry-After"] == str(45 * 60)
        assert (payload["status"], payload["error_code"], payload["retry_after"]) == ("FAILED", "RATE_LIMITED", 2700)
        assert "virtual account" in payload["message"]
    after = row_counts()
    assert _without(after, "DeviceNonce", "Event") == _without(before, "DeviceNonce", "Event")
    assert after["Event"] == before["Event"] + 1  # one event (and one alert) per window
    alert = Alert.objects.get(alert_type=Alert.Type.REGISTRATION_LIMITED)
    assert alert.key == f"registration_limited:va:{default_va.pk}"
    assert ProductInstance.objects.count() == 2
    identity = DeviceIdentity.objects.get(product_instance__udi_serial_number=known.sudi["udi_serial_number"])
    assert (identity.created_in_virtual_account, identity.created_with_token) == (default_va, None)
    # A product instance the account already has is never limited ...
    assert _push(known, acme)[1]["status"] == "SUCCESS"
    # ... and REGISTER with a token of the virtual account shares its count.
    assert _register(device(), token())[0].status_code == 429
    clock.advance(minutes=45)
    assert _push(device(), acme)[1]["status"] == "SUCCESS"


def test_registrations_count_against_cslu_pushes(device, token, acme, clock):
    _limits(100, 2)
    tok = token()
    _success(device(), tok)
    _success(device(), tok)
    response, payload = _push(device(), acme)
    assert response.status_code == 429 and payload["error_code"] == "RATE_LIMITED"
    assert ProductInstance.objects.count() == 2


# --- The Security widget's two settings ------------------------------------------------------------

BASE = "/admin/security/"


def _account_form(**overrides):
    data = {
        "auto_lock_attempts": "5",
        "auto_lock_window_minutes": "15",
        "lock_expiration_minutes": "30",
        "session_limit": "5",
        "registration_limit_per_token": "25",
        "registration_limit_per_va": "200",
    }
    data.update(overrides)
    return data


def test_system_admin_saves_the_limits(sysadmin, login):
    client = login(sysadmin)
    page = client.get(BASE).content.decode()
    assert "New product instances per token per hour" in page
    assert 'name="registration_limit_per_va"' in page
    assert client.post(BASE, _account_form()).status_code == 302
    policy = SecurityPolicy.objects.get()
    assert (policy.registration_limit_per_token, policy.registration_limit_per_va) == (25, 200)
    assert client.post(BASE, _account_form(registration_limit_per_token="0")).status_code == 302
    assert SecurityPolicy.objects.get().registration_limit_per_token == 0


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("registration_limit_per_token", "-1", "greater than or equal to 0"),
        ("registration_limit_per_va", "-5", "greater than or equal to 0"),
        ("registration_limit_per_token", "ten", "Enter a whole number"),
        ("registration_limit_per_va", "1.5", "Enter a whole number"),
        ("registration_limit_per_va", "1000001", "less than or equal to 1000000"),
    ],
)
def test_bad_limits_change_nothing(sysadmin, login, field, value, message):
    client = login(sysadmin)
    before = Event.objects.count()
    response = client.post(BASE, _account_form(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SecurityPolicy.objects.exists() and Event.objects.count() == before


def test_operator_sees_the_limits_read_only(sysop, login):
    client = login(sysop)
    page = client.get(BASE).content.decode()
    assert 'name="registration_limit_per_token"' in page
    field = (
        page.split('name="registration_limit_per_token"')[0].rsplit("<input", 1)[1]
        + page.split('name="registration_limit_per_token"')[1].split(">", 1)[0]
    )
    assert "disabled" in field
    assert client.post(BASE, _account_form()).status_code == 403
    assert not SecurityPolicy.objects.exists()


# --- Races (PostgreSQL): the token's and the virtual account's row locks make the counts exact ----


def _race(envelopes, path="/SmartTransport"):
    """POST every envelope at once (to ``path``), each from its own thread and connection; HTTP statuses."""
    import threading

    from django.db import connections
    from django.test import Client

    start, statuses, lock = threading.Barrier(len(envelopes)), [], threading.Lock()

    def run(envelope):
        try:
            client = Client()
            start.wait(timeout=30)
            response = client.post(path, data=json.dumps(envelope), content_type="application/json")
            with lock:
                statuses.append(response.status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(envelope,)) for envelope in envelopes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(statuses) == len(envelopes)
    return statuses


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_registrations_never_pass_the_limits(make_account):
    from django.db import connection

    from licensing.services.tokens import create_token
    from tests.devices.devicesim import Device

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    _limits(4, 6)
    va = make_account("Storm").virtual_accounts.get()
    tokens = [create_token(actor=None, virtual_account=va) for _ in range(2)]
    envelopes = []
    for i in range(24):
        dev, tok = Device(None, f"STORM-{i}"), tokens[i % 2]
        envelopes.append(dev.envelope("REGISTER", dev.payload(id_token=tok.token, csr=make_csr(dev.key))))
    statuses = _race(envelopes)
    assert sorted(statuses) == [200] * 6 + [429] * 18, statuses
    assert ProductInstance.objects.count() == 6
    assert Event.objects.filter(event_type__in=LIMIT_EVENTS).count() <= 3  # at most one per token and VA
    assert Alert.objects.filter(alert_type=Alert.Type.REGISTRATION_LIMITED).count() >= 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_cslu_pushes_never_pass_the_per_va_limit(make_account):
    from django.db import connection

    from tests.devices.devicesim import Device

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    _limits(100, 5)
    account = make_account("Push storm")
    envelopes = []
    for i in range(16):
        dev = Device(None, f"PUSH-{i}")
        envelopes.append(
            dev.envelope("REPORT_USAGE", dev.payload(csr=make_csr(dev.key), reports=[rum(dev.key, "1", [])]))
        )
    statuses = _race(envelopes, cslu_path(account))
    assert sorted(statuses) == [200] * 5 + [429] * 11, statuses
    assert ProductInstance.objects.count() == 5


def _key_share_while_held(hold, table, pk):
    """Run ``hold(release)`` in a thread (it takes its locks, then waits on ``release``); meanwhile
    take ``FOR KEY SHARE`` on ``table``'s row ``pk`` — what PostgreSQL's foreign-key check of a
    concurrent registration does at COMMIT — with a 3 s lock timeout. True when it was granted."""
    import threading

    from django.db import OperationalError, connection, connections, transaction

    locked, release, errors = threading.Event(), threading.Event(), []

    def run():
        try:
            with transaction.atomic():
                hold(locked, release)
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
            locked.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert locked.wait(30)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '3s'")
            try:
                cursor.execute(f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE", [pk])
                granted = True
            except OperationalError:
                granted = False
    finally:
        release.set()
        thread.join(30)
    assert not errors, errors
    return granted


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_limit_locks_never_block_a_concurrent_registrations_foreign_key_checks(make_account, monkeypatch):
    """The deadlock these locks must avoid: registration A holds the VA's limit lock and, at COMMIT, checks its
    new rows' foreign key to the account; B (a refusal's alert) holds the account's lock and checks
    its alert's foreign key to the VA. Both locks must let FOR KEY SHARE through (FOR NO KEY UPDATE)."""
    from django.db import connection

    from core import events
    from licensing.services import registration_limits
    from licensing.services.tokens import create_token

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    va = make_account("Locks").virtual_accounts.get()
    tok = create_token(actor=None, virtual_account=va)
    now = timezone.now()

    def hold_va(locked, release):
        registration_limits.check(tok, now + datetime.timedelta(hours=2))  # locks the VA row, refuses nothing
        locked.set()
        release.wait(30)

    assert _key_share_while_held(hold_va, "licensing_virtualaccount", va.pk)

    def hold_account(locked, release):
        def record(*args, **kwargs):  # the alert's event: by now the account's row is locked
            locked.set()
            release.wait(30)

        monkeypatch.setattr(events, "record", record)
        error = registration_limits.RegistrationLimited(scope="va", token=tok, limit=1, retry_after=1)
        registration_limits.record_refusal(error, now)

    assert _key_share_while_held(hold_account, "licensing_localaccount", va.account_id)

"""Third-party keys (TPL) from CSSM, end to end: the CSSM emulator (in process, driven by its
``manage.py cssm_emulator`` commands and its seed) grants keys, the real SyncResponse carries
them, the On-Prem stores them encrypted, and a product instance of the virtual account holding the
license receives them with GET_THIRD_PARTY_KEY. A withdrawn key goes at the next synchronization."""

import pytest
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from core.models import Event
from licensing.models import ThirdPartyKey, ThirdPartyKeyDelivery
from licensing.services.tokens import create_token
from sync.documents import bodies
from sync.documents.schema import SchemaError
from tests.devices.devicesim import Device
from tests.reliability.inprocess_cssm import register_with, seeded_emulator
from tests.sync.test_cssm_alerts import emulator_command, sync, uid_of

pytestmark = pytest.mark.django_db
ADVANTAGE = "regid.2017-07.com.cisco.DNA_NWStack,1.0_e7244e71-3ad5-4608-8bf0-d12f67c80896"
UNKNOWN = "regid.2099-01.com.cisco.nothing,1.0_00000000-0000-0000-0000-000000000000"


@pytest.fixture
def cssm(tmp_path):
    return seeded_emulator(tmp_path)


@pytest.fixture
def account(cssm, sysadmin):
    account = register_with(cssm, sysadmin, "Acme Lab")
    sync(account, cssm, sysadmin)  # the full synchronization CSSM asks for after registering
    return account


def _grant(cssm, account, *extra, tag=ADVANTAGE):
    emulator_command(
        cssm, "--grant-third-party-key", uid_of(account), tag, "--service", "Apple Push Notification service", *extra
    )
    with cssm.store.connect() as db:
        return db.execute("SELECT key_id FROM third_party_keys ORDER BY rowid DESC LIMIT 1").fetchone()[0]


def test_keys_cssm_grants_reach_the_device_and_a_withdrawn_key_goes(account, cssm, sysadmin, client):
    _request, response = sync(account, cssm, sysadmin)
    assert "third_party_keys" not in response  # none ever granted: CSSM says nothing
    key_id = _grant(cssm, account, "--key", "apns-secret-1", "--key-expires", "2099-12-31")
    _request, response = sync(account, cssm, sysadmin)
    assert response["third_party_keys"] == [
        {
            "key_id": key_id,
            "tag": ADVANTAGE,
            "service": "Apple Push Notification service",
            "key": "apns-secret-1",
            "expires_on": "2099-12-31",
        }
    ]
    stored = ThirdPartyKey.objects.get(account=account)
    assert (stored.key_id, stored.tag, stored.secret, str(stored.expires_on)) == (
        key_id,
        ADVANTAGE,
        "apns-secret-1",
        "2099-12-31",
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM licensing_thirdpartykey")
        assert "apns-secret-1" not in cursor.fetchone()[0]  # encrypted at rest
    event = Event.objects.get(account=account, event_type="sync.third_party_keys")
    assert "1 third party key(s): 1 new, 0 changed, 0 withdrawn" in event.message

    # The licenses are in the Default local VA: its product instances receive the key.
    default_va = account.virtual_accounts.get(is_default=True)
    dev = Device(client)
    assert dev.register(create_token(actor=None, virtual_account=default_va))["status"] == "SUCCESS"
    reply = dev.third_party_keys()
    assert [(k["key_id"], k["key"]) for k in reply["third_party_keys"]] == [(key_id, "apns-secret-1")]
    assert ThirdPartyKeyDelivery.objects.filter(key=stored).count() == 1

    # The same response again changes nothing (no event); a withdrawn key goes with its deliveries.
    sync(account, cssm, sysadmin)
    assert Event.objects.filter(account=account, event_type="sync.third_party_keys").count() == 1
    emulator_command(cssm, "--revoke-third-party-key", key_id)
    _request, response = sync(account, cssm, sysadmin)
    assert response["third_party_keys"] == []
    assert not ThirdPartyKey.objects.filter(account=account).exists()
    assert not ThirdPartyKeyDelivery.objects.exists()
    assert dev.third_party_keys()["error_code"] == "NO_THIRD_PARTY_KEYS"


def test_a_response_without_the_field_keeps_the_keys(account, cssm, sysadmin):
    ThirdPartyKey.objects.create(
        account=account, key_id="old", tag=ADVANTAGE, service="Speech View", secret="s", received_at=timezone.now()
    )
    _request, response = sync(account, cssm, sysadmin)
    assert "third_party_keys" not in response
    assert ThirdPartyKey.objects.filter(account=account, key_id="old").exists()


def test_a_second_grant_adds_a_key_and_keeps_the_first(account, cssm, sysadmin):
    key_id = _grant(cssm, account, "--key", "first")
    sync(account, cssm, sysadmin)
    emulator_command(
        cssm, "--grant-third-party-key", uid_of(account), ADVANTAGE, "--service", "APNs", "--key", "second"
    )
    sync(account, cssm, sysadmin)
    keys = dict(ThirdPartyKey.objects.filter(account=account).values_list("key_id", "service"))
    assert keys[key_id] == "Apple Push Notification service" and len(keys) == 2
    assert ThirdPartyKey.objects.get(key_id=key_id).secret == "first"


def test_emulator_command_refusals(account, cssm):
    with pytest.raises(CommandError, match="needs --service"):
        emulator_command(cssm, "--grant-third-party-key", uid_of(account), ADVANTAGE)
    with pytest.raises(CommandError, match="No SSM On-Prem"):
        emulator_command(cssm, "--grant-third-party-key", "no-such-uid", ADVANTAGE, "--service", "X")
    with pytest.raises(CommandError, match="unknown license"):
        emulator_command(cssm, "--grant-third-party-key", uid_of(account), UNKNOWN, "--service", "X")
    with pytest.raises(CommandError, match="not a date"):
        emulator_command(
            cssm, "--grant-third-party-key", uid_of(account), ADVANTAGE, "--service", "X", "--key-expires", "soon"
        )
    with pytest.raises(CommandError, match="No third-party key"):
        emulator_command(cssm, "--revoke-third-party-key", "nope")
    with cssm.store.connect() as db:
        assert db.execute("SELECT COUNT(*) FROM third_party_keys").fetchone()[0] == 0


def test_seeded_keys(account, cssm, sysadmin, tmp_path):
    seed = tmp_path / "tpl.yml"
    seed.write_text(
        "smart_accounts:\n"
        "  - name: acme.example\n"
        "    export_allowed: true\n"
        "    virtual_accounts:\n"
        "      - name: Lab\n"
        "        third_party_keys:\n"
        f"          - {{tag: '{ADVANTAGE}', service: Speech View, key: seeded-key}}\n"
    )
    cssm.store.apply_seed(seed)
    cssm.store.apply_seed(seed)  # an upsert: one key
    _request, response = sync(account, cssm, sysadmin)
    assert [(k["service"], k["key"]) for k in response["third_party_keys"]] == [("Speech View", "seeded-key")]
    assert ThirdPartyKey.objects.get(account=account).secret == "seeded-key"
    bad = tmp_path / "bad.yml"
    bad.write_text(seed.read_text().replace(ADVANTAGE, UNKNOWN))
    with pytest.raises(ValueError, match="unknown license"):
        cssm.store.apply_seed(bad)


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ({"key_id": "k", "tag": ADVANTAGE, "service": "S", "key": "x"}, "expires_on: is missing"),
        ({"key_id": "k", "tag": ADVANTAGE, "service": "S", "key": "", "expires_on": None}, "key: must not be empty"),
        (
            {"key_id": "k", "tag": ADVANTAGE, "service": "S", "key": "x", "expires_on": None, "url": "u"},
            "unknown field(s): url",
        ),
    ],
)
def test_schema_is_strict(key, problem):
    body = {
        "in_reply_to": "r",
        "onprem_name": "n",
        "export_control_allowed": False,
        "entitlements": [],
        "id_certificate": "-----BEGIN CERTIFICATE-----",
        "certificate_chain": [],
        "export_decisions": [],
        "dlc_decisions": [],
        "full_sync_required": False,
        "product_instances_on_cssm": 0,
        "third_party_keys": [key],
    }
    with pytest.raises(SchemaError) as caught:
        bodies.SYNC_RESPONSE_BODY.check(body, "body")
    assert str(caught.value) == f"body.third_party_keys[0].{problem}" or problem in str(caught.value)

"""Third-party keys (TPL): what CSSM grants, what a product instance may receive.

CSSM grants a key per license (a ``tag``) to the local account; the synchronization hands the
complete set to ``apply_cssm_keys`` (CSSM is its source of truth). A product instance asks with
GET_THIRD_PARTY_KEY (``get_third_party_keys``, a device message handler) and receives the keys of
the licenses its own local virtual account holds (a line valid today), unexpired; none is
``NO_THIRD_PARTY_KEYS``. Each delivery is recorded (``ThirdPartyKeyDelivery``: Inventory shows
which keys an instance received and when, never the key) with the guide's event "... connected and
received third party keys". Keys are stored encrypted (``core.crypto.EncryptedTextField``).
"""

import datetime

from django.db import transaction

from core import events

from ..models import Entitlement, ThirdPartyKey, ThirdPartyKeyDelivery
from ..models.licenses import valid_on_q
from .device_errors import NO_THIRD_PARTY_KEYS, DeviceError
from .device_registration import touch


def _available(pi, tags, today):
    """The keys ``pi`` may receive: its local VA holds their license today, not expired."""
    held = set(
        Entitlement.objects.filter(valid_on_q(today), virtual_account_id=pi.virtual_account_id).values_list(
            "license__entitlement_tag", flat=True
        )
    )
    if tags:
        held &= set(tags)
    if not held:
        return []
    keys = ThirdPartyKey.objects.filter(account_id=pi.account_id, tag__in=held).order_by("tag", "key_id")
    return [key for key in keys if key.expires_on is None or key.expires_on >= today]


def get_third_party_keys(cert, message, *, now):
    """GET_THIRD_PARTY_KEY: the keys of the instance's own virtual account, in the signed reply."""
    pi = cert.product_instance
    va = pi.virtual_account
    tags = message.fields["tags"]
    keys = _available(pi, tags, now.date())
    if not keys:
        raise DeviceError(
            NO_THIRD_PARTY_KEYS,
            f"No third party keys are available for this product instance in the Virtual Account “{va.name}”"
            + (" for the licenses asked for" if tags else "")
            + ": Cisco Smart Software Manager grants them with the licenses of the virtual account, at "
            "synchronization.",
        )
    touch(pi, now)
    existing = {
        d.key_id: d for d in ThirdPartyKeyDelivery.objects.filter(product_instance=pi, key__in=[k.pk for k in keys])
    }
    ThirdPartyKeyDelivery.objects.filter(pk__in=[d.pk for d in existing.values()]).update(delivered_at=now)
    ThirdPartyKeyDelivery.objects.bulk_create(
        [ThirdPartyKeyDelivery(product_instance=pi, key=k, delivered_at=now) for k in keys if k.pk not in existing]
    )
    events.record("device.third_party_keys", virtual_account=va, identifier=pi.display_name, pool_name=va.name)
    return cert.authority, {
        "status": "SUCCESS",
        "third_party_keys": [
            {
                "key_id": k.key_id,
                "tag": k.tag,
                "service": k.service,
                "key": k.secret,
                "expires_on": k.expires_on.isoformat() if k.expires_on else None,
            }
            for k in keys
        ],
    }


@transaction.atomic
def apply_cssm_keys(account, keys, *, now):
    """Make the account's third-party keys the ones CSSM sent (``[{key_id, tag, service, key,
    expires_on}]``, the complete set); returns (added, changed, removed). Called by the
    synchronization inside its transaction."""
    held = {k.key_id: k for k in ThirdPartyKey.objects.select_for_update().filter(account=account)}
    sent = {k["key_id"]: k for k in keys}
    added = changed = 0
    for key_id, line in sent.items():
        values = {
            "tag": line["tag"][:255],
            "service": line["service"][:255],
            "secret": line["key"],
            "expires_on": datetime.date.fromisoformat(line["expires_on"]) if line["expires_on"] else None,
        }
        key = held.get(key_id)
        if key is None:
            ThirdPartyKey.objects.create(account=account, key_id=key_id, received_at=now, **values)
            added += 1
        elif any(getattr(key, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(key, name, value)
            key.received_at = now
            key.save()
            changed += 1
    gone = [k.pk for key_id, k in held.items() if key_id not in sent]
    ThirdPartyKey.objects.filter(pk__in=gone).delete()
    if added or changed or gone:
        events.record(
            "sync.third_party_keys",
            account=account,
            account_name=account.name,
            count=len(sent),
            added=added,
            changed=changed,
            removed=len(gone),
        )
    return added, changed, len(gone)


def deliveries(pi):
    """What Inventory shows: the keys ``pi`` received (service, license, key id, when), no secret."""
    return list(
        ThirdPartyKeyDelivery.objects.filter(product_instance=pi)
        .select_related("key")
        .defer("key__secret")
        .order_by("key__service", "key__key_id")
    )


__all__ = ["get_third_party_keys", "apply_cssm_keys", "deliveries"]

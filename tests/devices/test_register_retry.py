"""A REGISTER repeated because its reply was lost (a failover cut the connection after the commit,
the agent retried with a fresh nonce) is the registration the server already made: the same
product instance and ID certificate, no second token use, no second event. A re-registration
with a new key is still a re-registration (tests/ha/test_failover.py runs the real case)."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from core.models import Event
from licensing.models import DeviceCertificate, ProductInstance, RegistrationToken

pytestmark = pytest.mark.django_db


def _counts(tok):
    return (
        RegistrationToken.objects.get(pk=tok.pk).uses,
        Event.objects.filter(event_type="device.registered").count(),
        DeviceCertificate.objects.filter(revoked_at__isnull=True).count(),
        ProductInstance.objects.count(),
    )


def test_the_same_register_again_is_the_same_registration(device, token):
    dev, tok = device("RETRY-1"), token()
    first = dev.register(tok, hostname="retry-1")
    again = dev.register(tok, hostname="retry-1")  # same key and token, a fresh nonce and timestamp
    assert first["status"] == again["status"] == "SUCCESS"
    for field in ("product_instance_id", "id_certificate", "id_certificate_serial", "virtual_account"):
        assert again[field] == first[field], field
    assert _counts(tok) == (1, 1, 1, 1)
    assert dev.send("AUTHORIZE", entitlements=[])["status"] in ("SUCCESS", "FAILED")  # the certificate works


def test_a_new_key_or_another_token_is_a_re_registration_and_counts(device, token):
    dev, tok = device("RETRY-2"), token()
    dev.register(tok)
    dev.key = ec.generate_private_key(ec.SECP256R1())  # the device was reset: a new key
    renewed = dev.register(tok)
    assert renewed["status"] == "SUCCESS"
    assert _counts(tok) == (2, 2, 1, 1)  # a second use and event; the old certificate revoked
    other = token()
    dev.register(other)  # the same key with another token: a re-registration too
    assert RegistrationToken.objects.get(pk=other.pk).uses == 1
    assert Event.objects.filter(event_type="device.registered").count() == 3

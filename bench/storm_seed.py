"""N registered devices, fast, for the reconnect storm: ``python -m bench.storm_seed --devices N --token T
--licenses 'TAG|TAG' --output FILE``.

Registering 50,000 devices through REGISTER is slow (a key, a CSR and a signed certificate each),
and the storm is about what comes *after* registration. So this makes, in bulk, what REGISTER leaves
behind, with the server's own PKI: for each device of a seeded fleet
(``smart_agent.fleet.identities``) a P-256 key of its own, an ID certificate for that key
issued by the local account's signing authority (``device_pki.current_authority`` and
``device_pki.authority_key``, the certificate built by ``core.pki.issue_device_certificate``
with exactly the subject, OU and dates ``device_pki.issue_certificate`` gives it), the
product instance in the token's virtual account, its DeviceIdentity (created with that token,
one use counted each) and its DeviceCertificate row — ``bulk_create`` in batches, the
certificates signed by a process pool. It then writes the devices file the storm loads
(``smart_agent.fleet.storm.write_devices_file``: key, certificate, the account's chain, product
instance id, licenses), so every storm message is signed with the device's key and verified by
the server against the stored certificate, as after a real registration.

Runs in the server's environment (DATABASE_URL, ONPREM_DATA_DIR) and prints one line
``STORM_SEED {json}`` with the counts and how long each part took.
"""

import argparse
import datetime
import json
import multiprocessing
import os
import random
import sys
import time

BATCH = 2000
_pool_state = {}  # the authority, handed to forked pool processes


def _issue(batch):
    """(key PEM, certificate PEM, serial hex, public-key fingerprint, not_after) per (pid, serial)."""
    from core import pki

    out = []
    authority_key, authority_cert, ou, now = (_pool_state[k] for k in ("key", "cert", "ou", "now"))
    for udi_pid, udi_serial in batch:
        device_key = _new_key()
        cert = pki.issue_device_certificate(
            authority_key=authority_key,
            authority_cert=authority_cert,
            public_key=device_key.public_key(),
            common_name=f"{udi_pid}:{udi_serial}",
            serial_number_attr=f"PID:{udi_pid} SN:{udi_serial}",
            organizational_unit=ou,
            now=now,
        )
        out.append(
            (
                pki.private_key_pem(device_key),
                pki.certificate_pem(cert),
                pki.serial_hex(cert.serial_number),
                pki.public_key_fingerprint(device_key.public_key()),
                cert.not_valid_after_utc,
            )
        )
    return out


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def seed(*, devices, token_string, licenses, output, seed=11, processes=None, log=print):
    import hashlib

    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from core import pki
    from licensing.models import DeviceCertificate, DeviceIdentity, ProductInstance, RegistrationToken
    from licensing.services.device_pki import authority_key, current_authority
    from licensing.services.tokens import canonical_token
    from smart_agent.fleet.identities import generate
    from smart_agent.fleet.storm import write_devices_file

    timings = {}
    started = time.perf_counter()
    digest = hashlib.sha256(canonical_token(token_string).encode()).hexdigest()
    token = RegistrationToken.objects.select_related("virtual_account__account").get(token_digest=digest)
    if token.max_uses is not None and token.max_uses - token.uses < devices:
        raise SystemExit(f"The token has {token.max_uses - token.uses} uses left, not {devices}.")
    va, account = token.virtual_account, token.virtual_account.account
    now = timezone.now()
    authority = current_authority(account, now)

    # Identities not yet in the account (the bench's REGISTER phase may have used the same generator).
    taken = set(ProductInstance.objects.filter(account=account).values_list("udi_pid", "udi_serial_number"))
    people = [p for p in generate(devices + len(taken), seed=seed) if (p.udi_pid, p.udi_serial_number) not in taken][
        :devices
    ]
    if len(people) < devices:
        raise SystemExit(f"Could only make {len(people)} new identities.")
    timings["identities_s"] = round(time.perf_counter() - started, 2)

    t0 = time.perf_counter()
    _pool_state.update(
        key=authority_key(authority), cert=pki.load_certificate(authority.certificate_pem), ou=account.name, now=now
    )
    udis = [(p.udi_pid, p.udi_serial_number) for p in people]
    processes = processes or min(os.cpu_count() or 1, 4)
    chunks = _chunks(udis, 500)
    if processes > 1 and len(udis) > 1000:
        with multiprocessing.get_context("fork").Pool(processes) as pool:
            issued = [item for part in pool.map(_issue, chunks) for item in part]
    else:
        issued = [item for part in map(_issue, chunks) for item in part]
    timings["keys_and_certificates_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    renew_after = now + datetime.timedelta(days=pki.RENEW_AFTER_DAYS)
    with transaction.atomic():
        pis = [
            ProductInstance(
                account=account,
                virtual_account=va,
                udi_pid=p.udi_pid,
                udi_serial_number=p.udi_serial_number,
                hostname=p.hostname,
                product_name=p.product_name,
                registered_at=now,
                last_contact_at=now,
            )
            for p in people
        ]
        created = []
        for part in _chunks(pis, BATCH):
            created.extend(ProductInstance.objects.bulk_create(part))
        if any(pi.pk is None for pi in created):  # a database without RETURNING: read the ids back
            ids = dict(
                ((pid, sn), pk)
                for pid, sn, pk in ProductInstance.objects.filter(account=account, registered_at=now).values_list(
                    "udi_pid", "udi_serial_number", "pk"
                )
            )
            for pi in created:
                pi.pk = ids[(pi.udi_pid, pi.udi_serial_number)]
        identities = [
            DeviceIdentity(
                product_instance_id=pi.pk,
                udi_vid=p.udi_vid,
                uuid=p.uuid,
                mac_address=p.mac_address,
                ip_address=p.ip_address,
                software_tag=p.software_tag,
                product_type=p.product_type,
                agent_version="smart-agent/1.0",
                transport=DeviceIdentity.Transport.SMART_TRANSPORT,
                registration_token=token,
                export_controlled=token.export_controlled,
                created_with_token=token,
                created_in_virtual_account=va,
                created_at=now,
                updated_at=now,
            )
            for pi, p in zip(created, people, strict=True)
        ]
        for part in _chunks(identities, BATCH):
            DeviceIdentity.objects.bulk_create(part)
        certificates = [
            DeviceCertificate(
                product_instance_id=pi.pk,
                authority=authority,
                serial_hex=serial,
                certificate_pem=cert_pem,
                public_key_sha256=fingerprint,
                issued_at=now,
                not_after=not_after,
                renew_after=renew_after,
            )
            for pi, (_key, cert_pem, serial, fingerprint, not_after) in zip(created, issued, strict=True)
        ]
        for part in _chunks(certificates, BATCH):
            DeviceCertificate.objects.bulk_create(part)
        RegistrationToken.objects.filter(pk=token.pk).update(uses=F("uses") + len(created))
    timings["database_s"] = round(time.perf_counter() - t0, 2)

    t0 = time.perf_counter()
    rng = random.Random(seed)
    chain = authority.chain()
    records = (
        {
            "identity": p.to_dict(),
            "key": key_pem,
            "certificate": cert_pem,
            "product_instance_id": pi.pk,
            "licenses": [[tag, 1] for tag in sorted(rng.sample(licenses, rng.randint(1, len(licenses))))],
        }
        for pi, p, (key_pem, cert_pem, _s, _f, _n) in zip(created, people, issued, strict=True)
    )
    written = write_devices_file(output, chain_pems=chain, devices=records)
    timings["devices_file_s"] = round(time.perf_counter() - t0, 2)
    timings["total_s"] = round(time.perf_counter() - started, 2)
    result = {
        "devices": written,
        "account": account.name,
        "virtual_account": va.name,
        "output": str(output),
        "processes": processes,
        **timings,
    }
    log("STORM_SEED " + json.dumps(result))
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.storm_seed")
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--token", required=True, help="the registration token the devices were registered with")
    parser.add_argument(
        "--licenses", required=True, help="entitlement tags the devices authorize, separated by | (tags hold commas)"
    )
    parser.add_argument("--output", required=True, help="the devices file to write (mode 0600: it holds keys)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--processes", type=int, help="processes signing certificates (default: CPUs, at most 4)")
    args = parser.parse_args(argv)
    if args.devices < 1:
        parser.error("--devices must be at least 1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onprem.settings")
    import django

    django.setup()
    licenses = [tag for tag in args.licenses.split("|") if tag]
    seed(
        devices=args.devices,
        token_string=args.token,
        licenses=licenses,
        output=args.output,
        seed=args.seed,
        processes=args.processes,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

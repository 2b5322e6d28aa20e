"""One step of the sync measurement, run in the bench server's environment (a process of its own,
so each step's peak memory is its own): ``python -m bench.sync_measure STEP ...``

* ``register``: a local account registered online with the CSSM emulator (the real services).
* ``populate --total N``: bulk-create product instances (with one license usage each) in its
  Default virtual account until it holds N.
* ``build --out FILE``: time ``create_sync_request(full=True)``, write the request file.
* ``apply --file FILE``: time ``apply_response`` of the emulator's response file.

Prints ``BENCH_SYNC {json}`` with the seconds, the process's peak RSS (ru_maxrss) and its RSS
before the step.
"""

import argparse
import json
import os
import resource
import sys
import time

ACCOUNT = "Bench Sync"
SMART_ACCOUNT, CISCO_VA = "acme.example", "Lab"  # of sync/emulator/seed-example.yml
CCO_USER, CCO_PASSWORD = "admin@acme.example", "acme-cssm-demo-1"
BATCH = 5000


def _rss_mib():
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def _peak_mib():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def register():
    from licensing.services.accounts import create_account
    from sync.services.registration import register_online

    account = create_account(
        actor=None, name=ACCOUNT, cisco_smart_account=SMART_ACCOUNT, cisco_virtual_account=CISCO_VA
    )
    register_online(account, actor=None, username=CCO_USER, password=CCO_PASSWORD)
    account.refresh_from_db()
    return {"account": account.name, "status": account.status}


def populate(total):
    from django.db import transaction
    from django.utils import timezone

    from licensing.models import LicenseDefinition, LicenseUsage, LocalAccount, ProductInstance

    account = LocalAccount.objects.get(name=ACCOUNT)
    va = account.virtual_accounts.get(is_default=True)
    licenses = list(LicenseDefinition.objects.order_by("pk")[:4]) or [
        LicenseDefinition.objects.create(name="Bench license", entitlement_tag="regid.2026-01.com.example.BENCH,1.0_x")
    ]
    have = ProductInstance.objects.filter(account=account).count()
    now = timezone.now()
    started = time.perf_counter()
    while have < total:
        count = min(BATCH, total - have)
        with transaction.atomic():
            batch = ProductInstance.objects.bulk_create(
                ProductInstance(
                    account=account,
                    virtual_account=va,
                    udi_pid="C9300-24T",
                    udi_serial_number=f"FBS{have + i:08d}",
                    hostname=f"bench-sw{have + i:06d}",
                    product_name="Catalyst 9300 24-port data",
                    registered_at=now,
                    last_contact_at=now,
                )
                for i in range(count)
            )
            LicenseUsage.objects.bulk_create(
                LicenseUsage(product_instance_id=pi.pk, license=licenses[(have + i) % len(licenses)], count=1)
                for i, pi in enumerate(batch)
            )
        have += count
    return {"product_instances": have, "seconds": round(time.perf_counter() - started, 2)}


def build(out):
    from licensing.models import LocalAccount
    from sync.services.synchronization import create_sync_request

    account = LocalAccount.objects.get(name=ACCOUNT)
    before = _rss_mib()
    started = time.perf_counter()
    _document, text, _record = create_sync_request(account, actor=None, full=True)
    seconds = time.perf_counter() - started
    with open(out, "w") as handle:
        handle.write(text)
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": _peak_mib(),
        "rss_before_mib": before,
        "bytes": len(text.encode()),
    }


def apply(path):
    from licensing.models import LocalAccount
    from sync.services.synchronization import apply_response

    account = LocalAccount.objects.get(name=ACCOUNT)
    with open(path, "rb") as handle:
        data = handle.read()
    before = _rss_mib()
    started = time.perf_counter()
    record = apply_response(account, data, actor=None, name=os.path.basename(path))
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "peak_rss_mib": _peak_mib(),
        "rss_before_mib": before,
        "bytes": len(data),
        "result": str(getattr(record, "result", "")),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.sync_measure")
    sub = parser.add_subparsers(dest="step", required=True)
    sub.add_parser("register")
    sub.add_parser("populate").add_argument("--total", type=int, required=True)
    build_parser = sub.add_parser("build")
    build_parser.add_argument("--out", required=True)
    build_parser.add_argument("--profile", action="store_true", help="cProfile the build; top functions on stderr")
    sub.add_parser("apply").add_argument("--file", required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "onprem.settings")
    import django

    django.setup()
    if args.step == "register":
        result = register()
    elif args.step == "populate":
        result = populate(args.total)
    elif args.step == "build" and args.profile:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        result = profile.runcall(build, args.out)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(40)
    elif args.step == "build":
        result = build(args.out)
    else:
        result = apply(args.file)
    print("BENCH_SYNC " + json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Demo data for the Licensing workspace (``manage.py seed_demo``).

One local account, created with the real services and activated **without registration with
CSSM**, filled with a catalogue, license lines of every type, registration tokens, product
instances (bulk-created) and their usage, license tags and alerts. Everything random comes
from ``random.Random(seed)``, so the same seed gives the same devices, lines and usage (token
strings and passwords come from ``secrets`` and are never predictable). Dates are relative to
the moment of the run.
"""

import dataclasses
import datetime
import json
import random
import secrets
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from core.errors import ServiceError

from .models import (
    Entitlement,
    LicenseDefinition,
    LicenseHierarchy,
    LicenseUsage,
    LocalAccount,
    ProductInstance,
    RumReport,
)

# Written into the account's description: --replace only deletes accounts that carry it.
DEMO_MARKER = "Demo account made by seed_demo"
DEMO_USERS = ("demo-admin", "demo-va-user")
BATCH_SIZE = 2000
# Usage history: the first instances send a usage report a week over the last 90 days, so every
# "Usage over time" chart has a line to draw (bounded: the benchmark seeds 25,000 instances).
REPORT_HISTORY_DAYS = 90
REPORT_EVERY_DAYS = 7
REPORTING_INSTANCES = 2000

# key, name, entitlement tag, product family, export restricted, keys it substitutes for
CATALOGUE = [
    ("NE", "Network Essentials", "regid.2017-03.com.cisco.NETWORK_ESSENTIALS,1.0_demo-ne", "Catalyst 9000", False, ()),
    (
        "NA",
        "Network Advantage",
        "regid.2017-03.com.cisco.NETWORK_ADVANTAGE,1.0_demo-na",
        "Catalyst 9000",
        False,
        ("NE",),
    ),
    ("NP", "Network Premier", "regid.2017-03.com.cisco.NETWORK_PREMIER,1.0_demo-np", "Catalyst 9000", False, ("NA",)),
    ("DE", "DNA Essentials", "regid.2017-03.com.cisco.DNA_ESSENTIALS,1.0_demo-de", "Catalyst 9000 DNA", False, ()),
    ("DA", "DNA Advantage", "regid.2017-03.com.cisco.DNA_ADVANTAGE,1.0_demo-da", "Catalyst 9000 DNA", False, ("DE",)),
    ("AIR", "Air DNA Advantage", "regid.2018-06.com.cisco.AIR_DNA_A,1.0_demo-air", "Catalyst 9800", False, ()),
    ("SEC", "ISR 4000 Security", "regid.2014-12.com.cisco.ISR_4000_SEC,1.0_demo-sec", "ISR 4000", False, ()),
    ("AE", "ASR 1000 Advanced Enterprise", "regid.2014-12.com.cisco.ASR1K_AES,1.0_demo-ae", "ASR 1000", False, ()),
    (
        "HSEC",
        "Router US Export Lic. for DNA (HSECK9)",
        "regid.2019-03.com.cisco.DNA_HSEC,1.0_demo-hsec",
        "Routers",
        True,
        (),
    ),
]

# Local virtual accounts besides the Default: name, description, share of the product instances.
VIRTUAL_ACCOUNTS = [
    ("Default", "", 0.10),
    ("Campus", "Campus access and distribution switches, wireless", 0.35),
    ("Branch Offices", "Branch routers and switches", 0.25),
    ("Data Center", "WAN edge and core", 0.20),
    ("Lab", "Test and staging equipment", 0.10),
]


@dataclasses.dataclass(frozen=True)
class Profile:
    pid: str
    product_name: str
    serial_prefix: str
    host_role: str
    pairs: bool = False  # some of them are ACTIVE/STANDBY redundancy pairs


PROFILES = {
    "c9300-24": Profile("C9300-24T", "Catalyst 9300 24-port data", "FOC", "acc-sw"),
    "c9300-48": Profile("C9300-48P", "Catalyst 9300 48-port PoE+", "FOC", "acc-sw"),
    "c9200": Profile("C9200L-24T-4G", "Catalyst 9200L 24-port data", "JAE", "acc-sw"),
    "c9500": Profile("C9500-24Y4C", "Catalyst 9500 24x25G", "FDO", "core-sw"),
    "c9800": Profile("C9800-40-K9", "Catalyst 9800-40 Wireless Controller", "TTM", "wlc", pairs=True),
    "isr4331": Profile("ISR4331/K9", "Cisco ISR 4331", "FDO", "rtr"),
    "isr4451": Profile("ISR4451-X/K9", "Cisco ISR 4451-X", "FGL", "rtr"),
    "asr1001": Profile("ASR1001-X", "Cisco ASR 1001-X Router", "FXS", "wan-asr", pairs=True),
}

VA_PROFILES = {
    "Default": ["c9300-24", "isr4331", "c9200"],
    "Campus": ["c9300-24", "c9300-48", "c9500", "c9800"],
    "Branch Offices": ["isr4331", "isr4451", "c9200", "c9300-24"],
    "Data Center": ["asr1001", "c9500", "c9300-48"],
    "Lab": ["c9300-24", "c9800", "isr4451", "asr1001", "c9500"],
}
SITE_PREFIX = {"Default": "hq", "Campus": "cmp", "Branch Offices": "br", "Data Center": "dc1", "Lab": "lab"}


def _licenses_for(profile_key, rng):
    """{license key: count} that one product instance of this profile uses."""
    if profile_key in ("c9300-24", "c9300-48"):
        tier = rng.choices(["NE", "NA", "NP"], weights=[3, 5, 2])[0]
        return {tier: 1, ("DE" if tier == "NE" else "DA"): 1}
    if profile_key == "c9200":
        return {"NE": 1, "DE": 1}
    if profile_key == "c9500":
        return {"NA": 1, "DA": 1}
    if profile_key == "c9800":
        return {"AIR": rng.randint(10, 60)}
    if profile_key == "isr4331":
        return {"SEC": 1}
    if profile_key == "isr4451":
        return {"SEC": 1, "HSEC": 1}
    return {"AE": 1, "HSEC": 1}  # asr1001


def _b36(number, width=4):
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out.rjust(width, "0")


@dataclasses.dataclass
class SeedResult:
    account: LocalAccount
    virtual_accounts: list
    licenses: dict
    entitlements: int = 0
    product_instances: int = 0
    redundancy_pairs: int = 0
    usage_rows: int = 0
    usage_reports: int = 0
    tokens: list = dataclasses.field(default_factory=list)
    tags: list = dataclasses.field(default_factory=list)
    alerts_opened: int = 0
    users: list = dataclasses.field(default_factory=list)  # (username, role, password)
    out_of_compliance: tuple = ()  # (virtual account name, license name)


def existing_account(name):
    return LocalAccount.objects.filter(name=name).exclude(status=LocalAccount.Status.REJECTED).first()


def delete_demo(name, *, with_users):
    """--replace: delete the demo account ``name`` (only one made by seed_demo) and the demo users."""
    from django.contrib.auth import get_user_model

    account = existing_account(name)
    if account is not None:
        if not account.description.startswith(DEMO_MARKER):
            raise ServiceError(f"The local account “{name}” was not made by seed_demo; --replace leaves it alone.")
        account.delete()
    if with_users:
        get_user_model().objects.filter(username__in=DEMO_USERS).delete()


def _catalogue():
    """The demo catalogue, reusing definitions whose entitlement tag already exists."""
    licenses = {}
    for key, name, tag, family, restricted, _ in CATALOGUE:
        licenses[key], _created = LicenseDefinition.objects.get_or_create(
            entitlement_tag=tag,
            defaults={
                "name": name,
                "product_family": family,
                "export_restricted": restricted,
                "description": f"{name} (demo catalogue)",
            },
        )
    for key, *_rest, lowers in CATALOGUE:
        for lower in lowers:
            LicenseHierarchy.objects.get_or_create(higher=licenses[key], lower=licenses[lower])
    return licenses


def _product_instances(rng, account, vas, count, now, licenses):
    """Build (unsaved) product instances and, per instance, {license: count}; pairs share usage."""
    va_names = [name for name, _, _ in VIRTUAL_ACCOUNTS]
    weights = [share for _, _, share in VIRTUAL_ACCOUNTS]
    pis, uses = [], []
    pairs = 0
    # Fixed silences for some instances: Failed to Connect (35, 65 days) and Failed to Renew (95 days).
    silent_days = {3: 35, 4: 65, 5: 95}
    i = 0
    while len(pis) < count:
        # The first instances walk every virtual account and profile so small runs show them all.
        va_name = va_names[i % len(va_names)] if i < 25 else rng.choices(va_names, weights=weights)[0]
        profile_choices = VA_PROFILES[va_name]
        profile_key = (
            profile_choices[(i // len(va_names)) % len(profile_choices)] if i < 25 else rng.choice(profile_choices)
        )
        profile = PROFILES[profile_key]
        paired = profile.pairs and count - len(pis) >= 2 and rng.random() < 0.6
        usage = {licenses[k]: n for k, n in _licenses_for(profile_key, rng).items()}
        registered = now - datetime.timedelta(minutes=rng.randint(100 * 1440, 900 * 1440))
        if i in silent_days:
            days = silent_days[i]
        else:
            roll = rng.random()
            days = 35 if roll < 0.01 else 65 if roll < 0.02 else 95 if roll < 0.025 else 0
        silence = datetime.timedelta(days=days, minutes=rng.randint(0, 8 * 60 if days else 23 * 60))
        last_contact = now - silence
        registered = min(registered, last_contact - datetime.timedelta(days=1))
        site = f"{SITE_PREFIX[va_name]}{rng.randint(1, 40):02d}"
        group = f"ha-{profile.pid.split('-')[0].lower()}-{_b36(i, 5).lower()}" if paired else ""
        members = [("active", "a"), ("standby", "b")] if paired else [("none", "")]
        pairs += bool(paired)
        for role, suffix in members:
            number = len(pis)
            pis.append(
                ProductInstance(
                    account_id=account.pk,
                    virtual_account=vas[va_name],
                    udi_pid=profile.pid,
                    udi_serial_number=f"{profile.serial_prefix}{rng.randint(20, 28)}{rng.randint(1, 52):02d}"
                    f"{_b36(number)}",
                    hostname=f"{site}-{profile.host_role}{number:05d}{suffix}".lower(),
                    product_name=profile.product_name,
                    registered_at=registered,
                    last_contact_at=last_contact,
                    redundancy_role=role,
                    redundancy_group=group,
                )
            )
            uses.append(usage)
        i += 1
    return pis, uses, pairs


def _usage_reports(rng, account, pis, uses, now):
    """Weekly usage reports of each saved instance since it registered (at most 90 days): its counts
    grow to today's, the last one sent at its last contact. Demo data: stored unsigned."""
    reports = []
    start = now - datetime.timedelta(days=REPORT_HISTORY_DAYS)
    for pi, usage in zip(pis, uses, strict=False):
        if not usage:
            continue
        first = max(start, pi.registered_at) + datetime.timedelta(hours=rng.randint(0, 6 * 24))
        times = []
        at = pi.last_contact_at
        while at >= first:
            times.append(at)
            at -= datetime.timedelta(days=REPORT_EVERY_DAYS)
        times.reverse()
        for number, received_at in enumerate(times, start=1):
            share = 0.6 + 0.4 * number / len(times)  # a fleet that grew into its licenses
            lines = [
                {"tag": lic.entitlement_tag, "count": count if number == len(times) else max(1, round(count * share))}
                for lic, count in usage.items()
                if count
            ]
            reports.append(
                RumReport(
                    account_id=account.pk,
                    product_instance_id=pi.pk,
                    device_key=f"demo-{pi.pk}",
                    report_id=f"demo-{pi.pk}-{number}",
                    header={"demo": True},
                    payload=json.dumps({"usage": lines}),
                    signing_type="none",
                    signature_key="",
                    signature_value="",
                    received_at=received_at,
                )
            )
    RumReport.objects.bulk_create(reports, batch_size=BATCH_SIZE)
    return len(reports)


def _effective_usage(pis, uses):
    """{(va name, license): in use}, leaving out standby peers (they share the active's licenses)."""
    totals = defaultdict(int)
    for pi, usage in zip(pis, uses, strict=True):
        if pi.redundancy_role == ProductInstance.RedundancyRole.STANDBY:
            continue
        for lic, count in usage.items():
            totals[(pi.virtual_account.name, lic)] += count
    return totals


def _line_plan(rng, in_use, licenses, today):
    """Purchased quantities per (va, license): a borrow from a higher tier, one shortage, margins."""
    plan = {}
    vas = sorted({va for va, _ in in_use})
    # The out-of-compliance position: DNA Advantage where it is used most (it has no higher tier).
    da_usage = sorted(((in_use.get((va, licenses["DA"]), 0), va) for va in vas), key=lambda t: (-t[0], t[1]))
    ooc_va = da_usage[0][1] if da_usage and da_usage[0][0] > 0 else None
    for va in vas:
        borrow = 0
        ne = in_use.get((va, licenses["NE"]), 0)
        if ne:
            borrow = max(1, ne // 4)  # Network Essentials is short and borrows from Network Advantage
            plan[(va, licenses["NE"])] = ne - borrow
        for key in ("NA", "NP", "DE", "DA", "AIR", "SEC", "AE", "HSEC"):
            used = in_use.get((va, licenses[key]), 0)
            if key == "DA" and va == ooc_va:
                plan[(va, licenses[key])] = used - max(1, used // 10)
            elif used or key == "NA" and borrow:
                margin = max(2, used // 5) + rng.randint(0, 3)
                plan[(va, licenses[key])] = used + (borrow if key == "NA" else 0) + margin
    return plan, ooc_va


def _lines(rng, plan, vas, licenses, today):
    """Entitlement lines for the plan, each license with its usual type, plus dated lines on top."""
    years = lambda n: datetime.timedelta(days=365 * n)  # noqa: E731
    lines = []
    for (va_name, lic), quantity in sorted(plan.items(), key=lambda kv: (kv[0][0], kv[0][1].pk)):
        va = vas[va_name]
        key = next(k for k, v in licenses.items() if v == lic)
        if quantity <= 0:
            continue
        parts = [quantity] if quantity < 8 else [quantity - quantity // 3, quantity // 3]
        for n, part in enumerate(parts):
            if key in ("NE", "NA", "NP", "AE", "HSEC") and n == 0:
                start = today - datetime.timedelta(days=rng.randint(200, 1200))
                lines.append(
                    Entitlement(
                        virtual_account=va,
                        license=lic,
                        license_type="perpetual",
                        quantity=part,
                        start_date=start,
                        source="pak",
                        sku=f"{key}-PERP-{rng.randint(1, 9)}",
                    )
                )
            elif key in ("DE", "DA", "NE", "NA", "NP") or (key == "SEC" and n == 1):
                start = today - datetime.timedelta(days=rng.randint(30, 360))
                lines.append(
                    Entitlement(
                        virtual_account=va,
                        license=lic,
                        license_type="term",
                        quantity=part,
                        start_date=start,
                        end_date=start + years(3),
                        source="order",
                        sku=f"C9K-{key}-3Y",
                    )
                )
            elif key == "SEC":
                start = today - datetime.timedelta(days=rng.randint(10, 200))
                lines.append(
                    Entitlement(
                        virtual_account=va,
                        license=lic,
                        license_type="term",
                        quantity=part,
                        start_date=start,
                        end_date=start + years(1),
                        source="order",
                        sku="SL-4330-SEC-1Y",
                    )
                )
            else:
                start = today - datetime.timedelta(days=rng.randint(10, 300))
                lines.append(
                    Entitlement(
                        virtual_account=va,
                        license=lic,
                        license_type="subscription",
                        quantity=part,
                        start_date=start,
                        end_date=start + years(3),
                        source="ea",
                        subscription_id=f"Sub{rng.randint(100000, 999999)}",
                        sku="AIR-DNA-A-3Y",
                    )
                )
    # Dated lines on licenses where extra quantity changes no compliance story.
    lab, branch, dc, campus = vas["Lab"], vas["Branch Offices"], vas["Data Center"], vas["Campus"]
    day = lambda n: today + datetime.timedelta(days=n)  # noqa: E731
    lines += [
        # Term 1 year ending in 25 days, subscription in 55, term 3 years in 85: the 30/60/90-day alerts.
        Entitlement(
            virtual_account=branch,
            license=licenses["SEC"],
            license_type="term",
            quantity=12,
            start_date=day(25) - years(1),
            end_date=day(25),
            source="order",
            sku="SL-4330-SEC-1Y",
        ),
        Entitlement(
            virtual_account=campus,
            license=licenses["AIR"],
            license_type="subscription",
            quantity=40,
            start_date=day(55) - years(1),
            end_date=day(55),
            source="ea",
            subscription_id="Sub204817",
            sku="AIR-DNA-A-1Y",
        ),
        Entitlement(
            virtual_account=dc,
            license=licenses["AE"],
            license_type="term",
            quantity=4,
            start_date=day(85) - years(3),
            end_date=day(85),
            source="order",
            sku="SLASR1-AES-3Y",
        ),
        # A 60-day demo line started 45 days ago, and a term line that expired 10 days ago.
        Entitlement(
            virtual_account=lab,
            license=licenses["NP"],
            license_type="demo",
            quantity=10,
            start_date=day(-45),
            end_date=day(-45) + datetime.timedelta(days=60),
            source="other",
        ),
        Entitlement(
            virtual_account=lab,
            license=licenses["SEC"],
            license_type="term",
            quantity=5,
            start_date=day(-10) - years(1),
            end_date=day(-10),
            source="order",
            sku="SL-4330-SEC-1Y",
        ),
    ]
    return lines


def seed_demo(*, name="Demo", product_instances=300, seed=0, with_users=False, replace=False, now=None):
    """Create the demo account; refuses when ``name`` exists unless ``replace``. One transaction."""
    from accounts.roles import AccountRole
    from accounts.services.grants import set_account_role, set_virtual_account_role
    from accounts.services.users import create_user

    from .services.accounts import activate_account, create_account
    from .services.alerts import recompute_alerts
    from .services.tags import add_license_tags
    from .services.tokens import create_token, revoke_token
    from .services.virtual_accounts import create_virtual_account

    if product_instances < 0:
        raise ServiceError("The number of product instances cannot be negative.")
    rng = random.Random(seed)
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    today = now.astimezone(datetime.timezone.utc).date()
    with transaction.atomic():
        if replace:
            delete_demo(name, with_users=with_users)
        elif existing_account(name) is not None:
            raise ServiceError(
                f"A local account named “{name}” already exists; "
                "run seed_demo with --replace to delete and recreate it."
            )
        if with_users and not replace:
            from django.contrib.auth import get_user_model

            taken = list(get_user_model().objects.filter(username__in=DEMO_USERS).values_list("username", flat=True))
            if taken:
                raise ServiceError(f"The user “{taken[0]}” already exists; run seed_demo with --replace.")

        account = create_account(
            actor=None,
            name=name,
            cisco_smart_account="demo.example.com",
            cisco_virtual_account="DEMO",
            description=f"{DEMO_MARKER}; activated without registration with CSSM",
        )
        account = activate_account(actor=None, account=account)
        vas = {"Default": account.virtual_accounts.get(is_default=True)}
        for va_name, description, _ in VIRTUAL_ACCOUNTS[1:]:
            vas[va_name] = create_virtual_account(actor=None, account=account, name=va_name, description=description)
        licenses = _catalogue()
        result = SeedResult(account=account, virtual_accounts=list(vas.values()), licenses=licenses)

        pis, uses, result.redundancy_pairs = _product_instances(rng, account, vas, product_instances, now, licenses)
        plan, ooc_va = _line_plan(rng, _effective_usage(pis, uses), licenses, today)
        lines = _lines(rng, plan, vas, licenses, today)
        Entitlement.objects.bulk_create(lines, batch_size=BATCH_SIZE)
        result.entitlements = len(lines)
        if ooc_va:
            result.out_of_compliance = (ooc_va, licenses["DA"].name)

        for start in range(0, len(pis), BATCH_SIZE):
            batch = ProductInstance.objects.bulk_create(pis[start : start + BATCH_SIZE])
            rows = [
                LicenseUsage(product_instance_id=pi.pk, license=lic, count=count)
                for pi, usage in zip(batch, uses[start : start + BATCH_SIZE], strict=True)
                for lic, count in usage.items()
            ]
            LicenseUsage.objects.bulk_create(rows, batch_size=BATCH_SIZE)
            result.usage_rows += len(rows)
        result.product_instances = len(pis)
        result.usage_reports = _usage_reports(rng, account, pis[:REPORTING_INSTANCES], uses, now)

        result.tokens = [
            create_token(
                actor=None,
                virtual_account=vas["Campus"],
                description="Campus switches (unlimited uses)",
                expires_after_days=365,
            ),
            create_token(
                actor=None,
                virtual_account=vas["Branch Offices"],
                description="Branch rollout wave 3",
                expires_after_days=30,
                max_uses=25,
            ),
        ]
        revoked = create_token(
            actor=None, virtual_account=vas["Lab"], description="Lab token (revoked)", expires_after_days=7
        )
        result.tokens.append(revoke_token(actor=None, token=revoked) or revoked)

        held = set(Entitlement.objects.filter(virtual_account__account=account).values_list("license_id", flat=True))
        for tag, keys in (
            ("Campus", ["NE", "NA", "NP", "DE", "DA", "AIR"]),
            ("WAN", ["SEC", "AE", "HSEC"]),
            ("Renewal FY27", ["DA", "AIR", "SEC"]),
        ):
            chosen = [licenses[k] for k in keys if licenses[k].pk in held]
            if chosen:
                result.tags += add_license_tags(actor=None, account=account, licenses=chosen, names=[tag])

        if with_users:
            for username, role, va in (
                ("demo-admin", AccountRole.ACCOUNT_ADMIN, None),
                ("demo-va-user", AccountRole.VA_USER, vas["Campus"]),
            ):
                password = f"Demo-{secrets.token_urlsafe(12)}"
                user = create_user(
                    actor=None, username=username, password=password, description="Demo user made by seed_demo"
                )
                if va is None:
                    set_account_role(actor=None, account=account, role=role, user=user)
                    label = AccountRole(role).label
                else:
                    set_virtual_account_role(actor=None, virtual_account=va, role=role, user=user)
                    label = f"{AccountRole(role).label} ({va.name})"
                result.users.append((username, label, password))

        opened, _ = recompute_alerts(account, now)
        result.alerts_opened = len(opened)
    return result

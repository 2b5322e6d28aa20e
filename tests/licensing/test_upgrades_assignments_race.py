"""Upgrade completions and Change Virtual Account Assignment racing each other and license
transfers on PostgreSQL (two or more connections released together by a barrier): one upgrade is
completed once, a replaced line is not replaced twice, a subscription is not moved twice nor
copied beyond its quantity, no pool goes below zero, and every loser gets a clear ServiceError."""

import threading
import time

import pytest
from django.db import connection, connections

from core.errors import ServiceError
from licensing.models import Entitlement, UpgradeCompletion
from licensing.services import assignments, transfers, upgrades
from licensing.services.compliance import virtual_account_positions
from licensing.services.transfers import transfer_licenses

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def needs_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")


def slow(read, seconds=0.05):
    def _read(*args, **kwargs):
        value = read(*args, **kwargs)
        time.sleep(seconds)
        return value

    return _read


def race(jobs):
    """Run ``jobs`` [(kind, callable)] at once (a barrier), each on its own connection; returns
    [(kind, "ok" | the ServiceError's message)]. Anything else (a crash, a deadlock) fails the test."""
    start = threading.Barrier(len(jobs))
    outcomes, crashes, lock = [], [], threading.Lock()

    def run(kind, job):
        try:
            start.wait(timeout=30)
            try:
                job()
                outcome = "ok"
            except ServiceError as error:
                outcome = str(error)
            with lock:
                outcomes.append((kind, outcome))
        except Exception as error:  # noqa: BLE001 - reported below, with its kind
            with lock:
                crashes.append((kind, repr(error)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not crashes, crashes
    assert len(outcomes) == len(jobs)
    return outcomes


def available(va, lic):
    found = next((p for p in virtual_account_positions(va) if p.license_id == lic.pk), None)
    return (found.purchased, found.available) if found else (0, 0)


def _upgrade_setup(make_account, license_def, add_line, name):
    from licensing.services.virtual_accounts import create_virtual_account

    account = make_account(name)
    a = account.virtual_accounts.get()
    b = create_virtual_account(actor=None, account=account, name="B")
    old, new = license_def(f"{name} 11"), license_def(f"{name} 12")
    first = add_line(a, old, 6)
    second = add_line(a, old, 6)
    up = add_line(a, new, 0, pending_quantity=5, upgrade_id="UPG-RACE", upgrade_from=old, sku="UPG-RACE")
    return a, b, old, new, first, second, up


def _completions(up, first, second):
    return [
        ("first", lambda: upgrades.complete_upgrade(actor=None, upgrade=up, replacements={first.pk: 5})),
        ("second", lambda: upgrades.complete_upgrade(actor=None, upgrade=up, replacements={second.pk: 5})),
        ("both", lambda: upgrades.complete_upgrade(actor=None, upgrade=up, replacements={first.pk: 3, second.pk: 2})),
    ]


def test_one_upgrade_completed_once(make_account, license_def, add_line, monkeypatch):
    a, _b, old, new, first, second, up = _upgrade_setup(make_account, license_def, add_line, "Upgrade Race")
    # Widen the window between reading what to replace and writing it.
    monkeypatch.setattr(upgrades, "replaceable_lines", slow(upgrades.replaceable_lines))
    outcomes = race(_completions(up, first, second))
    completed = [kind for kind, outcome in outcomes if outcome == "ok"]
    assert len(completed) == 1, outcomes
    assert [o for _k, o in outcomes if o != "ok"] == ["This upgrade was completed already."] * 2
    assert UpgradeCompletion.objects.filter(upgrade_id="UPG-RACE").count() == 1
    assert sum(r["quantity"] for r in UpgradeCompletion.objects.get().replaced) == 5
    up.refresh_from_db()
    assert (up.quantity, up.pending_quantity) == (5, 0)
    assert available(a, old) == (12 - 5, 12 - 5)  # the replaced licenses left the ledger once
    assert available(a, new) == (5, 5)


def test_upgrade_completions_racing_transfers_of_what_they_replace(make_account, license_def, add_line, monkeypatch):
    a, b, old, new, first, second, up = _upgrade_setup(make_account, license_def, add_line, "Upgrade Transfer Race")
    monkeypatch.setattr(upgrades, "replaceable_lines", slow(upgrades.replaceable_lines))
    monkeypatch.setattr(transfers, "_position", slow(transfers._position))
    transfer = ("transfer", lambda: transfer_licenses(actor=None, from_va=a, to_va=b, license=old, quantity=2))
    outcomes = race(_completions(up, first, second) + [transfer] * 4)
    completed = [kind for kind, outcome in outcomes if kind != "transfer" and outcome == "ok"]
    moved = 2 * sum(1 for kind, outcome in outcomes if kind == "transfer" and outcome == "ok")
    # A transfer may take licenses a completion named first (it then says so), never both.
    assert len(completed) <= 1, outcomes
    for kind, outcome in outcomes:
        assert outcome == "ok" or any(
            text in outcome for text in ("completed already", "holds only", "can be replaced", "can be transferred")
        ), (kind, outcome)
    replaced = 5 * len(completed)
    assert UpgradeCompletion.objects.count() == len(completed)
    up.refresh_from_db()
    assert (up.quantity, up.pending_quantity) == ((5, 0) if completed else (0, 5))
    purchased_a, available_a = available(a, old)
    purchased_b, available_b = available(b, old)
    assert purchased_a + purchased_b == 12 - replaced  # nothing replaced twice, made or lost
    assert purchased_b == moved
    assert available_a >= 0 and available_b >= 0


def test_two_upgrades_cannot_replace_the_same_licenses(make_account, license_def, add_line, monkeypatch):
    account = make_account("Upgrade Pair Race")
    a = account.virtual_accounts.get()
    old, new, newer = license_def("Pair Old"), license_def("Pair New"), license_def("Pair Newer")
    shared = add_line(a, old, 5)
    x = add_line(a, new, 0, pending_quantity=5, upgrade_id="UPG-X", upgrade_from=old, sku="UPG-X")
    y = add_line(a, newer, 0, pending_quantity=5, upgrade_id="UPG-Y", upgrade_from=old, sku="UPG-Y")
    monkeypatch.setattr(upgrades, "replaceable_lines", slow(upgrades.replaceable_lines))
    outcomes = race(
        [
            ("x", lambda: upgrades.complete_upgrade(actor=None, upgrade=x, replacements={shared.pk: 5})),
            ("y", lambda: upgrades.complete_upgrade(actor=None, upgrade=y, replacements={shared.pk: 5})),
        ]
    )
    ok = [kind for kind, outcome in outcomes if outcome == "ok"]
    assert len(ok) == 1, outcomes
    loser = next(outcome for _kind, outcome in outcomes if outcome != "ok")
    assert "can be replaced by this upgrade" in loser or "holds only" in loser, loser
    assert not Entitlement.objects.filter(pk=shared.pk).exists()  # replaced once, all of it
    assert UpgradeCompletion.objects.count() == 1
    pending = {line.upgrade_id: line.pending_quantity for line in Entitlement.objects.exclude(upgrade_id="")}
    assert sorted(pending.values()) == [0, 5]  # the loser still pending, untouched


def test_change_virtual_account_assignment_moves_a_subscription_once(make_account, license_def, add_line, monkeypatch):
    from licensing.services.virtual_accounts import create_virtual_account

    account = make_account("Assignment Race")
    a = account.virtual_accounts.get()
    b, c, d = (create_virtual_account(actor=None, account=account, name=n) for n in ("B", "C", "D"))
    lic = license_def("Race Duplicate")
    add_line(a, lic, 10, subscription_id="SUB-1")
    add_line(a, lic, 4, subscription_id="SUB-2")
    monkeypatch.setattr(assignments, "holders", slow(assignments.holders))
    outcomes = race(
        [
            (
                "to b",
                lambda: assignments.change_virtual_account_assignment(
                    actor=None, virtual_account=a, license=lic, subscription_id="SUB-2", virtual_accounts=[b]
                ),
            ),
            (
                "to c",
                lambda: assignments.change_virtual_account_assignment(
                    actor=None, virtual_account=a, license=lic, subscription_id="SUB-2", virtual_accounts=[c]
                ),
            ),
            (
                "copy a+d",
                lambda: assignments.change_virtual_account_assignment(
                    actor=None, virtual_account=a, license=lic, subscription_id="SUB-2", virtual_accounts=[a, d]
                ),
            ),
        ]
    )
    ok = [kind for kind, outcome in outcomes if outcome == "ok"]
    assert len(ok) == 1, outcomes
    for _kind, outcome in outcomes:
        if outcome != "ok":
            assert "no licenses in the local virtual account" in outcome or "meanwhile" in outcome, outcome
    lines = list(Entitlement.objects.filter(license=lic, subscription_id="SUB-2"))
    originals = [line for line in lines if line.copied_from_id is None]
    copies = [line for line in lines if line.copied_from_id is not None]
    assert len(originals) == 1 and originals[0].quantity == 4  # moved once, not split nor lost
    assert all(copy.quantity == 4 and copy.copied_from_id == originals[0].pk for copy in copies)
    holders = sorted(line.virtual_account.name for line in lines)
    expected = {"to b": ["B"], "to c": ["C"], "copy a+d": [a.name, "D"]}[ok[0]]
    assert holders == sorted(expected)
    assert Entitlement.objects.get(license=lic, subscription_id="SUB-1").virtual_account_id == a.pk
    for va in (a, b, c, d):
        assert available(va, lic)[1] >= 0


def test_assignment_racing_a_transfer_of_the_same_licenses(make_account, license_def, add_line, monkeypatch):
    from licensing.services.virtual_accounts import create_virtual_account

    account = make_account("Assignment Transfer Race")
    a = account.virtual_accounts.get()
    b, c = (create_virtual_account(actor=None, account=account, name=n) for n in ("B", "C"))
    lic = license_def("Race Dup Transfer")
    add_line(a, lic, 3, subscription_id="SUB-1")
    add_line(a, lic, 3, subscription_id="SUB-2")
    monkeypatch.setattr(transfers, "_position", slow(transfers._position))
    monkeypatch.setattr(assignments, "holders", slow(assignments.holders))
    outcomes = race(
        [
            (
                "assign",
                lambda: assignments.change_virtual_account_assignment(
                    actor=None, virtual_account=a, license=lic, subscription_id="SUB-2", virtual_accounts=[b]
                ),
            ),
            ("transfer", lambda: transfer_licenses(actor=None, from_va=a, to_va=c, license=lic, quantity=5)),
        ]
    )
    total = sum(available(va, lic)[0] for va in (a, b, c))
    assert total == 6, outcomes  # nothing made or lost, whichever won
    for va in (a, b, c):
        assert available(va, lic)[1] >= 0
    for kind, outcome in outcomes:
        assert outcome == "ok" or any(
            text in outcome for text in ("no licenses in the local virtual account", "meanwhile", "available")
        ), (
            kind,
            outcome,
        )


def test_ports_racing_reservations_and_transfers_never_overdraw(
    make_account, license_def, add_line, add_pi, monkeypatch
):
    from licensing.models import PortableLicense, PortCompletion
    from licensing.services import ports, reservations
    from licensing.services.virtual_accounts import create_virtual_account

    account = make_account("Port Race")
    a = account.virtual_accounts.get()
    b = create_virtual_account(actor=None, account=account, name="B")
    lic, cloud = license_def("Port Race On-Prem"), license_def("Port Race Cloud")
    PortableLicense.objects.create(account=account, license=lic, target=cloud)
    add_line(a, lic, 6)
    fresh = [add_pi(a, f"P{i}") for i in range(2)]
    monkeypatch.setattr(ports, "_position", slow(ports._position, 0.2))
    monkeypatch.setattr(transfers, "_position", slow(transfers._position, 0.2))
    monkeypatch.setattr(reservations, "_available", slow(reservations._available, 0.2))
    jobs = (
        [("port", lambda: ports.port_licenses(actor=None, virtual_account=a, license=lic, target=cloud, quantity=3))]
        * 2
        + [("transfer", lambda: transfer_licenses(actor=None, from_va=a, to_va=b, license=lic, quantity=3))]
        + [
            (
                "reserve",
                lambda pi=pi: reservations.reserve_licenses(actor=None, product_instance=pi, license=lic, quantity=3),
            )
            for pi in fresh
        ]
    )
    outcomes = race(jobs)
    ok = {k: sum(1 for kind, o in outcomes if kind == k and o == "ok") for k in ("port", "transfer", "reserve")}
    purchased_a, available_a = available(a, lic)
    purchased_b, _available_b = available(b, lic)
    ported = available(a, cloud)[0]
    assert ported == 3 * ok["port"] and PortCompletion.objects.count() == ok["port"]
    assert purchased_a + purchased_b + ported == 6, outcomes  # nothing made or lost
    assert purchased_b == 3 * ok["transfer"]
    assert available_a >= 0, outcomes  # never overdrawn: the reservations stay covered
    assert 3 * ok["port"] + 3 * ok["transfer"] + 3 * ok["reserve"] <= 6, outcomes

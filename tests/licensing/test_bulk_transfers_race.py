"""Bulk license transfers racing reservations and individual transfers on the same licenses, on
PostgreSQL: no pool overdrawn (available never below zero with no usage), nothing counted twice,
nothing made or lost, and every bulk all or nothing."""

import threading
import time

import pytest
from django.db import connection, connections

from core.errors import ServiceError
from licensing.models import LicenseReservation
from licensing.services import reservations
from licensing.services.compliance import virtual_account_positions
from licensing.services.transfers import transfer_licenses, transfer_licenses_bulk


def position(va, lic):
    return next((p for p in virtual_account_positions(va) if p.license_id == lic.pk), None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_bulk_transfers_racing_reservations_and_transfers(make_account, license_def, add_line, add_pi, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    from licensing.services import transfers
    from licensing.services.virtual_accounts import create_virtual_account

    account = make_account("Bulk Race")
    a = account.virtual_accounts.get()
    b = create_virtual_account(actor=None, account=account, name="B")
    one, two = license_def("Race One"), license_def("Race Two")
    add_line(a, one, 20)
    add_line(a, two, 20)
    add_line(b, one, 5)
    fresh = [add_pi(a, f"R{i}") for i in range(12)]

    def slow(read):
        def _read(*args, **kwargs):
            value = read(*args, **kwargs)
            time.sleep(0.05)
            return value

        return _read

    # Widen the window between reading a balance and writing what it allows.
    monkeypatch.setattr(reservations, "_available", slow(reservations._available))
    monkeypatch.setattr(transfers, "_position", slow(transfers._position))

    jobs = (
        [("reserve", pi) for pi in fresh]
        + [("bulk", None)] * 8
        + [("back", None)] * 4  # bulk B -> A: opposite direction, no deadlock
        + [("single", None)] * 8
    )
    start = threading.Barrier(len(jobs))
    outcomes, lock = [], threading.Lock()

    def run(kind, pi):
        try:
            start.wait(timeout=30)
            try:
                if kind == "reserve":
                    lic = one if pi.pk % 2 else two
                    reservations.reserve_licenses(actor=None, product_instance=pi, license=lic, quantity=1)
                elif kind == "bulk":
                    transfer_licenses_bulk(actor=None, from_va=a, to_va=b, items=[(one, 3), (two, 3)])
                elif kind == "back":
                    transfer_licenses_bulk(actor=None, from_va=b, to_va=a, items=[(one, 2)])
                else:
                    transfer_licenses(actor=None, from_va=a, to_va=b, license=two, quantity=2)
                outcome = "ok"
            except ServiceError:
                outcome = "refused"
            with lock:
                outcomes.append((kind, pi, outcome))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert len(outcomes) == len(jobs)
    ok = {
        k: sum(1 for kind, _pi, o in outcomes if kind == k and o == "ok") for k in ("reserve", "bulk", "back", "single")
    }
    reserved = {
        lic: sum(1 for kind, pi, o in outcomes if kind == "reserve" and o == "ok" and (pi.pk % 2 == (lic is one)))
        for lic in (one, two)
    }

    for lic, total in ((one, 25), (two, 20)):
        pa, pb = position(a, lic), position(b, lic)
        purchased_a = pa.purchased if pa else 0
        purchased_b = pb.purchased if pb else 0
        assert purchased_a + purchased_b == total  # nothing made or lost
        assert (pa.available if pa else 0) >= 0 and (pb.available if pb else 0) >= 0  # nothing overdrawn
        assert (pa.reserved if pa else 0) == reserved[lic]  # each reservation counted once

    # all or nothing: every successful bulk moved both of its licenses, a refused one neither
    def purchased(va, lic):  # a virtual account left with none of a license has no position for it
        found = position(va, lic)
        return found.purchased if found else 0

    assert purchased(b, one) == 5 + 3 * ok["bulk"] - 2 * ok["back"]
    assert purchased(b, two) == 3 * ok["bulk"] + 2 * ok["single"]
    assert LicenseReservation.objects.count() == ok["reserve"]
    assert ok["bulk"] >= 1

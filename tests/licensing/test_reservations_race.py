"""Reservations racing license transfers and product instance transfers on PostgreSQL: no pool is
overdrawn (available never below zero with no usage), nothing is counted twice, nothing made or lost."""

import threading
import time

import pytest
from django.db import connection, connections

from core.errors import ServiceError
from licensing.models import LicenseReservation
from licensing.services import reservations
from licensing.services.compliance import virtual_account_positions
from licensing.services.product_instances import transfer_product_instance
from licensing.services.transfers import transfer_licenses


def position(va, lic):
    return next((p for p in virtual_account_positions(va) if p.license_id == lic.pk), None)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_reservations_and_transfers_racing_never_overdraw(make_account, license_def, add_line, add_pi, monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    from licensing.services.virtual_accounts import create_virtual_account

    account = make_account("Race")
    a = account.virtual_accounts.get()
    b = create_virtual_account(actor=None, account=account, name="B")
    lic = license_def("Race License")
    add_line(a, lic, 30)
    fresh = [add_pi(a, f"R{i}") for i in range(30)]
    movers = [add_pi(a, f"M{i}") for i in range(4)]
    for pi in movers:
        reservations.reserve_licenses(actor=None, product_instance=pi, license=lic, quantity=2)
    assert position(a, lic).available == 22
    # Widen the window between reading a balance and writing what it allows, on both sides, so
    # a missing lock loses the race every time instead of now and then.
    from licensing.services import transfers

    def slow(read):
        def _read(*args, **kwargs):
            value = read(*args, **kwargs)
            time.sleep(0.05)
            return value

        return _read

    monkeypatch.setattr(reservations, "_available", slow(reservations._available))
    monkeypatch.setattr(transfers, "_position", slow(transfers._position))

    jobs = [("reserve", pi) for pi in fresh] + [("transfer", None)] * 30 + [("move", pi) for pi in movers]
    start = threading.Barrier(len(jobs))
    outcomes, lock = [], threading.Lock()

    def run(kind, pi):
        try:
            start.wait(timeout=30)
            try:
                if kind == "reserve":
                    reservations.reserve_licenses(actor=None, product_instance=pi, license=lic, quantity=1)
                elif kind == "transfer":
                    transfer_licenses(actor=None, from_va=a, to_va=b, license=lic, quantity=1)
                else:
                    transfer_product_instance(actor=None, pi=pi, to_va=b)
                outcome = "ok"
            except ServiceError:
                outcome = "refused"
            with lock:
                outcomes.append((kind, outcome))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == len(jobs)
    ok = {kind: sum(1 for k, o in outcomes if k == kind and o == "ok") for kind in ("reserve", "transfer", "move")}
    assert ok["move"] == 4  # a product instance transfer is never refused for its reservation

    pa, pb = position(a, lic), position(b, lic)
    assert pa.purchased + pb.purchased == 30  # nothing made or lost
    assert pa.available >= 0 and pb.available >= 0  # no pool overdrawn (no usage: available = purchased - reserved)
    # no double counting: each successful reservation is counted once, where its instance is
    assert pa.reserved == ok["reserve"]
    assert pb.reserved == 2 * ok["move"]
    assert pb.purchased == ok["transfer"] + 2 * ok["move"]
    assert LicenseReservation.objects.count() == ok["reserve"] + ok["move"]
    assert ok["reserve"] + ok["transfer"] <= 22

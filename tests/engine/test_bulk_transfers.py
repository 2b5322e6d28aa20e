"""Bulk license transfers (several licenses to or from one other virtual account, all or nothing)
and the read-only before/after preview of every transfer."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import AccountRole
from accounts.services.grants import set_virtual_account_role
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Entitlement
from licensing.services import alert_hooks
from licensing.services.compliance import virtual_account_positions
from licensing.services.transfers import preview_bulk_transfer, preview_transfer, transfer_licenses_bulk

TODAY = datetime.date(2025, 3, 1)


@pytest.fixture
def lab(acme, new_va):
    return new_va("Lab")


@pytest.fixture
def three(license_def):
    return license_def("CSR 1KV"), license_def("DNA Advantage"), license_def("HSEC", export_restricted=True)


def _figures(va, lic):
    for p in virtual_account_positions(va, as_of=TODAY):
        if p.license_id == lic.pk:
            return p.purchased, p.available
    return 0, 0


def _snapshot():
    return (
        list(Entitlement.objects.order_by("pk").values_list("pk", "virtual_account_id", "quantity")),
        Event.objects.count(),
    )


def test_bulk_moves_every_license_in_one_go_with_one_event_pair_per_license(
    default_va, lab, three, add_line, monkeypatch
):
    csr, dna, hsec = three
    add_line(default_va, csr, 10)
    add_line(default_va, dna, 4)
    add_line(lab, dna, 1)
    hooks = []
    monkeypatch.setattr(alert_hooks, "lines_changed", lambda account_id, vas: hooks.append((account_id, vas)))
    results = transfer_licenses_bulk(
        actor=None, from_va=default_va, to_va=lab, items=[(csr, 3), (dna, "4")], as_of=TODAY
    )
    assert [r.quantity for r in results] == [3, 4]
    assert _figures(default_va, csr) == (7, 7) and _figures(lab, csr) == (3, 3)
    assert _figures(default_va, dna) == (0, 0) and _figures(lab, dna) == (5, 5)
    assert Event.objects.filter(event_type="license.transferred", virtual_account=default_va).count() == 2
    assert Event.objects.filter(event_type="license.transferred_in", virtual_account=lab).count() == 2
    assert len(hooks) == 1 and {va.pk for va in hooks[0][1]} == {default_va.pk, lab.pk}


def test_one_refused_license_refuses_the_whole_bulk_and_writes_nothing(default_va, lab, three, add_line, use_many):
    csr, dna, hsec = three
    add_line(default_va, csr, 10)
    add_line(default_va, hsec, 4)
    use_many(default_va, hsec, 4)  # export-restricted, all in use: case 3, refused
    before = _snapshot()
    with pytest.raises(ServiceError, match="“HSEC”: The “HSEC” licenses of the Virtual Account"):
        transfer_licenses_bulk(actor=None, from_va=default_va, to_va=lab, items=[(csr, 3), (hsec, 1)], as_of=TODAY)
    assert _snapshot() == before
    with pytest.raises(ServiceError, match="Only 10"):
        transfer_licenses_bulk(actor=None, from_va=default_va, to_va=lab, items=[(csr, 11)], as_of=TODAY)
    for items in ([], [(csr, 1), (csr, 1)], [(csr, 0)], [(csr, "x")]):
        with pytest.raises(ServiceError):
            transfer_licenses_bulk(actor=None, from_va=default_va, to_va=lab, items=items, as_of=TODAY)
    with pytest.raises(ServiceError):
        transfer_licenses_bulk(actor=None, from_va=default_va, to_va=default_va, items=[(csr, 1)], as_of=TODAY)
    assert _snapshot() == before


def test_reserved_licenses_stay_in_a_bulk(default_va, lab, three, add_line, add_pi):
    from licensing.services import reservations

    csr, dna, _ = three
    add_line(default_va, csr, 5)
    reservations.reserve_licenses(actor=None, product_instance=add_pi(default_va, "R1"), license=csr, quantity=2)
    before = _snapshot()
    with pytest.raises(ServiceError, match="2 are reserved"):
        transfer_licenses_bulk(actor=None, from_va=default_va, to_va=lab, items=[(csr, 4)])
    assert _snapshot() == before
    transfer_licenses_bulk(actor=None, from_va=default_va, to_va=lab, items=[(csr, 3)])


def test_bulk_rbac_needs_both_virtual_accounts_either_direction(acme, default_va, lab, three, add_line, make_user):
    csr, dna, _ = three
    add_line(default_va, csr, 10)
    add_line(lab, dna, 10)
    vic = make_user("vic")
    set_virtual_account_role(actor=None, virtual_account=default_va, role=AccountRole.VA_USER, user=vic)
    before = _snapshot()
    for source, target, lic in ((default_va, lab, csr), (lab, default_va, dna)):
        with pytest.raises(NotAllowed):
            transfer_licenses_bulk(actor=vic, from_va=source, to_va=target, items=[(lic, 1)], as_of=TODAY)
        with pytest.raises(NotAllowed):
            preview_bulk_transfer(actor=vic, from_va=source, to_va=target, items=[(lic, 1)], as_of=TODAY)
    assert _snapshot() == before
    set_virtual_account_role(actor=None, virtual_account=lab, role=AccountRole.VA_USER, user=vic)
    # "from": into the virtual account shown (default) out of Lab: the same service, swapped.
    transfer_licenses_bulk(actor=vic, from_va=lab, to_va=default_va, items=[(dna, 2)], as_of=TODAY)
    assert _figures(default_va, dna) == (2, 2) and _figures(lab, dna) == (8, 8)
    assert Event.objects.get(event_type="license.transferred", virtual_account=lab).user == vic


def test_bulk_preview_is_read_only_and_matches_what_the_transfer_does(
    default_va, lab, three, license_def, add_line, use_many
):
    csr, dna, hsec = three
    add_line(default_va, csr, 10)
    use_many(default_va, csr, 4)
    add_line(default_va, hsec, 2)
    use_many(default_va, hsec, 2)
    # Substitution: the higher tier "DNA Premier" stands in for DNA Advantage in Lab.
    premier = license_def("DNA Premier", substitutes_for=[dna])
    add_line(lab, premier, 3)
    use_many(lab, dna, 2)
    add_line(default_va, dna, 5)
    before = _snapshot()
    with CaptureQueriesContext(connection) as queries:
        preview = preview_bulk_transfer(
            actor=None, from_va=default_va, to_va=lab, items=[(csr, 8), (dna, 5), (hsec, 1)], as_of=TODAY
        )
    assert len(queries) <= 2  # the positions before, then after: whatever the number of licenses
    assert not any(
        q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) for q in queries.captured_queries
    )
    assert _snapshot() == before
    by_name = {item.license.name: item for item in preview.items}
    c = by_name["CSR 1KV"]
    assert c.refusal == "" and (c.limits.purchased, c.limits.in_use, c.limits.available) == (10, 4, 6)
    assert (c.from_before.purchased, c.from_before.available, c.from_after.purchased, c.from_after.available) == (
        10,
        6,
        2,
        -2,
    )
    assert (c.to_before.purchased, c.to_before.available, c.to_after.purchased, c.to_after.available) == (0, 0, 8, 8)
    d = by_name["DNA Advantage"]
    # Lab borrowed 2 from DNA Premier before; with 5 of its own it no longer needs to.
    assert (d.to_before.purchased, d.to_before.available, d.to_after.purchased, d.to_after.available) == (0, 0, 5, 3)
    assert "Export Control" in by_name["HSEC"].refusal and preview.refused
    # The same licenses without the refused one: the transfer lands exactly where the preview said.
    preview = preview_bulk_transfer(actor=None, from_va=default_va, to_va=lab, items=[(csr, 8), (dna, 5)], as_of=TODAY)
    assert not preview.refused
    transfer_licenses_bulk(actor=None, from_va=default_va, to_va=lab, items=[(csr, 8), (dna, 5)], as_of=TODAY)
    for item in preview.items:
        assert _figures(default_va, item.license) == (item.from_after.purchased, item.from_after.available)
        assert _figures(lab, item.license) == (item.to_after.purchased, item.to_after.available)


def test_bulk_preview_of_too_many_names_the_limit(default_va, lab, three, add_line):
    csr, *_ = three
    add_line(default_va, csr, 3)
    preview = preview_bulk_transfer(actor=None, from_va=default_va, to_va=lab, items=[(csr, 4)], as_of=TODAY)
    assert preview.refused and "Only 3" in preview.items[0].refusal
    assert preview.items[0].to_after.purchased == 0  # nothing counted for a refused license


def test_individual_preview_writes_nothing(default_va, lab, three, add_line):
    csr, *_ = three
    add_line(default_va, csr, 3)
    before = _snapshot()
    with CaptureQueriesContext(connection) as queries:
        preview = preview_transfer(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=2, as_of=TODAY)
    assert not any(
        q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "SAVEPOINT"))
        for q in queries.captured_queries
    )
    assert _snapshot() == before
    assert (preview.from_after.purchased, preview.to_after.purchased) == (1, 2)

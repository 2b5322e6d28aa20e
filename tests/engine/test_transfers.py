"""License transfers between local virtual accounts: precedence, splitting, the guide's refusals, the race."""

import datetime
import threading

import pytest
from django.db import connection, connections

from accounts.roles import AccountRole
from accounts.services.grants import set_virtual_account_role
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import Entitlement
from licensing.services.compliance import virtual_account_positions
from licensing.services.transfers import (
    EXPORT_RESTRICTED_IN_USE_NOTICE,
    LONGEST_TERM_LAST,
    preview_transfer,
    transfer_licenses,
    transfer_limits,
)

D = datetime.date
TODAY = D(2025, 3, 1)


@pytest.fixture
def lab(acme, new_va):
    return new_va("Lab")


@pytest.fixture
def csr(license_def):
    return license_def("CSR 1KV SECURITY 10M")


def _position(va, lic):
    for p in virtual_account_positions(va, as_of=TODAY):
        if p.license_id == lic.pk:
            return p.purchased, p.in_use, p.available
    return 0, 0, 0


def _lines(va, lic):
    rows = Entitlement.objects.filter(virtual_account=va, license=lic).order_by("pk")
    # Perpetual (no end date) last on every database.
    return sorted(rows.values_list("license_type", "quantity", "end_date"), key=lambda r: r[2] or D.max)


def _snapshot():
    return (
        list(Entitlement.objects.order_by("pk").values_list("pk", "virtual_account_id", "quantity")),
        Event.objects.count(),
    )


def test_summary_transfer_longest_term_first_splits_lines(default_va, lab, csr, add_line):
    # The guide's example: a 90-day and a 60-day term line; LONGEST_TERM_FIRST takes the 90-day one first.
    add_line(default_va, csr, 10, "term", D(2025, 1, 1), TODAY + datetime.timedelta(days=60))
    add_line(default_va, csr, 10, "term", D(2025, 1, 1), TODAY + datetime.timedelta(days=90))
    result = transfer_licenses(
        actor=None, from_va=default_va, to_va=lab, license=csr, quantity=12, license_type="TERM", as_of=TODAY
    )
    assert result.quantity == 12
    assert _lines(default_va, csr) == [("term", 8, D(2025, 4, 30))]
    assert _lines(lab, csr) == [("term", 2, D(2025, 4, 30)), ("term", 10, D(2025, 5, 30))]
    assert _position(default_va, csr) == (8, 0, 8)
    assert _position(lab, csr) == (12, 0, 12)
    messages = list(
        Event.objects.filter(event_type__startswith="license.transferred")
        .order_by("pk")
        .values_list("message", flat=True)
    )
    # One group (one type, no subscription): one event on each side, with the total.
    assert messages == [
        "12 “CSR 1KV SECURITY 10M” term licenses were transferred from the Virtual Account “Default” to the "
        "Virtual Account “Lab”.",
        "12 “CSR 1KV SECURITY 10M” term licenses were transferred to the Virtual Account “Lab” from the "
        "Virtual Account “Default”.",
    ]
    assert Event.objects.filter(event_type="license.transferred", virtual_account=default_va).count() == 1
    assert Event.objects.filter(event_type="license.transferred_in", virtual_account=lab).count() == 1


def test_longest_term_last_and_perpetual_order(default_va, lab, csr, add_line):
    add_line(default_va, csr, 5)  # perpetual: the longest term of all
    add_line(default_va, csr, 5, "term", D(2025, 1, 1), D(2025, 6, 1))
    add_line(default_va, csr, 5, "term", D(2025, 1, 1), D(2025, 4, 1))
    transfer_licenses(
        actor=None, from_va=default_va, to_va=lab, license=csr, quantity=7, precedence=LONGEST_TERM_LAST, as_of=TODAY
    )
    assert _lines(lab, csr) == [("term", 5, D(2025, 4, 1)), ("term", 2, D(2025, 6, 1))]
    transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=4, as_of=TODAY)
    # LONGEST_TERM_FIRST (the default) takes the perpetual line first.
    assert ("perpetual", 4, None) in _lines(lab, csr)
    assert _lines(default_va, csr) == [("term", 3, D(2025, 6, 1)), ("perpetual", 1, None)]


def test_license_type_perpetual_leaves_term_lines(default_va, lab, csr, add_line):
    add_line(default_va, csr, 5, "term", D(2025, 1, 1), D(2026, 1, 1))
    add_line(default_va, csr, 3)
    with pytest.raises(ServiceError, match="Only 3"):
        transfer_licenses(
            actor=None, from_va=default_va, to_va=lab, license=csr, quantity=4, license_type="PERPETUAL", as_of=TODAY
        )
    transfer_licenses(
        actor=None, from_va=default_va, to_va=lab, license=csr, quantity=3, license_type="PERPETUAL", as_of=TODAY
    )
    assert _lines(lab, csr) == [("perpetual", 3, None)]


def test_transaction_detail_level_moves_from_the_given_line(default_va, lab, csr, add_line):
    add_line(default_va, csr, 10)
    line = add_line(default_va, csr, 4, "subscription", D(2025, 1, 1), D(2026, 1, 1), subscription_id="Sub-1")
    transfer_licenses(actor=None, from_va=default_va, to_va=lab, entitlement=line, quantity=1, as_of=TODAY)
    line.refresh_from_db()
    assert line.quantity == 3 and line.virtual_account == default_va
    moved = Entitlement.objects.get(virtual_account=lab)
    assert (moved.quantity, moved.subscription_id, moved.end_date) == (1, "Sub-1", D(2026, 1, 1))
    assert Event.objects.filter(event_type="license.transferred_subscription_one").get().message == (
        "1 “CSR 1KV SECURITY 10M” subscription license associated with Subscription ID “Sub-1” was transferred "
        "from the Virtual Account “Default” to the Virtual Account “Lab”."
    )
    # The whole rest of a line moves as the line itself.
    transfer_licenses(actor=None, from_va=default_va, to_va=lab, entitlement=line, quantity=3, as_of=TODAY)
    line.refresh_from_db()
    assert line.virtual_account == lab and line.quantity == 3
    with pytest.raises(ServiceError, match="not in the virtual account"):
        transfer_licenses(actor=None, from_va=default_va, to_va=lab, entitlement=line, quantity=1, as_of=TODAY)


def test_all_purchased_may_move_even_if_in_use_leaving_the_source_ooc(default_va, lab, csr, add_line, use_many):
    # "Purchased = 5, In-use=5, Balance =0 ... transfer all the purchased quantity ... render the From VA OOC"
    add_line(default_va, csr, 5)
    use_many(default_va, csr, 5)
    transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=5, as_of=TODAY)
    assert _position(default_va, csr) == (0, 5, -5)
    # "You cannot transfer licenses if the VA is already OOC."
    add_line(default_va, csr, 2)
    before = _snapshot()
    with pytest.raises(ServiceError, match="You cannot transfer licenses if the VA is already OOC"):
        transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=1, as_of=TODAY)
    assert _snapshot() == before


@pytest.mark.parametrize("quantity", [0, -1, "abc", True, 11, None, 2.5])
def test_bad_quantities_are_refused_and_nothing_is_written(default_va, lab, csr, add_line, quantity):
    add_line(default_va, csr, 10)
    before = _snapshot()
    with pytest.raises(ServiceError):
        transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=quantity, as_of=TODAY)
    assert _snapshot() == before


def test_other_refusals(default_va, lab, csr, add_line, make_account):
    add_line(default_va, csr, 10)
    add_line(default_va, csr, 5, "term", D(2024, 1, 1), D(2024, 12, 31))  # expired: not transferable
    other = make_account("Other").virtual_accounts.get()
    before = _snapshot()
    with pytest.raises(ServiceError, match="same local account"):
        transfer_licenses(actor=None, from_va=default_va, to_va=other, license=csr, quantity=1, as_of=TODAY)
    with pytest.raises(ServiceError, match="different virtual account"):
        transfer_licenses(actor=None, from_va=default_va, to_va=default_va, license=csr, quantity=1, as_of=TODAY)
    with pytest.raises(ServiceError, match="Only 10"):
        transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=11, as_of=TODAY)
    with pytest.raises(ServiceError, match="Precedence"):
        transfer_licenses(
            actor=None, from_va=default_va, to_va=lab, license=csr, quantity=1, precedence="X", as_of=TODAY
        )
    with pytest.raises(ServiceError, match="TERM or PERPETUAL"):
        transfer_licenses(
            actor=None, from_va=default_va, to_va=lab, license=csr, quantity=1, license_type="X", as_of=TODAY
        )
    assert _snapshot() == before


def test_export_restricted_cases(default_va, lab, license_def, add_line, use_many):
    hsec = license_def("HSEC", export_restricted=True)
    add_line(default_va, hsec, 10)
    # Case 1: nothing in use: the balance moves, no export-control verbiage.
    result = transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=hsec, quantity=2, as_of=TODAY)
    assert result.notice == ""
    # Case 2: some in use: only the balance (8 - 6 = 2), with the guide's verbiage.
    use_many(default_va, hsec, 6)
    before = _snapshot()
    with pytest.raises(ServiceError, match="Only 2"):
        transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=hsec, quantity=3, as_of=TODAY)
    assert _snapshot() == before
    result = transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=hsec, quantity=2, as_of=TODAY)
    assert result.notice == EXPORT_RESTRICTED_IN_USE_NOTICE
    assert _position(default_va, hsec) == (6, 6, 0)
    # Case 3: all in use: refused.
    before = _snapshot()
    with pytest.raises(ServiceError, match="not allowed for Export"):
        transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=hsec, quantity=1, as_of=TODAY)
    assert _snapshot() == before


def test_preview_shows_before_and_after_without_writing(default_va, lab, csr, add_line, use_many):
    add_line(default_va, csr, 10)
    use_many(default_va, csr, 4)
    add_line(lab, csr, 1)
    before = _snapshot()
    preview = preview_transfer(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=8, as_of=TODAY)
    assert _snapshot() == before
    assert (preview.from_before.purchased, preview.from_before.in_use, preview.from_before.available) == (10, 4, 6)
    assert (preview.from_after.purchased, preview.from_after.available) == (2, -2)
    assert (preview.to_before.available, preview.to_after.available) == (1, 9)
    with pytest.raises(ServiceError):
        preview_transfer(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=11, as_of=TODAY)


def test_rbac_va_roles_need_both_virtual_accounts(acme, default_va, lab, csr, add_line, make_user):
    add_line(default_va, csr, 10)
    vic = make_user("vic")
    set_virtual_account_role(actor=None, virtual_account=default_va, role=AccountRole.VA_USER, user=vic)
    before = _snapshot()
    with pytest.raises(NotAllowed):
        transfer_licenses(actor=vic, from_va=default_va, to_va=lab, license=csr, quantity=1, as_of=TODAY)
    with pytest.raises(NotAllowed):
        preview_transfer(actor=vic, from_va=default_va, to_va=lab, license=csr, quantity=1, as_of=TODAY)
    assert _snapshot() == before
    set_virtual_account_role(actor=None, virtual_account=lab, role=AccountRole.VA_USER, user=vic)
    transfer_licenses(actor=vic, from_va=default_va, to_va=lab, license=csr, quantity=1, as_of=TODAY)
    event = Event.objects.filter(event_type="license.transferred_one").get()
    assert event.user == vic


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_transfers_never_make_a_balance_wrong(make_account, license_def, add_line):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises all writers, so there is no race to lose")
    account = make_account("Race")
    from licensing.services.virtual_accounts import create_virtual_account

    a = account.virtual_accounts.get()
    b = create_virtual_account(actor=None, account=account, name="B")
    lic = license_def("Race License")
    add_line(a, lic, 20)
    add_line(b, lic, 20)
    for i in range(5):
        add_line(a, lic, 3, "term", D(2025, 1, 1), D(2026, 1, 1 + i))
    start = threading.Barrier(40)
    outcomes, lock = [], threading.Lock()

    def move(i):
        src, dst = (a, b) if i % 2 == 0 else (b, a)
        try:
            start.wait(timeout=30)
            try:
                transfer_licenses(actor=None, from_va=src, to_va=dst, license=lic, quantity=7, as_of=TODAY)
                outcome = "ok"
            except ServiceError:
                outcome = "refused"
            with lock:
                outcomes.append(outcome)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=move, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 40
    total_a, total_b = _position(a, lic)[0], _position(b, lic)[0]
    assert total_a + total_b == 55  # nothing made or lost
    assert total_a >= 0 and total_b >= 0
    assert not Entitlement.objects.filter(quantity__lte=0).exists()
    ok_events = Event.objects.filter(event_type__startswith="license.transferred", virtual_account=a).count()
    assert ok_events >= 1


def test_transfer_limits_show_the_figures_and_grey_out_what_the_service_refuses(
    default_va, lab, csr, license_def, add_line, use_many
):
    """The form's figures and refusal come from the same rules transfer_licenses refuses by."""
    add_line(default_va, csr, 5)
    use_many(default_va, csr, 2)
    limits = transfer_limits(from_va=default_va, license=csr, as_of=TODAY)
    assert (limits.purchased, limits.in_use, limits.available, limits.transferable) == (5, 2, 3, 5)
    assert limits.refusal == "" and limits.notice == ""
    # All purchased moves out: the source is Out Of Compliance, and the form says so up front.
    transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=5, as_of=TODAY)
    add_line(default_va, csr, 1)
    limits = transfer_limits(from_va=default_va, license=csr, as_of=TODAY)
    assert (limits.purchased, limits.in_use, limits.available, limits.transferable) == (1, 2, -1, 0)
    assert "You cannot transfer licenses if the VA is already OOC" in limits.refusal
    with pytest.raises(ServiceError, match="You cannot transfer licenses if the VA is already OOC"):
        transfer_licenses(actor=None, from_va=default_va, to_va=lab, license=csr, quantity=1, as_of=TODAY)
    # Nothing held: nothing to transfer.
    none = license_def("Nothing Held")
    assert (
        "has no “Nothing Held” licenses to transfer" in transfer_limits(from_va=lab, license=none, as_of=TODAY).refusal
    )
    # Export-restricted: case 2 moves the balance with the guide's notice; case 3 is greyed out.
    hsec = license_def("HSEC", export_restricted=True)
    add_line(default_va, hsec, 8)
    use_many(default_va, hsec, 6)
    limits = transfer_limits(from_va=default_va, license=hsec, as_of=TODAY)
    assert (limits.transferable, limits.refusal, limits.notice) == (2, "", EXPORT_RESTRICTED_IN_USE_NOTICE)
    use_many(default_va, hsec, 2)
    limits = transfer_limits(from_va=default_va, license=hsec, as_of=TODAY)
    assert "not allowed for Export" in limits.refusal and limits.transferable == 0

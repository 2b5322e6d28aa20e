"""Expiry: lines leave the pool after their end date; the "expired" event is recorded once per line."""

import datetime

import pytest
from django.db import IntegrityError, transaction

from core.models import Event
from licensing.models import Entitlement
from licensing.services.compliance import OUT_OF_COMPLIANCE, virtual_account_positions
from licensing.services.expiry import expire_entitlements

D = datetime.date


@pytest.fixture
def advantage(license_def):
    return license_def("Network Advantage")


def _purchased(va, day):
    positions = virtual_account_positions(va, as_of=day)
    return positions[0].purchased if positions else 0


def _expiry_events():
    return list(Event.objects.filter(event_type__startswith="license.expired").values_list("message", flat=True))


def test_a_term_line_counts_through_its_end_date(default_va, advantage, add_line):
    add_line(default_va, advantage, 5, "term", D(2024, 1, 1), D(2024, 12, 31))
    assert _purchased(default_va, D(2023, 12, 31)) == 0  # not started yet
    assert _purchased(default_va, D(2024, 1, 1)) == 5
    assert _purchased(default_va, D(2024, 12, 31)) == 5
    assert _purchased(default_va, D(2025, 1, 1)) == 0


def test_a_demo_line_lasts_60_days(default_va, advantage, add_line):
    demo = add_line(default_va, advantage, 10, "demo", D(2017, 5, 22))
    assert demo.end_date == D(2017, 7, 21)  # the guide's example: 2017-05-22 to 2017-07-21
    assert _purchased(default_va, D(2017, 7, 21)) == 10
    assert _purchased(default_va, D(2017, 7, 22)) == 0


def test_a_perpetual_line_never_expires(default_va, advantage, add_line):
    add_line(default_va, advantage, 3)
    assert _purchased(default_va, D(2999, 1, 1)) == 3
    assert expire_entitlements(as_of=D(2999, 1, 1)) == []


def test_the_database_keeps_end_dates_consistent_with_the_type(default_va, advantage, add_line):
    for bad in (
        {"license_type": "perpetual", "end_date": D(2025, 1, 1)},
        {"license_type": "term", "end_date": None},
        {"license_type": "demo", "start_date": None, "end_date": None},
        {"license_type": "term", "start_date": D(2025, 2, 1), "end_date": D(2025, 1, 1)},
        {"license_type": "perpetual", "quantity": 0},
    ):
        fields = {"virtual_account": default_va, "license": advantage, "quantity": 1, **bad}
        with pytest.raises(IntegrityError), transaction.atomic():
            Entitlement.objects.create(**fields)


def test_expiry_leaves_the_virtual_account_out_of_compliance(default_va, advantage, add_line, use_many):
    add_line(default_va, advantage, 2)
    add_line(default_va, advantage, 5, "term", D(2024, 1, 1), D(2024, 6, 30), subscription_id="Sub905308")
    use_many(default_va, advantage, 4)

    [before] = virtual_account_positions(default_va, as_of=D(2024, 6, 30))
    [after] = virtual_account_positions(default_va, as_of=D(2024, 7, 1))
    assert (before.purchased, before.available) == (7, 3)
    assert (after.purchased, after.available, after.status) == (2, -2, OUT_OF_COMPLIANCE)


def test_expire_entitlements_records_the_guides_text_once_per_line(
    acme, default_va, new_va, advantage, license_def, add_line
):
    lab = new_va("Lab")
    dna = license_def("DNA Essentials")
    sub = add_line(default_va, advantage, 5, "subscription", D(2024, 1, 1), D(2024, 6, 30), subscription_id="Sub1")
    one_sub = add_line(default_va, dna, 1, "term", D(2024, 1, 1), D(2024, 6, 29), subscription_id="Sub2")
    demo = add_line(lab, dna, 10, "demo", D(2024, 5, 1))  # ends 2024-06-30
    one = add_line(lab, advantage, 1, "term", D(2024, 1, 1), D(2024, 5, 31))
    add_line(lab, advantage, 7, "term", D(2024, 1, 1), D(2024, 7, 1))  # still valid on 2024-07-01
    add_line(lab, advantage, 3)  # perpetual

    assert expire_entitlements(as_of=D(2024, 6, 30)) == [one, one_sub]
    expired = expire_entitlements(as_of=D(2024, 7, 1))
    assert sorted(line.pk for line in expired) == sorted([sub.pk, demo.pk])

    assert sorted(_expiry_events()) == sorted(
        [
            "1 “Network Advantage” term license in the Virtual Account “Lab” expired on 2024-05-31",
            "1 “DNA Essentials” term license associated with Subscription ID “Sub2” in the Virtual Account "
            "“Default” expired on 2024-06-29",
            "5 “Network Advantage” subscription licenses associated with Subscription ID “Sub1” in the Virtual "
            "Account “Default” expired on 2024-06-30",
            "10 “DNA Essentials” demo licenses in the Virtual Account “Lab” expired on 2024-06-30",
        ]
    )
    assert set(Event.objects.filter(event_type__startswith="license.expired").values_list("severity", flat=True)) == {
        "WARN"
    }
    lab_events = Event.objects.filter(event_type__startswith="license.expired", virtual_account=lab)
    assert lab_events.count() == 2 and {e.account_id for e in lab_events} == {acme.pk}
    assert Entitlement.objects.filter(expired_at__isnull=False).count() == 4


def test_expire_entitlements_is_idempotent(default_va, advantage, add_line):
    add_line(default_va, advantage, 5, "term", D(2024, 1, 1), D(2024, 6, 30))
    assert len(expire_entitlements(as_of=D(2024, 8, 1))) == 1
    assert expire_entitlements(as_of=D(2024, 8, 1)) == []
    assert expire_entitlements(as_of=D(2025, 8, 1)) == []
    assert len(_expiry_events()) == 1


def test_nothing_expires_before_its_end_date(default_va, advantage, add_line):
    line = add_line(default_va, advantage, 5, "term", D(2024, 1, 1), D(2024, 6, 30))
    assert expire_entitlements(as_of=D(2024, 6, 30)) == []
    line.refresh_from_db()
    assert line.expired_at is None and not _expiry_events()

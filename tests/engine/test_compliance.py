"""Compliance: purchased, in use, tier substitution, redundancy, and the query count."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from licensing.models import LicenseUsage, ProductInstance
from licensing.services.compliance import (
    FROM_HIGHER_TIER,
    IN_COMPLIANCE,
    OUT_OF_COMPLIANCE,
    TO_LOWER_TIER,
    Substitution,
    account_compliance,
    license_positions,
    virtual_account_positions,
)

D = datetime.date


def _by_license(positions):
    return {p.license: p for p in positions}


def _numbers(p):
    return (p.purchased, p.in_use, p.borrowed, p.lent, p.available, p.status)


# -- the guide's API example ("License Usage", Physics and Zoology) -------------------------

ESSENTIAL = "UC Manager Essential License (12.x)"
BASIC = "UC Manager Basic License (12.x)"
ENHANCED = "UC Manager Enhanced License (12.x)"
ENHANCED_PLUS = "UC Manager Enhanced Plus License (12.x)"
CUWL = "UC Manager CUWL License (12.x)"


@pytest.fixture
def guide_example(acme, new_va, license_def, add_line, use_many):
    """The guide's example: CUWL > Enhanced Plus > Enhanced > Basic > Essential, each tier the next one's parent."""
    physics, zoology = new_va("Physics"), new_va("Zoology")
    essential = license_def(ESSENTIAL)
    basic = license_def(BASIC, substitutes_for=[essential])
    enhanced = license_def(ENHANCED, substitutes_for=[basic])
    enhanced_plus = license_def(ENHANCED_PLUS, substitutes_for=[enhanced])
    cuwl = license_def(CUWL, substitutes_for=[enhanced_plus])
    csr = license_def("CSR 1KV AX 100M")

    add_line(physics, essential, 4, "term", D(2017, 5, 18), D(2018, 5, 17), subscription_id="Sub905308")
    add_line(physics, basic, 10, "term", D(2017, 5, 18), D(2017, 11, 14))
    add_line(physics, basic, 4)
    add_line(physics, enhanced, 10, "term", D(2017, 5, 18), D(2017, 11, 14))
    add_line(physics, enhanced_plus, 10, "term", D(2017, 5, 18), D(2017, 11, 14))
    add_line(physics, cuwl, 10)
    add_line(zoology, csr, 1, "term", D(2017, 5, 24), D(2020, 5, 23))
    add_line(zoology, csr, 10, "demo", D(2017, 5, 22))  # the end date follows: 60 days

    use_many(physics, essential, 6)
    use_many(physics, basic, 16)
    use_many(physics, enhanced_plus, 21, per_instance=3)
    return physics, zoology


def test_the_guides_license_usage_example(acme, guide_example):
    positions = _by_license(license_positions(acme, as_of=D(2017, 6, 1)))

    assert _numbers(positions[ESSENTIAL]) == (4, 6, 2, 0, 0, IN_COMPLIANCE)
    assert _numbers(positions[BASIC]) == (14, 16, 2, 0, 0, IN_COMPLIANCE)
    assert _numbers(positions[ENHANCED]) == (10, 0, 0, 4, 6, IN_COMPLIANCE)
    assert _numbers(positions[ENHANCED_PLUS]) == (10, 21, 10, 0, -1, OUT_OF_COMPLIANCE)
    assert _numbers(positions[CUWL]) == (10, 0, 0, 10, 0, IN_COMPLIANCE)
    assert _numbers(positions["CSR 1KV AX 100M"]) == (11, 0, 0, 0, 11, IN_COMPLIANCE)
    assert positions["CSR 1KV AX 100M"].virtual_account == "Zoology"


def test_the_guides_license_substitutions(acme, guide_example):
    positions = _by_license(license_positions(acme, as_of=D(2017, 6, 1)))

    def subs(name):
        return [
            (s.license, s.substituted_license, s.quantity, s.substitution_type) for s in positions[name].substitutions
        ]

    assert subs(ESSENTIAL) == [(ESSENTIAL, ENHANCED, 2, FROM_HIGHER_TIER)]
    assert subs(BASIC) == [(BASIC, ENHANCED, 2, FROM_HIGHER_TIER)]
    assert sorted(subs(ENHANCED)) == [(BASIC, ENHANCED, 2, TO_LOWER_TIER), (ESSENTIAL, ENHANCED, 2, TO_LOWER_TIER)]
    assert subs(ENHANCED_PLUS) == [(ENHANCED_PLUS, CUWL, 10, FROM_HIGHER_TIER)]
    assert subs(CUWL) == [(ENHANCED_PLUS, CUWL, 10, TO_LOWER_TIER)]
    assert positions["CSR 1KV AX 100M"].substitutions == []
    assert isinstance(positions[CUWL].substitutions[0], Substitution)


def test_the_guides_example_after_the_demo_and_short_terms_expire(acme, guide_example):
    """On 2017-11-15 the 2017-11-14 terms and the demo are gone; only what is left counts."""
    positions = _by_license(license_positions(acme, as_of=D(2017, 11, 15)))
    assert positions[BASIC].purchased == 4
    assert positions["CSR 1KV AX 100M"].purchased == 1
    assert ENHANCED not in positions  # no valid line and no usage left
    # Enhanced Plus has no lines left: CUWL's 10 cover 10 of its 21.
    assert _numbers(positions[ENHANCED_PLUS]) == (0, 21, 10, 0, -11, OUT_OF_COMPLIANCE)
    # Basic short 12 and Essential short 2, and nothing of Enhanced left to lend.
    assert positions[BASIC].status == OUT_OF_COMPLIANCE
    assert positions[ESSENTIAL].status == OUT_OF_COMPLIANCE


# -- the tier hierarchy -------------------------------------------------------------------


@pytest.fixture
def dna(license_def):
    essentials = license_def("DNA Essentials")
    advantage = license_def("DNA Advantage", substitutes_for=[essentials])
    return essentials, advantage


def test_advantage_surplus_covers_an_essentials_shortfall(acme, default_va, dna, add_line, use_many):
    essentials, advantage = dna
    add_line(default_va, essentials, 2)
    add_line(default_va, advantage, 10)
    use_many(default_va, essentials, 5)
    use_many(default_va, advantage, 1)

    positions = _by_license(virtual_account_positions(default_va))
    assert _numbers(positions["DNA Essentials"]) == (2, 5, 3, 0, 0, IN_COMPLIANCE)
    assert _numbers(positions["DNA Advantage"]) == (10, 1, 0, 3, 6, IN_COMPLIANCE)


def test_essentials_never_stand_in_for_advantage(acme, default_va, dna, add_line, use_many):
    essentials, advantage = dna
    add_line(default_va, essentials, 10)
    add_line(default_va, advantage, 1)
    use_many(default_va, advantage, 4)

    positions = _by_license(virtual_account_positions(default_va))
    assert _numbers(positions["DNA Advantage"]) == (1, 4, 0, 0, -3, OUT_OF_COMPLIANCE)
    assert _numbers(positions["DNA Essentials"]) == (10, 0, 0, 0, 10, IN_COMPLIANCE)
    assert positions["DNA Advantage"].substitutions == positions["DNA Essentials"].substitutions == []


def test_a_shortfall_bigger_than_the_surplus_stays_out_of_compliance(acme, default_va, dna, add_line, use_many):
    essentials, advantage = dna
    add_line(default_va, essentials, 1)
    add_line(default_va, advantage, 3)
    use_many(default_va, essentials, 6)

    positions = _by_license(virtual_account_positions(default_va))
    assert _numbers(positions["DNA Essentials"]) == (1, 6, 3, 0, -2, OUT_OF_COMPLIANCE)
    assert positions["DNA Essentials"].shortage == 2
    assert _numbers(positions["DNA Advantage"]) == (3, 0, 0, 3, 0, IN_COMPLIANCE)


def test_multiple_parents_both_lend(acme, default_va, license_def, add_line, use_many):
    essentials = license_def("Essentials")
    advantage = license_def("Advantage", substitutes_for=[essentials])
    premier = license_def("Premier", substitutes_for=[essentials])
    add_line(default_va, advantage, 2)
    add_line(default_va, premier, 10)
    use_many(default_va, essentials, 5)

    positions = _by_license(virtual_account_positions(default_va))
    assert _numbers(positions["Essentials"]) == (0, 5, 5, 0, 0, IN_COMPLIANCE)
    # Both parents are one tier up: the tie goes by name, Advantage first.
    assert (positions["Advantage"].lent, positions["Premier"].lent) == (2, 3)
    assert {(s.substituted_license, s.quantity) for s in positions["Essentials"].substitutions} == {
        ("Advantage", 2),
        ("Premier", 3),
    }


def test_multiple_children_share_a_parents_surplus(acme, default_va, license_def, add_line, use_many):
    voice = license_def("Voice Essentials")
    video = license_def("Video Essentials")
    suite = license_def("Collaboration Suite", substitutes_for=[voice, video])
    add_line(default_va, suite, 5)
    use_many(default_va, voice, 3)
    use_many(default_va, video, 4)

    positions = _by_license(virtual_account_positions(default_va))
    assert positions["Collaboration Suite"].lent == 5
    assert positions["Collaboration Suite"].available == 0
    assert positions["Video Essentials"].borrowed + positions["Voice Essentials"].borrowed == 5
    assert sorted(p.status for p in positions.values()).count(OUT_OF_COMPLIANCE) == 1


def test_a_grandparent_stands_in_when_the_parent_has_nothing_to_lend(acme, default_va, license_def, add_line, use_many):
    essentials = license_def("Essentials")
    advantage = license_def("Advantage", substitutes_for=[essentials])
    premier = license_def("Premier", substitutes_for=[advantage])
    add_line(default_va, advantage, 2)
    add_line(default_va, premier, 5)
    use_many(default_va, advantage, 2)
    use_many(default_va, essentials, 3)

    positions = _by_license(virtual_account_positions(default_va))
    assert _numbers(positions["Essentials"]) == (0, 3, 3, 0, 0, IN_COMPLIANCE)
    assert _numbers(positions["Premier"]) == (5, 0, 0, 3, 2, IN_COMPLIANCE)
    assert positions["Advantage"].lent == 0


def test_the_nearest_higher_tier_lends_first(acme, default_va, license_def, add_line, use_many):
    """Premier's licenses stay free for shortfalls that only Premier can cover."""
    essentials = license_def("Essentials")
    advantage = license_def("Advantage", substitutes_for=[essentials])
    premier = license_def("Premier", substitutes_for=[advantage])
    add_line(default_va, advantage, 5)
    add_line(default_va, premier, 5)
    use_many(default_va, essentials, 3)

    positions = _by_license(virtual_account_positions(default_va))
    assert (positions["Advantage"].lent, positions["Premier"].lent) == (3, 0)
    assert positions["Essentials"].substitutions[0].substituted_license == "Advantage"


def test_the_higher_tier_short_of_licenses_borrows_first(acme, default_va, license_def, add_line, use_many):
    """Premier stands in for Advantage and, through it, Essentials: Advantage (only Premier above it) goes first."""
    essentials = license_def("Essentials")
    advantage = license_def("Advantage", substitutes_for=[essentials])
    premier = license_def("Premier", substitutes_for=[advantage])
    add_line(default_va, premier, 3)
    use_many(default_va, advantage, 3)
    use_many(default_va, essentials, 3)

    positions = _by_license(virtual_account_positions(default_va))
    assert positions["Advantage"].status == IN_COMPLIANCE
    assert positions["Essentials"].available == -3


def test_borrowing_stays_inside_a_virtual_account(acme, default_va, new_va, dna, add_line, use_many):
    essentials, advantage = dna
    lab = new_va("Lab")
    add_line(lab, advantage, 10)
    use_many(default_va, essentials, 2)

    positions = {(p.virtual_account, p.license): p for p in license_positions(acme)}
    assert positions[("Default", "DNA Essentials")].status == OUT_OF_COMPLIANCE
    assert positions[("Lab", "DNA Advantage")].lent == 0


def test_a_cycle_in_the_catalogue_does_not_hang(acme, default_va, license_def, add_line, use_many):
    from licensing.models import LicenseHierarchy

    one = license_def("One")
    two = license_def("Two", substitutes_for=[one])
    LicenseHierarchy.objects.create(higher=one, lower=two)
    add_line(default_va, two, 5)
    use_many(default_va, one, 2)

    positions = _by_license(virtual_account_positions(default_va))
    assert (positions["One"].borrowed, positions["Two"].lent) == (2, 2)


def test_the_database_refuses_a_license_standing_in_for_itself(license_def):
    from licensing.models import LicenseHierarchy

    lic = license_def("Loop")
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseHierarchy.objects.create(higher=lic, lower=lic)


# -- application redundancy ---------------------------------------------------------------


@pytest.fixture
def firewall(license_def):
    return license_def("Zone-Based Firewall")


def test_a_standby_peer_does_not_double_count(acme, default_va, firewall, add_line, add_pi, use):
    add_line(default_va, firewall, 1)
    use(add_pi(default_va, "A", role="active", group="app-1"), firewall, 1)
    use(add_pi(default_va, "B", role="standby", group="app-1"), firewall, 1)

    [position] = virtual_account_positions(default_va)
    assert (position.in_use, position.available, position.status) == (1, 0, IN_COMPLIANCE)


def test_active_active_peers_both_count(acme, default_va, firewall, add_line, add_pi, use):
    add_line(default_va, firewall, 1)
    use(add_pi(default_va, "A", role="active", group="app-1"), firewall, 1)
    use(add_pi(default_va, "B", role="active", group="app-1"), firewall, 1)

    [position] = virtual_account_positions(default_va)
    assert (position.in_use, position.status) == (2, OUT_OF_COMPLIANCE)


def test_a_standby_counts_when_its_active_peer_uses_another_license(
    acme, default_va, firewall, license_def, add_pi, use
):
    nat = license_def("NAT")
    use(add_pi(default_va, "A", role="active", group="app-1"), nat, 1)
    use(add_pi(default_va, "B", role="standby", group="app-1"), firewall, 1)
    use(add_pi(default_va, "C", role="standby"), firewall, 1)  # no group: no peer to share with

    positions = _by_license(virtual_account_positions(default_va))
    assert positions["Zone-Based Firewall"].in_use == 2
    assert positions["NAT"].in_use == 1


def test_a_failed_over_standby_counts_once_it_is_active(acme, default_va, firewall, add_pi, use):
    old_active = add_pi(default_va, "A", role="active", group="app-1")
    standby = add_pi(default_va, "B", role="standby", group="app-1")
    use(old_active, firewall, 1)
    use(standby, firewall, 1)
    # The standby declares itself active without a peer; the old active is gone.
    old_active.delete()
    ProductInstance.objects.filter(pk=standby.pk).update(redundancy_role="active", redundancy_group="")

    [position] = virtual_account_positions(default_va)
    assert position.in_use == 1


def test_redundancy_groups_do_not_cross_local_accounts(make_account, firewall, add_pi, use):
    one, two = make_account("One"), make_account("Two")
    va_one, va_two = one.virtual_accounts.get(), two.virtual_accounts.get()
    use(add_pi(va_one, "A", role="active", group="app-1"), firewall, 1)
    use(add_pi(va_two, "B", role="standby", group="app-1"), firewall, 1)

    assert virtual_account_positions(va_two)[0].in_use == 1


# -- the account summary ------------------------------------------------------------------


def test_account_summary_across_virtual_accounts(acme, default_va, new_va, dna, add_line, use_many):
    essentials, advantage = dna
    lab = new_va("Lab")
    add_line(default_va, essentials, 5)
    use_many(default_va, essentials, 2)
    add_line(lab, essentials, 1)
    use_many(lab, essentials, 4)
    add_line(lab, advantage, 1)

    summary = account_compliance(acme)
    totals = {t.license: t for t in summary.licenses}
    ess = totals["DNA Essentials"]
    assert (ess.purchased, ess.in_use, ess.borrowed, ess.shortage) == (6, 6, 1, 2)
    assert ess.out_of_compliance_virtual_accounts == ["Lab"]
    assert ess.status == OUT_OF_COMPLIANCE
    assert totals["DNA Advantage"].lent == 1 and totals["DNA Advantage"].status == IN_COMPLIANCE
    assert summary.status == OUT_OF_COMPLIANCE
    assert [t.license for t in summary.out_of_compliance] == ["DNA Essentials"]


def test_positions_can_be_limited_to_some_virtual_accounts(acme, default_va, new_va, dna, add_line):
    essentials, _ = dna
    lab = new_va("Lab")
    add_line(default_va, essentials, 5)
    add_line(lab, essentials, 7)

    assert [(p.virtual_account, p.purchased) for p in license_positions(acme, virtual_accounts=[lab])] == [("Lab", 7)]
    assert account_compliance(acme, virtual_accounts=[lab]).licenses[0].purchased == 7


def test_another_accounts_virtual_account_is_never_included(acme, make_account, dna, add_line):
    essentials, _ = dna
    other_va = make_account("Other").virtual_accounts.get()
    add_line(other_va, essentials, 5)
    assert license_positions(acme, virtual_accounts=[other_va]) == []


def test_an_account_without_licenses_is_in_compliance(acme):
    assert license_positions(acme) == []
    assert account_compliance(acme).status == IN_COMPLIANCE


# -- aggregate queries, not one object per product instance --------------------------------

PINNED_QUERIES = 2  # virtual accounts; purchased, in use, licenses and hierarchy in one statement


def _fleet(va, licenses, size):
    """``size`` product instances, half of them ACTIVE/STANDBY pairs, each using every license."""
    now = timezone.now()
    instances = ProductInstance.objects.bulk_create(
        ProductInstance(
            account_id=va.account_id,
            virtual_account=va,
            udi_pid="ISR4451-X/K9",
            udi_serial_number=f"FDO{va.pk:03d}{n:08d}",
            hostname=f"router-{n}",
            registered_at=now,
            redundancy_role=("active", "standby", "none", "none")[n % 4],
            redundancy_group=f"{va.pk}-pair-{n // 4}" if n % 4 < 2 else "",
        )
        for n in range(size)
    )
    LicenseUsage.objects.bulk_create(
        LicenseUsage(product_instance=pi, license=lic, count=1) for pi in instances for lic in licenses
    )


@pytest.mark.parametrize("size", [20, 2000])
def test_query_count_does_not_grow_with_product_instances(acme, default_va, new_va, dna, add_line, size):
    essentials, advantage = dna
    lab = new_va("Lab")
    add_line(default_va, advantage, 2 * size)
    add_line(lab, essentials, 1)
    _fleet(default_va, [essentials, advantage], size)
    _fleet(lab, [essentials], size // 2)

    with CaptureQueriesContext(connection) as queries:
        positions = {(p.virtual_account, p.license): p for p in license_positions(acme)}
    assert len(queries.captured_queries) == PINNED_QUERIES, [q["sql"] for q in queries.captured_queries]

    # 3 of every 4 count: the STANDBY of each pair shares its ACTIVE peer's license.
    counted = size * 3 // 4
    assert positions[("Default", "DNA Advantage")].in_use == counted
    assert positions[("Default", "DNA Essentials")].in_use == counted
    assert positions[("Default", "DNA Essentials")].borrowed == counted
    assert positions[("Default", "DNA Advantage")].available == 2 * size - 2 * counted
    assert positions[("Lab", "DNA Essentials")].in_use == (size // 2) * 3 // 4


def test_the_account_summary_has_the_same_query_count(acme, default_va, dna, add_line, django_assert_num_queries):
    essentials, advantage = dna
    add_line(default_va, advantage, 5)
    _fleet(default_va, [essentials], 200)
    with django_assert_num_queries(PINNED_QUERIES):
        account_compliance(acme)


def test_the_database_refuses_a_second_usage_row_and_a_zero_count(default_va, firewall, add_pi, use):
    pi = add_pi(default_va, "A")
    use(pi, firewall, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        use(pi, firewall, 2)
    with pytest.raises(IntegrityError), transaction.atomic():
        LicenseUsage.objects.create(product_instance=add_pi(default_va, "B"), license=firewall, count=0)


def test_one_udi_per_local_account(make_account, add_pi):
    one, two = make_account("One"), make_account("Two")
    va_one, va_two = one.virtual_accounts.get(), two.virtual_accounts.get()
    add_pi(va_one, "FOC123")
    add_pi(va_two, "FOC123")  # another local account: allowed
    with pytest.raises(IntegrityError), transaction.atomic():
        add_pi(va_one, "FOC123")


def test_a_product_instance_stays_in_its_own_local_account(make_account):
    one, two = make_account("One"), make_account("Two")
    with pytest.raises(ValueError):
        ProductInstance(
            account=one,
            virtual_account=two.virtual_accounts.get(),
            udi_pid="P",
            udi_serial_number="S",
            registered_at=timezone.now(),
        ).save()


# -- Failed to Renew releases non-restricted licenses ----------------------------------------


def test_failed_to_renew_releases_non_restricted_licenses(
    acme, default_va, firewall, license_def, add_line, add_pi, use
):
    import datetime

    from django.utils import timezone

    hseck9 = license_def("HSECK9", export_restricted=True)
    add_line(default_va, firewall, 1)
    add_line(default_va, hseck9, 1)
    now = timezone.now()
    silent = add_pi(default_va, "OLD", last_contact_at=now - datetime.timedelta(days=90, hours=1))
    use(silent, firewall, 1)
    use(silent, hseck9, 1)
    fresh = add_pi(default_va, "NEW", last_contact_at=now - datetime.timedelta(days=89))
    use(fresh, firewall, 1)

    positions = _by_license(virtual_account_positions(default_va))
    # The silent device's firewall license is released, so the fresh one is in compliance ...
    assert (positions["Zone-Based Firewall"].in_use, positions["Zone-Based Firewall"].status) == (1, IN_COMPLIANCE)
    # ... but an export-restricted license stays with the device that holds it.
    assert positions["HSECK9"].in_use == 1
    # Looking back to a day when the device was still renewing, both counted.
    earlier = (now - datetime.timedelta(days=2)).date()
    positions = _by_license(virtual_account_positions(default_va, as_of=earlier))
    assert positions["Zone-Based Firewall"].in_use == 2

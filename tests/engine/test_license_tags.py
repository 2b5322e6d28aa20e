"""License tags: per account, case-sensitive, no commas; add/remove one or many; rename/delete account-wide."""

import pytest
from django.db import IntegrityError, transaction

from accounts.roles import AccountRole
from accounts.services.grants import set_virtual_account_role
from core.errors import NotAllowed, ServiceError
from licensing.models import LicenseTag
from licensing.services.tags import (
    add_license_tags,
    delete_license_tag,
    parse_tag_names,
    remove_license_tags,
    rename_license_tag,
)


@pytest.fixture
def held(acme, default_va, license_def, add_line):
    licenses = [license_def(name) for name in ("A", "B", "C")]
    for lic in licenses:
        add_line(default_va, lic, 1)
    return licenses


def _tags(lic):
    return sorted(lic.license_tags.values_list("name", flat=True))


def test_parse_names_the_comma_ends_a_name():
    assert parse_tag_names("lab, prod,,\nlab ,Prod") == ["lab", "prod", "Prod"]


def test_add_in_bulk_and_names_are_case_sensitive(acme, held):
    a, b, c = held
    add_license_tags(actor=None, account=acme, licenses=[a, b], names="aaa, AAA")
    assert _tags(a) == _tags(b) == ["AAA", "aaa"] and _tags(c) == []
    add_license_tags(actor=None, account=acme, licenses=[c], names=["aaa"])  # reuses the tag, no duplicate
    assert LicenseTag.objects.filter(account=acme).count() == 2
    assert _tags(c) == ["aaa"]


def test_tags_are_per_account(acme, held, make_account, license_def, add_line):
    other = make_account("Other")
    lic = license_def("Other license")
    add_line(other.virtual_accounts.get(), lic, 1)
    add_license_tags(actor=None, account=acme, licenses=held[:1], names="lab")
    add_license_tags(actor=None, account=other, licenses=[lic], names="lab")
    assert LicenseTag.objects.filter(name="lab").count() == 2
    # A license the account does not hold cannot be tagged there.
    with pytest.raises(ServiceError, match="not in this local account"):
        add_license_tags(actor=None, account=acme, licenses=[lic], names="lab")
    assert _tags(lic) == ["lab"]


@pytest.mark.parametrize("names", ["", " , ", ["a,b"], ["x" * 101], [None]])
def test_bad_names_are_refused_and_nothing_written(acme, held, names):
    with pytest.raises(ServiceError):
        add_license_tags(actor=None, account=acme, licenses=held, names=names)
    assert not LicenseTag.objects.exists()


def test_no_licenses_is_refused(acme, held):
    with pytest.raises(ServiceError, match="at least one license"):
        add_license_tags(actor=None, account=acme, licenses=[], names="x")


def test_the_database_refuses_commas_and_duplicates(acme):
    LicenseTag.objects.create(account=acme, name="x")
    for name in ("x", "a,b", ""):
        with pytest.raises(IntegrityError), transaction.atomic():
            LicenseTag.objects.create(account=acme, name=name)
    LicenseTag.objects.create(account=acme, name="X")  # case-sensitive


def test_remove_from_selected_licenses_only(acme, held):
    a, b, c = held
    add_license_tags(actor=None, account=acme, licenses=held, names="lab, prod")
    remove_license_tags(actor=None, account=acme, licenses=[a, b], names="lab")
    assert _tags(a) == _tags(b) == ["prod"] and _tags(c) == ["lab", "prod"]
    with pytest.raises(ServiceError, match="no tag “nope”"):
        remove_license_tags(actor=None, account=acme, licenses=[c], names="lab, nope")
    assert _tags(c) == ["lab", "prod"]  # nothing removed


def test_rename_and_delete_change_every_license(acme, held):
    add_license_tags(actor=None, account=acme, licenses=held, names="lab, prod")
    lab = LicenseTag.objects.get(name="lab")
    rename_license_tag(actor=None, tag=lab, name="Lab")
    assert all(_tags(lic) == ["Lab", "prod"] for lic in held)
    with pytest.raises(ServiceError, match="already exists"):
        rename_license_tag(actor=None, tag=lab, name="prod")
    delete_license_tag(actor=None, tag=lab)
    assert all(_tags(lic) == ["prod"] for lic in held)
    assert list(LicenseTag.objects.values_list("name", flat=True)) == ["prod"]


def test_rbac_needs_a_role_on_the_virtual_account(acme, default_va, new_va, held, make_user, add_line):
    lab = new_va("Lab")
    vic = make_user("vic")
    with pytest.raises(NotAllowed):
        add_license_tags(actor=vic, account=acme, licenses=held, names="x")
    set_virtual_account_role(actor=None, virtual_account=lab, role=AccountRole.VA_USER, user=vic)
    with pytest.raises(NotAllowed):
        add_license_tags(actor=vic, account=acme, licenses=held, names="x", virtual_account=default_va)
    assert not LicenseTag.objects.exists()
    # Working in Lab, only the licenses Lab holds can be tagged.
    with pytest.raises(ServiceError, match="not in this virtual account"):
        add_license_tags(actor=vic, account=acme, licenses=held, names="x", virtual_account=lab)
    add_line(lab, held[0], 1)
    add_license_tags(actor=vic, account=acme, licenses=held[:1], names="x", virtual_account=lab)
    assert _tags(held[0]) == ["x"]


def test_a_va_role_cannot_tag_the_whole_account(acme, default_va, new_va, held, make_user, add_line):
    """Without a virtual account the service asks for the whole account: a VA role is not enough."""
    lab = new_va("Lab")
    add_line(lab, held[0], 1)
    vic = make_user("vic")
    set_virtual_account_role(actor=None, virtual_account=lab, role=AccountRole.VA_ADMIN, user=vic)
    with pytest.raises(NotAllowed):
        add_license_tags(actor=vic, account=acme, licenses=held[:1], names="x")
    assert not LicenseTag.objects.exists()


def test_rename_and_delete_need_every_virtual_account_holding_the_tag(
    acme, default_va, new_va, held, make_user, add_line, grant_role
):
    from core.models import Event

    lab = new_va("Lab")
    add_line(lab, held[0], 1)
    vic, ann = make_user("vic"), make_user("ann")
    set_virtual_account_role(actor=None, virtual_account=lab, role=AccountRole.VA_ADMIN, user=vic)
    grant_role(ann, acme, AccountRole.ACCOUNT_USER)
    # "lab" is on A, which the Default virtual account (not Vic's) holds too.
    add_license_tags(actor=vic, account=acme, licenses=held[:1], names="lab", virtual_account=lab)
    tag = LicenseTag.objects.get(name="lab")
    events_before = Event.objects.count()
    with pytest.raises(NotAllowed):
        rename_license_tag(actor=vic, tag=tag, name="Lab", virtual_account=lab)
    with pytest.raises(NotAllowed):
        delete_license_tag(actor=vic, tag=tag, virtual_account=lab)
    assert LicenseTag.objects.get(pk=tag.pk).name == "lab" and Event.objects.count() == events_before
    # On a license only Lab holds, Vic may rename and delete it.
    only_lab = held[0].__class__.objects.create(name="Only Lab", entitlement_tag="regid.only-lab")
    add_line(lab, only_lab, 1)
    add_license_tags(actor=vic, account=acme, licenses=[only_lab], names="mine", virtual_account=lab)
    mine = LicenseTag.objects.get(name="mine")
    rename_license_tag(actor=vic, tag=mine, name="Mine", virtual_account=lab)
    delete_license_tag(actor=vic, tag=LicenseTag.objects.get(name="Mine"), virtual_account=lab)
    # An account-wide role reaches every virtual account.
    rename_license_tag(actor=ann, tag=tag, name="Lab")
    delete_license_tag(actor=ann, tag=LicenseTag.objects.get(name="Lab"))
    codes = list(
        Event.objects.filter(event_type__startswith="license_tag.").order_by("pk").values_list("event_type", "message")
    )
    assert [code for code, _ in codes] == [
        "license_tag.added",
        "license_tag.added",
        "license_tag.renamed",
        "license_tag.deleted",
        "license_tag.renamed",
        "license_tag.deleted",
    ]
    assert codes[0][1] == "The license tags “lab” were added to “A” in the Virtual Account “Lab”."
    assert codes[-1][1] == "The license tag “Lab” was deleted from the local account “Acme” (1 license(s) carried it)."

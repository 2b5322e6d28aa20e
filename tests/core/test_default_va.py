"""Exactly one Default local virtual account per local account, whatever happens."""

import pytest
from django.db import IntegrityError, transaction

from core.errors import ServiceError
from core.models import Event
from licensing.models import LocalAccount, VirtualAccount
from licensing.services import accounts, virtual_accounts


def _defaults(account):
    return list(VirtualAccount.objects.filter(account=account, is_default=True))


def test_every_new_account_has_one_default(make_user):
    requester = make_user("req")
    account = accounts.request_account(
        actor=requester, name="Acme", cisco_smart_account="SA", cisco_virtual_account="VA", message="please"
    )
    assert account.status == LocalAccount.Status.REQUESTED
    [default] = _defaults(account)
    assert default.name == "Default"


def test_default_can_be_renamed_and_stays_default(make_account, sysadmin):
    account = make_account()
    [default] = _defaults(account)
    virtual_accounts.rename_virtual_account(actor=sysadmin, virtual_account=default, name="Main", description="HQ")
    [default] = _defaults(account)
    assert (default.name, default.description) == ("Main", "HQ")
    assert Event.objects.filter(message="The Virtual Account “Default” was renamed to “Main”").exists()


def test_default_cannot_be_deleted(make_account, sysadmin):
    account = make_account()
    [default] = _defaults(account)
    with pytest.raises(ServiceError, match="cannot be deleted"):
        virtual_accounts.delete_virtual_account(actor=sysadmin, virtual_account=default)
    assert _defaults(account) == [default]


def test_database_refuses_a_second_default(make_account):
    account = make_account()
    with pytest.raises(IntegrityError), transaction.atomic():
        VirtualAccount.objects.create(account=account, name="Another", is_default=True)
    assert len(_defaults(account)) == 1


def test_names_unique_within_an_account_only(make_account, sysadmin):
    one, two = make_account("One"), make_account("Two")
    virtual_accounts.create_virtual_account(actor=sysadmin, account=one, name="Lab")
    virtual_accounts.create_virtual_account(actor=sysadmin, account=two, name="Lab")
    with pytest.raises(ServiceError, match="already exists"):
        virtual_accounts.create_virtual_account(actor=sysadmin, account=one, name="Lab")
    with pytest.raises(ServiceError, match="already exists"):
        virtual_accounts.rename_virtual_account(actor=sysadmin, virtual_account=_defaults(one)[0], name="Lab")


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_bad_virtual_account_names(make_account, sysadmin, name):
    account = make_account()
    before = VirtualAccount.objects.count()
    with pytest.raises(ServiceError):
        virtual_accounts.create_virtual_account(actor=sysadmin, account=account, name=name)
    assert VirtualAccount.objects.count() == before


def test_account_lifecycle(sysadmin, make_user):
    requester = make_user("req")
    account = accounts.request_account(
        actor=requester, name="Acme", cisco_smart_account="SA", cisco_virtual_account="VA"
    )
    with pytest.raises(ServiceError, match="cannot become Active"):
        accounts.activate_account(actor=sysadmin, account=account)
    accounts.approve_account_request(actor=sysadmin, account=account)
    account = accounts.activate_account(actor=sysadmin, account=account)
    assert account.status == LocalAccount.Status.ACTIVE
    account = accounts.deactivate_account(actor=sysadmin, account=account)
    account = accounts.activate_account(actor=sysadmin, account=account)
    assert account.status == LocalAccount.Status.ACTIVE


def test_rejected_request_frees_the_name(sysadmin, make_user):
    requester = make_user("req")
    account = accounts.request_account(
        actor=requester, name="Acme", cisco_smart_account="SA", cisco_virtual_account="VA"
    )
    with pytest.raises(ServiceError, match="already exists"):
        accounts.request_account(actor=requester, name="Acme", cisco_smart_account="SA", cisco_virtual_account="VA")
    accounts.reject_account_request(actor=sysadmin, account=account, reason="duplicate")
    again = accounts.request_account(actor=requester, name="Acme", cisco_smart_account="SA", cisco_virtual_account="VA")
    assert again.pk != account.pk and len(_defaults(again)) == 1


def test_system_user_cannot_approve(make_user):
    requester = make_user("req")
    account = accounts.request_account(
        actor=requester, name="Acme", cisco_smart_account="SA", cisco_virtual_account="VA"
    )
    from core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        accounts.approve_account_request(actor=requester, account=account)
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.REQUESTED

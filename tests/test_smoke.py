def test_account_has_default_va(make_account):
    account = make_account()
    assert account.virtual_accounts.get().is_default

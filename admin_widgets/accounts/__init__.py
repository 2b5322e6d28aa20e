"""The Accounts widget: local accounts, account requests and their event log."""

"""``manage.py cssm``: register, sync, files both ways, status, refusals."""

import io

import pytest
from django.core.management import CommandError, call_command

from licensing.models import LocalAccount
from sync.documents.rejections import MSG_NOT_YAML
from sync.models import AccountSync
from tests.sync.sync_helpers import CCO_PASSWORD, CCO_USER

pytestmark = pytest.mark.django_db


def _run(*args):
    out = io.StringIO()
    call_command("cssm", *args, stdout=out)
    return out.getvalue()


def test_register_sync_and_files(use_cssm, pending_account, tmp_path):
    account = pending_account()
    password_file = tmp_path / "cco"
    password_file.write_text(CCO_PASSWORD + "\n")
    assert "registered and Active" in _run(
        "register", account.name, "--username", CCO_USER, "--password-file", str(password_file)
    )
    account.refresh_from_db()
    assert account.status == LocalAccount.Status.ACTIVE
    assert "Synchronization Successful (full)" in _run("sync", account.name)
    _run("export-request", account.name, str(tmp_path / "req.yml"))
    use_cssm.process_file(tmp_path / "req.yml", tmp_path / "resp.yml")
    assert "(standard)" in _run("import-response", account.name, str(tmp_path / "resp.yml"))
    status = _run("status", account.name)
    assert AccountSync.objects.get(account=account).uid in status and "(success)" in status
    with pytest.raises(CommandError, match="already been processed"):
        _run("import-response", account.name, str(tmp_path / "resp.yml"))
    assert "(failed)" in _run("status", account.name)  # the last attempt failed; nothing else changed


def test_manual_registration_files(use_cssm, pending_account, tmp_path):
    account = pending_account()
    _run("register-request", account.name, str(tmp_path / "reg.yml"))
    use_cssm.process_file(tmp_path / "reg.yml", tmp_path / "auth.yml")
    (tmp_path / "auth.txt").write_bytes((tmp_path / "auth.yml").read_bytes())
    with pytest.raises(CommandError) as excinfo:
        _run("import-authorization", account.name, str(tmp_path / "auth.txt"))
    assert str(excinfo.value) == MSG_NOT_YAML
    assert "registered and Active" in _run("import-authorization", account.name, str(tmp_path / "auth.yml"))


def test_refusals(make_account, tmp_path):
    account = make_account("Plain")
    with pytest.raises(CommandError, match="No local account"):
        _run("sync", "Nobody")
    with pytest.raises(CommandError, match="Cannot read"):
        _run("register", account.name, "--username", "u", "--password-file", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="not registered"):
        _run("sync", account.name)

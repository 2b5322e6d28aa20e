"""Support Center: the server's logs listed, tailed live, searched with grep -E, downloaded."""

import io
import os
import zipfile

import pytest

from accounts.roles import SystemRole
from admin_widgets.support_center import logs
from core.errors import ServiceError
from tests.factories import PASSWORD


@pytest.fixture
def log_dir(settings, tmp_path):
    directory = tmp_path / "logs"
    directory.mkdir()
    settings.LOG_DIR = directory
    (directory / "onprem.log").write_text("2026 INFO started\n2026 ERROR database gone\n2026 INFO back\n")
    (directory / "access.log").write_text('127.0.0.1 "GET / HTTP/1.1" 200\n')
    (directory / "notes.txt").write_text("not a log\n")
    secret = tmp_path / "secret.log"
    secret.write_text("do not serve\n")
    os.symlink(secret, directory / "linked.log")
    return directory


def test_only_real_log_files_of_the_log_directory_are_offered(log_dir):
    assert [log.name for log in logs.log_files()] == ["access.log", "onprem.log"]
    for name in ("../secret.log", "linked.log", "notes.txt", "/etc/passwd"):
        with pytest.raises(ServiceError):
            logs.find(name)


def test_tail_follows_appends_and_restarts_after_rotation(log_dir):
    lines, offset = logs.tail("onprem.log")
    assert lines == ["2026 INFO started", "2026 ERROR database gone", "2026 INFO back"]
    assert logs.tail("onprem.log", offset) == ([], offset)
    with (log_dir / "onprem.log").open("a") as handle:
        handle.write("2026 WARN slow\n2026 INFO half-writ")
    lines, offset = logs.tail("onprem.log", offset)
    assert lines == ["2026 WARN slow"]  # the half-written line waits for its end
    with (log_dir / "onprem.log").open("a") as handle:
        handle.write("ten\n")
    assert logs.tail("onprem.log", offset)[0] == ["2026 INFO half-written"]
    (log_dir / "onprem.log").write_text("rotated\n")
    assert logs.tail("onprem.log", 10_000)[0] == ["rotated"]


def test_tail_of_a_big_log_starts_on_a_whole_line(log_dir):
    (log_dir / "big.log").write_text("".join(f"line {n:06d}\n" for n in range(20_000)))
    lines, offset = logs.tail("big.log", max_bytes=1000)
    assert lines[-1] == "line 019999" and all(line.startswith("line ") and len(line) == 11 for line in lines)
    assert offset == (log_dir / "big.log").stat().st_size


def test_search_uses_extended_regular_expressions(log_dir):
    assert logs.search("onprem.log", "ERROR|WARN") == [(2, "2026 ERROR database gone")]
    assert logs.search("onprem.log", "^2026 (INFO|ERROR) (started|back)$") == [
        (1, "2026 INFO started"),
        (3, "2026 INFO back"),
    ]
    assert logs.quick_search("onprem.log", "error") == [(2, "2026 ERROR database gone")]
    with pytest.raises(ServiceError, match="Invalid regular expression"):
        logs.search("onprem.log", "(unclosed")
    with pytest.raises(ServiceError):
        logs.quick_search("onprem.log", "rm -rf")
    with pytest.raises(ServiceError):
        logs.search("onprem.log", "x" * 201)
    # A pattern is an argument to grep, never a shell word or an option.
    assert logs.search("onprem.log", "--version") == []


def test_pages_and_downloads(admin_client, log_dir):
    html = admin_client.get("/admin/support/").content.decode()
    assert "onprem.log" in html and "access.log" in html and "notes.txt" not in html and "linked.log" not in html
    html = admin_client.get("/admin/support/?log=onprem.log&pattern=ERROR").content.decode()
    assert "2026 ERROR database gone" in html and "1 matching line" in html
    html = admin_client.get("/admin/support/?log=onprem.log&pattern=(bad").content.decode()
    assert "Invalid regular expression" in html

    tail = admin_client.get("/admin/support/logs/onprem.log/tail/?offset=0&filter=INFO").json()
    assert tail["lines"] == ["2026 INFO started", "2026 INFO back"]
    assert admin_client.get("/admin/support/logs/onprem.log/tail/?offset=x").status_code == 400
    assert admin_client.get("/admin/support/logs/linked.log/tail/").status_code == 404
    assert admin_client.get("/admin/support/logs/..%2Fsecret.log/download/").status_code == 404

    download = admin_client.get("/admin/support/logs/onprem.log/download/")
    assert b"".join(download.streaming_content).startswith(b"2026 INFO started")
    assert 'filename="onprem.log"' in download["Content-Disposition"]
    bundle = admin_client.get("/admin/support/logs.zip")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(bundle.streaming_content)))
    assert sorted(archive.namelist()) == ["access.log", "onprem.log"]
    assert archive.read("access.log").startswith(b"127.0.0.1")


def test_operators_may_system_users_may_not(sysop, make_user, client, log_dir):
    client.login(username=sysop.username, password=PASSWORD)
    assert client.get("/admin/support/logs/onprem.log/download/").status_code == 200
    client.logout()
    client.login(username=make_user("u", SystemRole.USER).username, password=PASSWORD)
    assert client.get("/admin/support/").status_code == 403
    assert client.get("/admin/support/logs.zip").status_code == 403

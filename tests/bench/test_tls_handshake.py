"""bench/tls_handshake.py at a tiny size: every row does what it says (full or resumed), and the
server's CPU is read from /proc."""

import json

import pytest

from bench import tls_handshake


def test_rows_do_what_they_say(tmp_path):
    output = tmp_path / "rows.json"
    assert tls_handshake.main(["--handshakes", "20", "--warmup", "2", "--output", str(output)]) == 0
    rows = {row["id"]: row for row in json.loads(output.read_text())["rows"]}
    assert set(rows) == {row[0] for row in tls_handshake.ROWS}
    assert rows["ecdsa_resumed"]["client_saw"] == {"full": 0, "resumed": 20}
    assert rows["rsa_full_before"]["client_saw"] == {"full": 20, "resumed": 0}
    assert rows["ecdsa_full"]["key"] == "ecdsa" and rows["rsa_full"]["key"] == "rsa"
    assert all(row["ok"] and row["server_cpu_ms_per_handshake"] >= 0 for row in rows.values())


def test_cpu_seconds_reads_proc():
    import os

    assert tls_handshake.cpu_seconds(os.getpid()) > 0


@pytest.mark.live
def test_the_gunicorn_rows_go_through_the_real_stack(tmp_path):
    output = tmp_path / "rows.json"
    assert tls_handshake.main(["--gunicorn", "--handshakes", "10", "--warmup", "2", "--output", str(output)]) == 0
    rows = {row["id"]: row for row in json.loads(output.read_text())["rows"]}
    assert set(rows) == {row[0] for row in tls_handshake.GUNICORN_ROWS}
    assert rows["gunicorn_ecdsa_resumed"]["client_saw"] == {"full": 0, "resumed": 10}
    assert "HTTP 405" in rows["gunicorn_ecdsa_full"]["label"]  # Django answered: the whole stack ran

"""The benchmark's server CPU per message (bench/cpu.py): /proc's stat fields, the process tree's
sum, the PostgreSQL backends followed across disconnects and pid reuse, and the per-message
division."""

import os
import subprocess
import sys
import time

import pytest

from bench import cpu
from bench.run import combine_runs


def test_the_stat_fields_are_counted_after_the_command_name():
    # A command name with spaces and parentheses, as a process may name itself.
    text = "4242 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 111 222 333 444 20 0 1 0 99 1000 10"
    assert cpu.parse_stat(text) == (111, 222, 333, 444)


def test_this_process_ticks_grow_with_the_cpu_it_spends():
    before = cpu.read_ticks(os.getpid())
    deadline = time.process_time() + 0.3
    while time.process_time() < deadline:
        pass
    assert cpu.read_ticks(os.getpid()) - before >= 0.2 * cpu.TICKS_PER_SECOND
    assert cpu.read_ticks(2**22 + 12345) is None  # no such process


def test_a_reaped_child_counts_in_its_parent():
    before = cpu.read_ticks(os.getpid())
    subprocess.run(
        [sys.executable, "-c", "import time\nt = time.process_time() + 0.3\nwhile time.process_time() < t: pass"]
    )
    with_children = cpu.read_ticks(os.getpid()) - before
    assert with_children >= 0.2 * cpu.TICKS_PER_SECOND
    assert cpu.tree_ticks([os.getpid(), 2**22 + 12345]) == cpu.read_ticks(os.getpid())


def test_per_message_is_python_plus_postgres_over_the_messages_served():
    before, after = cpu.Reading(10.0, 4.0), cpu.Reading(13.0, 5.5)
    assert cpu.per_message(before, after, 1000) == {
        "server_cpu_ms": 4.5,
        "python_cpu_ms": 3.0,
        "postgres_cpu_ms": 1.5,
    }
    assert after.total_s == 18.5
    assert cpu.per_message(before, after, 0)["server_cpu_ms"] is None


class FakeProc:
    def __init__(self):
        self.ticks, self.connected = {}, set()

    def list_pids(self):
        return sorted(self.connected)

    def read(self, pid):
        return self.ticks.get(pid)


def test_backends_keep_the_cpu_of_those_that_disconnect_or_whose_pid_is_reused():
    proc = FakeProc()
    backends = cpu.Backends(proc.list_pids, read=proc.read)
    proc.ticks, proc.connected = {1: 100, 2: 50}, {1, 2}
    assert backends.sample() == 150
    proc.ticks[1] = 130  # busy
    proc.ticks[3], proc.connected = 5, {1, 2, 3}  # a new connection
    assert backends.sample() == 185
    # 2 disconnects and its process is gone: its last value stays counted.
    del proc.ticks[2]
    proc.connected = {1, 3}
    assert backends.sample() == 185
    # 3 disconnects but /proc still shows it (exiting): its count then is its last.
    proc.ticks[3], proc.connected = 9, {1}
    assert backends.sample() == 189
    # 1's pid is reused by a new backend (a smaller count): the old one's 130 stays, the new one adds.
    proc.ticks[1], proc.connected = 7, {1}
    assert backends.sample() == 130 + 50 + 9 + 7
    assert backends.total() == 196


def test_the_trivial_runs_combine_weighted_by_requests_served():
    first = {"throughput_rps": 100.0, "errors": 0, "requests": 300, "ok": 300, "server_cpu_ms": 1.0}
    second = {"throughput_rps": 80.0, "errors": 1, "requests": 101, "ok": 100, "server_cpu_ms": 2.0}
    combined = combine_runs({**first, "python_cpu_ms": None}, {**second, "python_cpu_ms": None})
    assert combined["throughput_rps"] == 90.0 and combined["requests"] == 401 and combined["errors"] == 1
    assert combined["server_cpu_ms"] == pytest.approx((300 * 1.0 + 100 * 2.0) / 400, abs=1e-3)
    assert combined["python_cpu_ms"] is None


def test_the_meter_reads_a_process_tree(tmp_path):
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nt = time.process_time() + 0.4\nwhile time.process_time() < t: pass\ntime.sleep(30)",
        ]
    )
    try:
        meter = cpu.Meter(child.pid)
        first = meter.read()
        time.sleep(0.8)
        second = meter.read()
        assert second.server_s >= first.server_s and second.server_s >= 0.3
        assert second.database_s == 0  # no database given
        meter.close()
    finally:
        child.kill()
        child.wait()


def test_a_run_with_errors_keeps_the_servers_logs():
    from bench.run import failed_rows

    results = {
        "devices": {"REGISTER": {"errors": 3}, "AUTHORIZE": {"errors": 0}, "_fleet": {"devices": 1}},
        "trivial": {"errors": 0},
    }
    assert failed_rows(results) == ["REGISTER"]
    assert failed_rows({"trivial_product": {"errors": 1}}) == ["trivial_product"]
    assert failed_rows({}) == []

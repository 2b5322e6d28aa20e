"""The system-health readout's data gathering, fed fixed /proc text."""

import time
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone

from accounts.middleware import LAST_ACTIVITY_KEY
from admin_widgets import health
from core import events
from core.models import WorkerHeartbeat

STAT_BEFORE = "cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 100 0 100 700 100 0 0 0 0 0\nintr 1 2 3\n"
# 200 more jiffies, 50 of them idle or waiting: 75 % busy.
STAT_AFTER = "cpu  200 0 150 730 120 0 0 0 0 0\ncpu0 200 0 150 730 120 0 0 0 0 0\nintr 1 2 3\n"
NET_DEV = """Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 5000      50    0    0    0     0          0         0     5000      50    0    0    0     0       0          0
  eth0: {rx}    1200    0    0    0     0          0         0   {tx}     900    0    0    0     0       0          0
"""  # noqa: E501 (the file's own layout)
MEMINFO = """MemTotal:       16000000 kB
MemFree:         2000000 kB
MemAvailable:    4000000 kB
Buffers:          100000 kB
Cached:          3000000 kB
"""


def test_parse_uptime():
    assert health.parse_uptime("350735.47 234388.90\n") == pytest.approx(350735.47)
    assert health.parse_uptime("") is None
    assert health.parse_uptime(None) is None
    assert health.parse_uptime("garbage") is None


def test_cpu_percent_over_a_sample():
    before, after = health.parse_cpu_times(STAT_BEFORE), health.parse_cpu_times(STAT_AFTER)
    assert before == (800, 1000)
    assert health.cpu_percent(before, after) == pytest.approx(75.0)
    assert health.cpu_percent(after, after) is None  # no time passed: no reading, not 0 %
    assert health.cpu_percent(None, after) is None
    assert health.parse_cpu_times("intr 1 2\n") is None


def test_memory_percent_uses_available_memory():
    assert health.parse_meminfo(MEMINFO) == pytest.approx(75.0)
    old_kernel = "MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 100 kB\nCached: 300 kB\n"
    assert health.parse_meminfo(old_kernel) == pytest.approx(50.0)
    assert health.parse_meminfo("") is None
    assert health.parse_meminfo("MemTotal: 0 kB\n") is None


def test_interfaces_leave_out_loopback_and_measure_rates():
    before = health.parse_net_dev(NET_DEV.format(rx=1000, tx=2000))
    after = health.parse_net_dev(NET_DEV.format(rx=1500, tx=2100))
    assert after == {"eth0": (1500, 2100)}
    [eth0] = health.interfaces_between(before, after, 0.5)
    assert (eth0.name, eth0.rx_bytes, eth0.tx_bytes) == ("eth0", 1500, 2100)
    assert (eth0.rx_per_second, eth0.tx_per_second) == (1000, 200)
    assert health.parse_net_dev(None) == {}


def test_process_start_survives_odd_command_names():
    fields_after_name = ["S"] + ["0"] * 18 + ["12345"] + ["0"] * 10  # field 22 is starttime
    text = "4242 (gunicorn: (worker) x) " + " ".join(fields_after_name)
    assert health.parse_process_start(text, 100) == pytest.approx(123.45)
    assert health.parse_process_start("4242 (x) S 1", 100) is None
    assert health.parse_process_start(None, 100) is None


def test_disk_percent_as_df_shows_it():
    # total 100, used 45, available 45 (10 reserved for root): 50 % used.
    assert health.disk_percent("/", lambda path: (100, 45, 45)) == pytest.approx(50.0)

    def broken(path):
        raise OSError("gone")

    assert health.disk_percent("/", broken) is None


def test_sample_reads_twice_around_a_pause():
    reads = {"stat": [STAT_BEFORE, STAT_AFTER], "net/dev": [NET_DEV.format(rx=0, tx=0), NET_DEV.format(rx=100, tx=50)]}
    pauses = []
    cpu, interfaces = health.sample(lambda name: reads[name].pop(0), pauses.append, seconds=0.5)
    assert pauses == [0.5]
    assert cpu == pytest.approx(75.0)
    assert interfaces[0].rx_per_second == 200


NOW = datetime(2025, 1, 1, 12, 0, tzinfo=dt_timezone.utc)


def _assess(disk=10.0, memory=10.0, worker_age=30, heartbeat=60):
    last_seen = None if worker_age is None else NOW - timedelta(seconds=worker_age)
    return health.assess(disk=disk, memory=memory, worker_last_seen=last_seen, now=NOW, heartbeat_seconds=heartbeat)


@pytest.mark.parametrize(
    "value, expected", [(None, None), (0.0, "ok"), (70.0, "ok"), (70.5, "raised"), (90.0, "raised"), (90.1, "high")]
)
def test_one_level_rule_for_bars_and_verdict(value, expected):
    assert health.level(value) == expected
    assert bool(
        health.assess(cpu=value, disk=None, memory=None, worker_last_seen=NOW, now=NOW, heartbeat_seconds=60)
    ) == (expected == "high")


def test_assess_good():
    assert _assess() == []
    assert _assess(disk=90.0, memory=None, worker_age=180) == []  # limits are "more than"


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"disk": 93.2}, "The disk is 93% full."),
        ({"memory": 97.0}, "97% of the memory is in use."),
        ({"worker_age": None}, "No background worker has reported yet"),
        ({"worker_age": 181}, "The background worker last reported 3\xa0minutes ago"),
        ({"worker_age": 31, "heartbeat": 10}, "The background worker last reported 31 seconds ago"),
        ({"worker_age": 7500}, "The background worker last reported 2\xa0hours, 5\xa0minutes ago"),
    ],
)
def test_assess_says_what_is_wrong(kwargs, expected):
    problems = _assess(**kwargs)
    assert len(problems) == 1 and problems[0].startswith(expected)


def _session(user, last_activity):
    store = SessionStore()
    store["_auth_user_id"] = str(user.pk)
    if last_activity is not None:
        store[LAST_ACTIVITY_KEY] = last_activity
    store.create()
    return store


def test_connected_users_are_recently_active_enabled_users(make_user):
    now = time.time()
    fresh, idle, disabled, never = (make_user(name) for name in ("fresh", "idle", "disabled", "never"))
    disabled.is_active = False
    disabled.save(update_fields=["is_active"])
    _session(fresh, now - 30)
    _session(fresh, now - 500)  # a second browser: the latest activity counts
    _session(idle, now - 601)
    _session(disabled, now - 10)
    _session(never, None)
    rows = health.connected_users(now)
    assert [user.username for user, _ in rows] == ["fresh"]
    assert rows[0][1].timestamp() == pytest.approx(now - 30)
    # The user asking is connected even before their current request is stored.
    rows = health.connected_users(now, viewer=never)
    assert [user.username for user, _ in rows] == ["never", "fresh"]
    assert [user.username for user, _ in health.connected_users(now, viewer=disabled)] == ["fresh"]


def test_connected_users_ignores_expired_sessions_and_anonymous_ones(make_user):
    now = time.time()
    user = make_user("gone")
    store = _session(user, now - 5)
    store.set_expiry(-10)
    store.save()
    anonymous = SessionStore()
    anonymous[LAST_ACTIVITY_KEY] = now
    anonymous.create()
    assert health.connected_users(now) == []


def test_connected_users_scan_is_bounded(make_user, django_assert_max_num_queries):
    now = time.time()
    for index in range(5):
        _session(make_user(f"u{index}"), now - index)
    with django_assert_max_num_queries(2):
        rows = health.connected_users(now, limit=3)
    assert len(rows) <= 3


def test_recent_alerts_are_the_latest_five_warnings(sysadmin):
    for index in range(7):
        events.record("user.disabled", actor=sysadmin, user_name=f"u{index}")
    events.record("user.enabled", actor=sysadmin, user_name="info-only")
    alerts = health.recent_alerts()
    assert len(alerts) == 5
    assert all(event.severity in ("WARN", "ALERT") for event in alerts)
    assert alerts[0].message == "The user “u6” was disabled."


@pytest.mark.django_db
def test_gather_with_fake_proc(settings):
    texts = {
        "uptime": "7200.00 100.00\n",
        "meminfo": MEMINFO,
        "stat": iter([STAT_BEFORE, STAT_AFTER]),
        "net/dev": iter([NET_DEV.format(rx=0, tx=0), NET_DEV.format(rx=10, tx=20)]),
    }

    def read(name):
        value = texts.get(name)
        return next(value) if hasattr(value, "__next__") else value

    WorkerHeartbeat.objects.create(hostname="worker-1", last_seen=timezone.now())
    readout = health.gather(read=read, sleep=lambda s: None, disk_usage=lambda path: (100, 20, 80))
    assert readout.good and readout.problems == []
    # 75 % CPU and memory are amber: named under "Good", not problems.
    assert readout.notes == ["The CPU is 75% busy.", "75% of the memory is in use."]
    assert (readout.cpu, readout.memory, readout.disk) == (
        pytest.approx(75.0),
        pytest.approx(75.0),
        pytest.approx(20.0),
    )
    assert readout.machine_started.timestamp() == pytest.approx(time.time() - 7200, abs=5)
    assert readout.process_started is None  # no /proc/<pid>/stat in the fake
    assert readout.worker.hostname == "worker-1"
    assert [i.name for i in readout.interfaces] == ["eth0"]

    full = health.gather(read=lambda name: None, sleep=lambda s: None, disk_usage=lambda path: (100, 95, 5))
    assert not full.good
    assert full.problems == ["The disk is 95% full."]
    assert full.cpu is None and full.memory is None and full.machine_started is None


def test_gather_reads_this_machine(db, make_user):
    """On Linux the real /proc yields numbers; elsewhere the readings are None, never made up."""
    from pathlib import Path

    readout = health.gather(sleep=lambda s: time.sleep(0.05))
    if Path("/proc/stat").exists():
        assert 0 <= readout.memory <= 100 and readout.machine_started is not None
        assert readout.process_started is not None and readout.process_started <= timezone.now()
    assert 0 <= readout.disk <= 100
    assert "No background worker has reported yet" in " ".join(readout.problems)
    assert readout.connected_users == [] and readout.alerts == []

"""The Administration workspace: who may open it, the widget grid and the health readout."""

import re
import socket

import pytest
from django.urls import resolve, reverse
from django.utils import timezone

import core
from accounts.roles import SystemRole
from admin_widgets import health
from admin_widgets.registry import WIDGETS, widgets_for
from core import events
from core.models import WorkerHeartbeat

# The widgets of the guide's Administration workspace.
GUIDE_WIDGETS = [
    "Users",
    "Access Management",
    "Accounts",
    "Settings",
    "Security",
    "Network",
    "Synchronization",
    "API Toolkit",
    "Support Center",
    "High Availability",
]


def _widget_titles(html):
    return re.findall(r'<a class="widget" href="[^"]+">\s*<h2>([^<]+)</h2>', html)


@pytest.mark.parametrize("role", [SystemRole.ADMIN, SystemRole.OPERATOR])
def test_admins_see_the_built_widgets_and_nothing_faked(make_user, login, role):
    client = login(make_user("boss", role))
    response = client.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    shown = [w for w in WIDGETS if w.available is None or w.available()]
    assert _widget_titles(html) == [str(w.title) for w in shown]
    # Only built widgets are listed: each one's page opens for real.
    for widget in shown:
        assert str(widget.title) in GUIDE_WIDGETS
        assert f'href="{reverse(widget.url_name)}"' in html
        assert client.get(reverse(widget.url_name)).status_code == 200, widget.url_name
    for title in set(GUIDE_WIDGETS) - {str(w.title) for w in WIDGETS}:
        assert f"<h2>{title}</h2>" not in html


def test_system_user_gets_403(make_user, login):
    client = login(make_user("plain", SystemRole.USER))
    assert client.get("/admin/").status_code == 403
    assert client.get("/admin/users/").status_code == 403


def test_anonymous_is_sent_to_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/admin/")


def test_every_widget_is_guarded_by_its_own_action():
    for widget in WIDGETS:
        view = resolve(reverse(widget.url_name)).func
        assert view.required_action == widget.action, widget.url_name


def test_grid_lists_only_what_the_user_may_open(make_user):
    # No HA cluster in the test database: the High Availability widget is the one not shown.
    built = [w.url_name for w in WIDGETS if w.url_name != "admin_ha"]
    assert [w.url_name for w in widgets_for(make_user("a", SystemRole.ADMIN))] == built
    # Operators open the configuration widgets too, read-only (docs/rbac.md).
    assert [w.url_name for w in widgets_for(make_user("o", SystemRole.OPERATOR))] == built
    assert widgets_for(make_user("u", SystemRole.USER)) == []


def test_readout_shows_real_numbers(sysadmin, login):
    client = login(sysadmin)
    events.record("user.disabled", actor=sysadmin, user_name="mallory")
    html = client.get("/admin/").content.decode()
    assert socket.gethostname() in html
    assert f"<dd>{core.__version__}</dd>" in html
    # The bars carry the measured percentages, and nothing is made up where /proc is missing.
    for key in ("cpu", "ram", "disk"):
        assert f'id="meter-{key}"' in html
    values = re.findall(r'aria-valuenow="(\d+)"', html)
    assert values and all(0 <= int(v) <= 100 for v in values)
    assert "The user “mallory” was disabled." in html  # recent alerts
    assert re.search(r"Connected Users</h3>\s*<ul class=\"readout-list\">\s*<li>sysadmin ", html)
    # No worker has reported in the test database: the state says so.
    assert "Warning" in html and "No background worker has reported yet" in html
    assert "no heartbeat yet" in html


def test_readout_good_when_worker_beats_and_resources_are_fine(sysop, login, monkeypatch):
    monkeypatch.setattr(health, "disk_percent", lambda path, usage=None: 42.0)
    monkeypatch.setattr(health, "parse_meminfo", lambda text: 30.0)
    monkeypatch.setattr(health, "sample", lambda read, sleep: (12.0, []))
    WorkerHeartbeat.objects.create(hostname="worker-1", last_seen=timezone.now())
    html = login(sysop).get("/admin/").content.decode()
    assert "<strong>Good</strong> - Your machine is working well." in html
    assert "last heartbeat" in html
    assert 'aria-valuenow="42"' in html


def test_readout_warns_about_a_stale_worker_and_a_full_disk(sysadmin, login, monkeypatch, settings):
    settings.ONPREM_HEARTBEAT_SECONDS = 60
    monkeypatch.setattr(health, "disk_percent", lambda path, usage=None: 96.0)
    monkeypatch.setattr(health, "parse_meminfo", lambda text: 30.0)
    WorkerHeartbeat.objects.create(hostname="w", last_seen=timezone.now() - timezone.timedelta(minutes=4))
    html = login(sysadmin).get("/admin/").content.decode()
    assert "Your machine is working well" not in html
    assert "The disk is 96% full." in html
    assert "The background worker last reported 4\xa0minutes ago" in html
    assert 'class="bar high"' in html


def _readout_html(client, monkeypatch, *, cpu, memory=30.0, disk=42.0):
    monkeypatch.setattr(health, "disk_percent", lambda path, usage=None: disk)
    monkeypatch.setattr(health, "parse_meminfo", lambda text: memory)
    monkeypatch.setattr(health, "sample", lambda read, sleep: (cpu, []))
    WorkerHeartbeat.objects.update_or_create(hostname="worker-1", defaults={"last_seen": timezone.now()})
    return client.get("/admin/").content.decode()


def test_a_red_bar_is_never_next_to_good(sysop, login, monkeypatch):
    """The verdict and the bars' colours come from one rule: a red CPU bar means Warning, saying why."""
    html = _readout_html(login(sysop), monkeypatch, cpu=100.0)
    assert "<strong>Good</strong>" not in html
    assert "<strong>Warning</strong>" in html and "The CPU is 100% busy." in html
    assert re.search(r'id="meter-cpu".*?class="bar high"', html, re.S)


def test_an_amber_bar_is_named_under_good(sysop, login, monkeypatch):
    html = _readout_html(login(sysop), monkeypatch, cpu=20.0, memory=80.0)
    assert "<strong>Good</strong> - Your machine is working; worth a look:" in html
    assert "80% of the memory is in use." in html
    assert re.search(r'id="meter-ram".*?class="bar raised"', html, re.S)


def test_workspace_answers_get_only(sysadmin, login):
    assert login(sysadmin).post("/admin/").status_code == 405


def test_readout_lists_other_connected_users_but_not_idle_ones(sysadmin, make_user, login):
    from django.test import Client

    from tests.factories import PASSWORD

    operator = make_user("olga", SystemRole.OPERATOR, first_name="Olga", last_name="Ops")
    other = Client()
    assert other.post("/login/", {"username": "olga", "password": PASSWORD}).status_code == 302
    assert other.get("/").status_code == 200  # stores her activity in her session
    html = login(sysadmin).get("/admin/").content.decode()
    assert "<li>Olga Ops " in html
    operator.is_active = False
    operator.save(update_fields=["is_active"])
    html = login(sysadmin).get("/admin/").content.decode()
    assert "<li>Olga Ops " not in html

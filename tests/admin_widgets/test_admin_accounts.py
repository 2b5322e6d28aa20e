"""The Accounts widget at /admin/accounts/: the Accounts tab (New Account, Deactivate, Activate),
the Account Requests tab (Approve, Reject) and the Event Log tab, with their CSV exports."""

import csv
import datetime
import io
import re

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import SystemRole
from core import events
from core.models import Event
from licensing.models import LocalAccount, VirtualAccount
from licensing.services.accounts import deactivate_account, request_account

Status = LocalAccount.Status
ACCOUNTS = "/admin/accounts/"
REQUESTS = "/admin/accounts/requests/"
EVENTS = "/admin/accounts/events/"


@pytest.fixture
def make_request(make_user):
    """make_request("Beta") -> a local account in status Requested, asked for by a System User."""
    counter = {"n": 0}

    def _make(name="Beta", *, message="Please", email="", requester=None):
        counter["n"] += 1
        requester = requester or make_user(f"requester{counter['n']}", email=f"req{counter['n']}@example.com")
        return request_account(
            actor=requester,
            name=name,
            cisco_smart_account=f"{name} SA",
            cisco_virtual_account=f"{name} VA",
            email=email,
            message=message,
        )

    return _make


def _messages(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def _snapshot():
    """Everything a refused change must leave alone."""
    return (
        list(
            LocalAccount.objects.order_by("pk").values_list(
                "pk",
                "name",
                "status",
                "cisco_smart_account",
                "cisco_virtual_account",
                "description",
                "decision_reason",
                "status_changed_at",
            )
        ),
        VirtualAccount.objects.count(),
        Event.objects.count(),
    )


def _rows(html):
    return re.findall(r'<th scope="row">([^<]+)', html)


def _csv(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="')
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# --- The widget in the workspace -----------------------------------------------------------------


@pytest.mark.parametrize("role", [SystemRole.ADMIN, SystemRole.OPERATOR])
def test_widget_in_the_grid_and_tabs(make_user, login, role):
    client = login(make_user("boss", role))
    html = client.get("/admin/").content.decode()
    assert re.search(r'<a class="widget" href="/admin/accounts/">\s*<h2>Accounts</h2>', html)
    page = client.get(ACCOUNTS).content.decode()
    for url, label in ((ACCOUNTS, "Accounts"), (REQUESTS, "Account Requests"), (EVENTS, "Event Log")):
        assert f'<a href="{url}"' in page and f">{label}</a>" in page
    assert f'<a href="{ACCOUNTS}" aria-current="page">Accounts</a>' in page


# --- Accounts tab ----------------------------------------------------------------------------------


def test_accounts_tab_lists_only_accounts_past_the_request(admin_client, make_account, make_request):
    make_account("Active One")
    make_account("Pending One", active=False)
    gone = make_account("Gone One")
    deactivate_account(actor=None, account=gone, reason="closed")
    make_request("Asked For")
    rejected = make_request("Refused")
    LocalAccount.objects.filter(pk=rejected.pk).update(status=Status.REJECTED)
    response = admin_client.get(ACCOUNTS)
    html = response.content.decode()
    assert response.status_code == 200
    for header in (
        "Local Account Name",
        "Cisco Smart Account",
        "Cisco Virtual Account",
        "Status",
        "Created",
        "Actions",
    ):
        assert f">{header}</" in html
    assert _rows(html) == ["Active One", "Gone One", "Pending One"]
    assert "Active One SA" in html and "Active One VA" in html
    assert ">Active<" in html and ">Deactivated<" in html and ">Pending Registration<" in html


def test_accounts_tab_offers_the_actions_each_status_allows(admin_client, make_account):
    active = make_account("Active One")
    pending = make_account("Pending One", active=False)
    gone = make_account("Gone One")
    deactivate_account(actor=None, account=gone)
    html = admin_client.get(ACCOUNTS).content.decode()
    assert f'/admin/accounts/{active.pk}/deactivate/"' in html
    assert f'/admin/accounts/{active.pk}/activate/"' not in html
    assert f'/admin/accounts/{gone.pk}/activate/"' in html
    assert f'/admin/accounts/{gone.pk}/deactivate/"' not in html
    # a Pending Registration account is registered with CSSM, never activated by hand
    assert f'/admin/accounts/{pending.pk}/activate/"' not in html
    assert f'/admin/accounts/{pending.pk}/deactivate/"' not in html
    assert f'/admin/accounts/{pending.pk}/register/"' in html
    assert f'/admin/accounts/{pending.pk}/manual-registration/"' in html
    assert html.count("Waiting for registration with Cisco Smart Software Manager") == 1
    form = re.search(rf'<form[^>]+/admin/accounts/{active.pk}/deactivate/"[^>]*>', html, re.S).group(0)
    assert "data-confirm=" in form


def test_accounts_search_sort_and_pages(admin_client, make_account):
    for index in range(30):
        make_account(f"acct{index:02d}")
    make_account("needle", active=False)
    LocalAccount.objects.filter(name="needle").update(cisco_smart_account="Haystack Corp")
    assert _rows(admin_client.get(ACCOUNTS, {"q": "HAYSTACK"}).content.decode()) == ["needle"]
    assert "No local account matches your search." in admin_client.get(ACCOUNTS, {"q": "zzz"}).content.decode()
    assert _rows(admin_client.get(ACCOUNTS, {"sort": "-name"}).content.decode())[:2] == ["needle", "acct29"]
    for column in ("name", "smart_account", "virtual_account", "status", "created"):
        for sort in (column, f"-{column}"):
            assert admin_client.get(ACCOUNTS, {"sort": sort}).status_code == 200
    page_two = admin_client.get(ACCOUNTS, {"page": 2}).content.decode()
    assert "Page 2 of 2 (31 items)" in page_two and len(_rows(page_two)) == 6


@pytest.mark.parametrize(
    "params",
    [{"sort": "decision_reason"}, {"sort": "__class__"}, {"page": "abc"}, {"page": "99999"}, {"q": "x" * 5000}],
)
def test_garbage_listing_values_never_fail(admin_client, make_account, params):
    make_account()
    for url in (ACCOUNTS, REQUESTS, EVENTS):
        assert admin_client.get(url, params).status_code == 200


# --- New Account ---------------------------------------------------------------------------------


def _create(client, **overrides):
    data = {
        "name": "Gamma",
        "cisco_smart_account": "gamma.example.com",
        "cisco_virtual_account": "Gamma VA",
        "description": "Lab",
    }
    data.update(overrides)
    return client.post("/admin/accounts/new/", data)


def test_new_account_form_has_labelled_fields(admin_client):
    html = admin_client.get("/admin/accounts/new/").content.decode()
    for name, label in [
        ("name", "Local Account Name"),
        ("cisco_smart_account", "Cisco Smart Account"),
        ("cisco_virtual_account", "Cisco Virtual Account"),
        ("description", "Description"),
    ]:
        assert f'<label for="id_{name}">{label}' in html


@pytest.mark.parametrize("role", [SystemRole.ADMIN, SystemRole.OPERATOR])
def test_new_account_is_pending_registration(make_user, login, role):
    client = login(make_user("boss", role))
    response = _create(client)
    assert response.status_code == 302 and response["Location"] == ACCOUNTS
    account = LocalAccount.objects.get(name="Gamma")
    assert (account.status, account.cisco_smart_account, account.cisco_virtual_account, account.description) == (
        Status.PENDING_REGISTRATION,
        "gamma.example.com",
        "Gamma VA",
        "Lab",
    )
    assert account.virtual_accounts.get().is_default
    event = Event.objects.get(event_type="account.created")
    assert event.message == "The local account “Gamma” was created." and event.username == "boss"
    assert event.account == account
    follow = client.get(ACCOUNTS)
    assert any("“Gamma” was created" in m for m in _messages(follow))
    assert "Waiting for registration with Cisco Smart Software Manager" in follow.content.decode()


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "   "}, "name", "This field is required."),
        ({"name": "Existing"}, "name", "A local account named “Existing” already exists."),
        ({"name": "n" * 101}, "name", "at most 100 characters"),
        ({"cisco_smart_account": ""}, "cisco_smart_account", "This field is required."),
        ({"cisco_virtual_account": "  "}, "cisco_virtual_account", "This field is required."),
        ({"cisco_smart_account": "s" * 256}, "cisco_smart_account", "at most 255 characters"),
        ({"description": "d" * 256}, "description", "at most 255 characters"),
    ],
)
def test_bad_new_account_writes_nothing(admin_client, make_account, overrides, field, message):
    make_account("Existing")
    before = _snapshot()
    response = _create(admin_client, **overrides)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and any(message in error for error in errors[field]), errors
    assert message.split("“")[0] in response.content.decode().replace("&#x27;", "'")
    assert _snapshot() == before


def test_a_rejected_name_may_be_used_again(admin_client, make_request):
    refused = make_request("Gamma")
    admin_client.post(f"/admin/accounts/requests/{refused.pk}/reject/", {"reason": "typo"})
    assert _create(admin_client).status_code == 302
    assert LocalAccount.objects.filter(name="Gamma").count() == 2


# --- Deactivate / Activate -------------------------------------------------------------------------


def _post(client, account, action, **data):
    return client.post(f"/admin/accounts/{account.pk}/{action}/", data)


def test_deactivate_then_activate(op_client, make_account):
    account = make_account("Acme")
    response = _post(op_client, account, "deactivate", reason="Contract ended")
    assert response.status_code == 302 and response["Location"] == ACCOUNTS
    account.refresh_from_db()
    assert account.status == Status.DEACTIVATED and account.decision_reason == "Contract ended"
    event = Event.objects.get(event_type="account.deactivated")
    assert event.message == "The local account “Acme” was deactivated." and event.username == "sysop"
    assert "The local account “Acme” was deactivated." in _messages(op_client.get(ACCOUNTS))

    assert _post(op_client, account, "activate").status_code == 302
    account.refresh_from_db()
    assert account.status == Status.ACTIVE
    assert Event.objects.filter(
        event_type="account.activated", username="sysop", message="The local account “Acme” was activated."
    ).exists()
    assert "The local account “Acme” was activated." in _messages(op_client.get(ACCOUNTS))


@pytest.mark.parametrize(
    "reason, message",
    [
        ("", "Reason: This field is required."),
        ("   ", "Reason: This field is required."),
        ("r" * 2001, "at most 2000 characters"),
    ],
)
def test_deactivate_needs_a_reason(admin_client, make_account, reason, message):
    account = make_account("Acme")
    before = _snapshot()
    _post(admin_client, account, "deactivate", reason=reason)
    assert any(message in m for m in _messages(admin_client.get(ACCOUNTS)))
    assert _snapshot() == before


def test_deactivating_a_deactivated_account_is_refused(admin_client, make_account):
    account = make_account("Acme")
    deactivate_account(actor=None, account=account, reason="first")
    before = _snapshot()
    _post(admin_client, account, "deactivate", reason="again")
    assert "The local account “Acme” is Deactivated; it cannot become Deactivated." in _messages(
        admin_client.get(ACCOUNTS)
    )
    assert _snapshot() == before


@pytest.mark.parametrize("active", [True, False])
def test_activate_only_a_deactivated_account(admin_client, make_account, active):
    """Pending Registration becomes Active by registering with CSSM, never by this button."""
    account = make_account("Acme", active=active)
    before = _snapshot()
    _post(admin_client, account, "activate")
    status = "Active" if active else "Pending Registration"
    assert f"Only a deactivated local account can be activated here; “Acme” is {status}." in _messages(
        admin_client.get(ACCOUNTS)
    )
    assert _snapshot() == before


def test_account_actions_need_post_and_an_existing_account(admin_client, make_account):
    account = make_account("Acme")
    assert admin_client.get(f"/admin/accounts/{account.pk}/deactivate/").status_code == 405
    before = _snapshot()
    for url in (
        "/admin/accounts/987654/deactivate/",
        "/admin/accounts/987654/activate/",
        "/admin/accounts/abc/deactivate/",
        "/admin/accounts/-1/activate/",
        "/admin/accounts/requests/987654/approve/",
        "/admin/accounts/requests/987654/reject/",
        "/admin/accounts/requests/1e3/approve/",
    ):
        assert admin_client.post(url, {"reason": "x"}).status_code == 404, url
    assert _snapshot() == before


def test_actions_return_to_the_same_table_view(admin_client, make_account):
    account = make_account("Acme")
    back = "/admin/accounts/?q=ac&sort=-status&page=1"
    assert _post(admin_client, account, "deactivate", reason="x", next=back)["Location"] == back
    for evil in ("https://evil.example/admin/accounts/", "//evil.example/admin/accounts/", "/admin/users/"):
        assert _post(admin_client, account, "activate", next=evil)["Location"] == ACCOUNTS
        _post(admin_client, account, "deactivate", reason="x")


# --- Account Requests tab -----------------------------------------------------------------------


def test_requests_tab_shows_the_request_columns(admin_client, make_account, make_request, make_user):
    make_account("Not A Request")
    make_request(
        "Beta",
        message="For the lab <b>now</b>",
        email="boss@example.com",
        requester=make_user("carol", email="carol@example.com"),
    )
    make_request("Delta", message="")
    refused = make_request("Epsilon")
    LocalAccount.objects.filter(pk=refused.pk).update(status=Status.REJECTED, decision_reason="No budget")
    html = admin_client.get(REQUESTS).content.decode()
    for header in (
        "Local Account Name",
        "Requester",
        "Email",
        "Message to Creator",
        "Cisco Smart Account",
        "Cisco Virtual Account",
        "Request Date",
        "Actions",
    ):
        assert f">{header}</" in html
    assert sorted(_rows(html)) == ["Beta", "Delta"]
    assert "carol" in html and "boss@example.com" in html and "Beta SA" in html and "Beta VA" in html
    assert "For the lab &lt;b&gt;now&lt;/b&gt;" in html
    rejected = admin_client.get(REQUESTS, {"status": "rejected"}).content.decode()
    assert _rows(rejected) == ["Epsilon"] and "No budget" in rejected and "/approve/" not in rejected
    # An unknown status falls back to the open requests.
    assert sorted(_rows(admin_client.get(REQUESTS, {"status": "active"}).content.decode())) == ["Beta", "Delta"]


def test_approve_makes_the_request_pending_registration(op_client, make_request):
    beta = make_request("Beta")
    response = op_client.post(f"/admin/accounts/requests/{beta.pk}/approve/")
    assert response.status_code == 302 and response["Location"] == REQUESTS
    beta.refresh_from_db()
    assert beta.status == Status.PENDING_REGISTRATION
    assert Event.objects.filter(
        event_type="account.request_approved",
        account=beta,
        username="sysop",
        message="The request for the local account “Beta” was approved by “sysop”.",
    ).exists()
    follow = op_client.get(REQUESTS)
    assert any("“Beta” was approved" in m for m in _messages(follow)) and _rows(follow.content.decode()) == []
    assert _rows(op_client.get(ACCOUNTS).content.decode()) == ["Beta"]


def test_approving_an_approved_request_is_refused(admin_client, make_request, make_account):
    beta = make_request("Beta")
    admin_client.post(f"/admin/accounts/requests/{beta.pk}/approve/")
    active = make_account("Acme")
    before = _snapshot()
    admin_client.post(f"/admin/accounts/requests/{beta.pk}/approve/")
    admin_client.post(f"/admin/accounts/requests/{active.pk}/approve/")
    admin_client.post(f"/admin/accounts/requests/{beta.pk}/reject/", {"reason": "too late"})
    messages = _messages(admin_client.get(REQUESTS))
    assert "The local account “Beta” is Pending Registration; it cannot become Pending Registration." in messages
    assert "The local account “Acme” is Active; it cannot become Pending Registration." in messages
    assert "The local account “Beta” is Pending Registration; it cannot become Rejected." in messages
    assert _snapshot() == before


def test_reject_with_a_reason(admin_client, make_request):
    beta = make_request("Beta")
    response = admin_client.post(f"/admin/accounts/requests/{beta.pk}/reject/", {"reason": "Use the Acme account"})
    assert response.status_code == 302
    beta.refresh_from_db()
    assert beta.status == Status.REJECTED and beta.decision_reason == "Use the Acme account"
    assert Event.objects.filter(
        event_type="account.request_rejected",
        username="sysadmin",
        message="The request for the local account “Beta” was rejected by “sysadmin”.",
    ).exists()
    assert "The request for “Beta” was rejected." in _messages(admin_client.get(REQUESTS))


@pytest.mark.parametrize(
    "reason, message",
    [
        (None, "Reason: This field is required."),
        ("", "Reason: This field is required."),
        ("\n  \t", "Reason: This field is required."),
        ("r" * 2001, "at most 2000 characters"),
    ],
)
def test_reject_needs_a_reason(admin_client, make_request, reason, message):
    beta = make_request("Beta")
    before = _snapshot()
    admin_client.post(f"/admin/accounts/requests/{beta.pk}/reject/", {} if reason is None else {"reason": reason})
    assert any(message in m for m in _messages(admin_client.get(REQUESTS)))
    assert _snapshot() == before


def test_reject_form_is_confirmed(admin_client, make_request):
    beta = make_request("Beta")
    html = admin_client.get(REQUESTS).content.decode()
    form = re.search(rf'<form[^>]+/admin/accounts/requests/{beta.pk}/reject/"[^>]*>', html, re.S).group(0)
    assert "data-confirm=" in form
    assert f'action="/admin/accounts/requests/{beta.pk}/approve/"' in html


# --- Event Log tab -----------------------------------------------------------------------------


def test_event_log_shows_account_events_newest_first(admin_client, make_account, sysadmin):
    acme = make_account("Acme")
    beta = make_account("Beta", active=False)
    events.record("user.disabled", actor=sysadmin, user_name="mallory")  # not an account event
    orphan = events.record("account.created", account_name="Removed Co")  # account since deleted
    html = admin_client.get(EVENTS).content.decode()
    messages = re.findall(r"<td[^>]*>(The [^<]+)</td>", html)
    assert messages[0] == "The local account “Removed Co” was created."
    assert messages == [
        e.message for e in Event.objects.filter(event_type__startswith="account.").order_by("-created_at", "-pk")
    ]
    assert "mallory" not in html and orphan.account is None and ">removed<" in html
    assert len(messages) == 4  # Acme created + activated, Beta created, the orphan
    only_beta = admin_client.get(EVENTS, {"account": beta.pk}).content.decode()
    assert re.findall(r"<td[^>]*>(The [^<]+)</td>", only_beta) == ["The local account “Beta” was created."]
    activated = admin_client.get(EVENTS, {"event_type": "account.activated"}).content.decode()
    assert re.findall(r"<td[^>]*>(The [^<]+)</td>", activated) == ["The local account “Acme” was activated."]
    assert acme.name in activated
    searched = admin_client.get(EVENTS, {"q": "removed co"}).content.decode()
    assert re.findall(r"<td[^>]*>(The [^<]+)</td>", searched) == ["The local account “Removed Co” was created."]


def test_event_log_date_range(admin_client, make_account):
    make_account("Acme")
    old = Event.objects.filter(event_type="account.created").get()
    Event.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=10))
    today = timezone.localdate()
    recent = admin_client.get(EVENTS, {"date_from": today.isoformat(), "date_to": today.isoformat()})
    assert re.findall(r"<td[^>]*>(The [^<]+)</td>", recent.content.decode()) == [
        "The local account “Acme” was activated."
    ]
    earlier = (today - datetime.timedelta(days=10)).isoformat()
    past = admin_client.get(EVENTS, {"date_from": earlier, "date_to": earlier}).content.decode()
    assert re.findall(r"<td[^>]*>(The [^<]+)</td>", past) == ["The local account “Acme” was created."]
    backwards = admin_client.get(EVENTS, {"date_from": today.isoformat(), "date_to": earlier})
    assert "The end of the date range is before its start." in backwards.content.decode()
    for bad in ({"date_from": "yesterday"}, {"account": "abc"}, {"account": "987654"}, {"event_type": "x" * 300}):
        response = admin_client.get(EVENTS, bad)
        assert response.status_code == 200 and 'class="errorlist"' in response.content.decode()
        assert len(re.findall(r"<td[^>]*>(The [^<]+)</td>", response.content.decode())) == 2  # bad filter left out


# --- CSV ---------------------------------------------------------------------------------------


def test_accounts_csv(admin_client, make_account, make_request):
    make_account("Acme")
    make_account('=HYPERLINK("http://evil")', active=False)
    make_request("Not Listed")
    rows = _csv(admin_client.get("/admin/accounts/export.csv"))
    assert rows[0] == [
        "Local Account Name",
        "Cisco Smart Account",
        "Cisco Virtual Account",
        "Status",
        "Description",
        "Created",
    ]
    assert [row[:4] for row in rows[1:]] == [
        [
            '\'=HYPERLINK("http://evil")',
            '\'=HYPERLINK("http://evil") SA',
            '\'=HYPERLINK("http://evil") VA',
            "Pending Registration",
        ],
        ["Acme", "Acme SA", "Acme VA", "Active"],
    ]
    assert _csv(admin_client.get("/admin/accounts/export.csv", {"q": "acme"}))[1:] == [rows[2]]


@pytest.mark.parametrize("evil", ["=1+1", "+1", "-1", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_csv_cells_are_never_formulas(admin_client, make_request, evil):
    make_request("Beta", message=evil)
    rows = _csv(admin_client.get("/admin/accounts/requests/export.csv"))
    assert rows[1][3] == "'" + evil


def test_requests_csv(admin_client, make_request, make_user):
    make_request("Beta", message='Hello, "world"\nsecond line', email="b@example.com", requester=make_user("carol"))
    refused = make_request("Gamma")
    admin_client.post(f"/admin/accounts/requests/{refused.pk}/reject/", {"reason": "@no"})
    rows = _csv(admin_client.get("/admin/accounts/requests/export.csv"))
    assert rows[0] == [
        "Local Account Name",
        "Requester",
        "Email",
        "Message to Creator",
        "Cisco Smart Account",
        "Cisco Virtual Account",
        "Status",
        "Request Date",
        "Reason",
    ]
    assert len(rows) == 2
    assert rows[1][:7] == [
        "Beta",
        "carol",
        "b@example.com",
        'Hello, "world"\nsecond line',
        "Beta SA",
        "Beta VA",
        "Requested",
    ]
    rejected = _csv(admin_client.get("/admin/accounts/requests/export.csv", {"status": "rejected"}))
    assert [row[0] for row in rejected[1:]] == ["Gamma"] and rejected[1][6:] == ["Rejected", rejected[1][7], "'@no"]


def test_events_csv(admin_client, make_account):
    make_account("-Minus")
    make_account("Acme", active=False)
    rows = _csv(admin_client.get("/admin/accounts/events/export.csv"))
    assert rows[0] == ["Time", "Local Account", "Event Type", "Severity", "User", "Message"]
    assert [(row[1], row[2]) for row in rows[1:]] == [
        ("Acme", "account.created"),
        ("'-Minus", "account.activated"),
        ("'-Minus", "account.created"),
    ]
    filtered = _csv(admin_client.get("/admin/accounts/events/export.csv", {"event_type": "account.activated"}))
    assert len(filtered) == 2 and filtered[1][5] == "The local account “-Minus” was activated."


# --- RBAC and CSRF ---------------------------------------------------------------------------------

GETS = [
    ACCOUNTS,
    REQUESTS,
    EVENTS,
    "/admin/accounts/new/",
    "/admin/accounts/export.csv",
    "/admin/accounts/requests/export.csv",
    "/admin/accounts/events/export.csv",
]


@pytest.mark.parametrize("role, status", [(SystemRole.ADMIN, 200), (SystemRole.OPERATOR, 200), (SystemRole.USER, 403)])
def test_pages_per_system_role(make_user, login, role, status):
    client = login(make_user("someone", role))
    for url in GETS:
        assert client.get(url).status_code == status, url


def _every_action(client, active, requested):
    return [
        _create(client).status_code,
        _post(client, active, "deactivate", reason="x").status_code,
        _post(client, active, "activate").status_code,
        client.post(f"/admin/accounts/requests/{requested.pk}/approve/").status_code,
        client.post(f"/admin/accounts/requests/{requested.pk}/reject/", {"reason": "x"}).status_code,
    ]


def test_system_user_is_refused_every_action(make_user, login, make_account, make_request):
    client = login(make_user("plain"))
    active, requested = make_account("Acme"), make_request("Beta")
    before = _snapshot()
    assert _every_action(client, active, requested) == [403] * 5
    assert _snapshot() == before


def test_anonymous_is_sent_to_login(client, make_account, make_request):
    active, requested = make_account("Acme"), make_request("Beta")
    before = _snapshot()
    for url in GETS:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
    for response_code in _every_action(client, active, requested):
        assert response_code == 302
    assert _snapshot() == before


def test_csrf_is_enforced(sysadmin, make_request):
    beta = make_request("Beta")
    client = Client(enforce_csrf_checks=True)
    client.force_login(sysadmin)
    before = _snapshot()
    assert client.post(f"/admin/accounts/requests/{beta.pk}/approve/").status_code == 403
    assert (
        client.post(
            "/admin/accounts/new/", {"name": "X", "cisco_smart_account": "S", "cisco_virtual_account": "V"}
        ).status_code
        == 403
    )
    assert _snapshot() == before
    client.get(REQUESTS)  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = client.post(f"/admin/accounts/requests/{beta.pk}/approve/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    beta.refresh_from_db()
    assert beta.status == Status.PENDING_REGISTRATION


# --- Query counts --------------------------------------------------------------------------------


def _measure(client, url, params, django_assert_num_queries, expected):
    with django_assert_num_queries(expected):
        response = client.get(url, params)
        if hasattr(response, "streaming_content"):
            b"".join(response.streaming_content)
    return response


# (url, params, queries): session, the signed-in user, then per table:
#   Accounts: COUNT for the pager + the page.
#   Requests: COUNT + the page joined with the requester.
#   Event Log: the accounts and event types of the filters + COUNT + the page joined with its account.
#   CSV: the same queries, the page replaced by all rows (the Listing's pager also counts them).
TABLES = [
    (ACCOUNTS, {}, 4),
    (ACCOUNTS, {"sort": "-created", "page": 2}, 4),
    (REQUESTS, {"sort": "requester"}, 4),
    (EVENTS, {}, 6),
    (EVENTS, {"event_type": "account.created", "q": "local"}, 6),
    ("/admin/accounts/export.csv", {}, 4),
    ("/admin/accounts/requests/export.csv", {}, 4),
    ("/admin/accounts/events/export.csv", {"account": "1"}, 6),
]


def test_query_counts_do_not_grow_with_rows(
    admin_client, make_account, make_request, make_user, django_assert_num_queries, monkeypatch
):
    # Freeze the idle-timeout clock so the session's activity stamp is written once, by the
    # warm-up request, and not again in the middle of a measurement.
    monkeypatch.setattr("accounts.middleware.now", lambda: 1_800_000_000.0)
    admin_client.get(ACCOUNTS)

    def grow(count):
        existing = LocalAccount.objects.filter(status=Status.REQUESTED).count()
        for index in range(existing, existing + count):
            make_account(f"acct{index:03d}", active=bool(index % 2))
            make_request(f"req{index:03d}", requester=make_user(f"u{index:03d}"))

    grow(5)
    for url, params, expected in TABLES:
        _measure(admin_client, url, params, django_assert_num_queries, expected)
    grow(75)
    assert LocalAccount.objects.filter(status=Status.REQUESTED).count() == 80
    assert Event.objects.filter(account__isnull=False).count() >= 80
    for url, params, expected in TABLES:
        response = _measure(admin_client, url, params, django_assert_num_queries, expected)
        if not hasattr(response, "streaming_content"):
            assert len(_rows(response.content.decode())) == 25 or url == EVENTS
    assert "Page 1 of 8 (200 items)" in admin_client.get(EVENTS).content.decode()

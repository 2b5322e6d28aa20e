"""Cursor pagination of the five paged lists: stable pages while rows come and go, signed
cursors bound to their list, account and filters, the caller's access re-applied on every page,
and a fixed number of queries per page.

Devices are named by serial number; their hostnames make the list order differ from the
order of creation (and repeat, so the tie-breakers are exercised).
"""

import datetime
import json
from urllib.parse import quote

import pytest
from django.core import signing
from django.utils import timezone

from accounts.roles import AccountRole
from licensing.api import cursors
from licensing.models import Alert, ProductInstance

pytestmark = pytest.mark.django_db
VA = "/accounts/Acme/virtual-accounts/Physics"
INVALID = (422, {"status": "ERROR", "statusMessage": "Invalid cursor value"})
FOREIGN = (422, {"status": "ERROR", "statusMessage": cursors.FOREIGN_CURSOR})


def serials(body):
    return [d["sudi"]["udiSerialNumber"] for d in body["devices"]]


def walk(fetch, limit, between=None, start="", max_pages=100):
    """Pages through a list in cursor mode from ``start``: fetch(cursor, limit) -> (status, body);
    ``between(body)`` runs after each page that has a next one. Returns the bodies of every page."""
    bodies, cursor = [], start
    for _ in range(max_pages):
        status, body = fetch(cursor, limit)
        assert status == 200, body
        bodies.append(body)
        cursor = body["next_cursor"]
        if cursor is None:
            return bodies
        assert isinstance(cursor, str) and cursor
        if between:
            between(body)
    raise AssertionError("the cursor never ended")


def device_usage(api, **filters):
    return lambda cursor, limit: api.post("/accounts/Acme/devices", {**filters, "cursor": cursor, "limit": limit})


def device_search(api, query=""):
    return lambda cursor, limit: api.get(f"{VA}/devices?limit={limit}&cursor={quote(cursor)}{query}")


@pytest.fixture
def fleet(vas, add_pi):
    """20 product instances in Physics and Zoology, hostnames in another order than serials, with ties."""
    return [
        add_pi(vas["Physics" if i % 2 else "Zoology"], f"SN{i:03d}", hostname=f"h{(i * 7) % 10:02d}") for i in range(20)
    ]


# -- the pages ------------------------------------------------------------------------------


def test_cursor_pages_are_the_offset_list_cut_at_the_same_places(admin_api, fleet):
    _, whole = admin_api.post("/accounts/Acme/devices", {"limit": -1})
    assert "next_cursor" not in whole  # limit/offset replies are the guide's, untouched
    pages = walk(device_usage(admin_api), 7)
    assert [len(p["devices"]) for p in pages] == [7, 7, 6]
    assert all(p["totalRecords"] == 20 and p["status"] == "SUCCESS" for p in pages)
    assert sum((p["devices"] for p in pages), []) == whole["devices"]
    assert pages[-1]["next_cursor"] is None
    # The limit may change between pages.
    _, smaller = admin_api.post("/accounts/Acme/devices", {"cursor": pages[0]["next_cursor"], "limit": 3})
    assert smaller["devices"] == whole["devices"][7:10]


def test_a_full_last_page_ends_with_null(admin_api, fleet):
    pages = walk(device_usage(admin_api), 10)
    assert [len(p["devices"]) for p in pages] == [10, 10] and pages[-1]["next_cursor"] is None
    everything = admin_api.post("/accounts/Acme/devices", {"cursor": "", "limit": -1})[1]
    assert len(everything["devices"]) == 20 and everything["next_cursor"] is None


def test_streamed_cursor_reply_is_one_json_object(admin_api, fleet, monkeypatch):
    from licensing.api import streaming

    monkeypatch.setattr(streaming, "CHUNK_SIZE", 3)  # the page and its extra row span chunks
    response = admin_api.client.post(
        "/api/v1/accounts/Acme/devices", data='{"cursor": "", "limit": 8}', content_type="application/json"
    )
    assert response.streaming
    raw = b"".join(response.streaming_content)
    body = json.loads(raw)
    assert list(body) == ["status", "statusMessage", "totalRecords", "devices", "next_cursor"]
    assert len(body["devices"]) == 8 and body["next_cursor"]


def _changes_between_pages(vas, add_pi):
    """After each page, rows come and go on both sides of where the page ended: rows already
    sent are deleted (two at a time) or a row is added before them, and a row not yet sent is
    deleted while another is added after everything."""
    pages = []

    def between(page_serials):
        pages.append(page_serials)
        if len(pages) % 2:
            ProductInstance.objects.filter(udi_serial_number__in=page_serials[:2]).delete()
        else:
            add_pi(vas["Physics"], f"NEW-A{len(pages)}", hostname="a-first")  # sorts before everything
        add_pi(vas["Zoology"], f"NEW-Z{len(pages)}", hostname="zz-last")  # after everything
        unsent = (
            ProductInstance.objects.filter(udi_serial_number__startswith="SN")
            .order_by("-hostname", "-udi_serial_number")
            .first()
        )
        if unsent is not None and unsent.udi_serial_number not in sum(pages, []):
            unsent.delete()

    return between


def _survivors(fleet):
    return {pi.udi_serial_number for pi in fleet} & set(
        ProductInstance.objects.values_list("udi_serial_number", flat=True)
    )


def test_rows_that_exist_throughout_are_seen_exactly_once(admin_api, fleet, vas, add_pi):
    changes = _changes_between_pages(vas, add_pi)
    pages = walk(device_usage(admin_api), 4, between=lambda body: changes(serials(body)))
    sent = sum((serials(p) for p in pages), [])
    assert len(sent) == len(set(sent)), "a row was sent twice"
    assert _survivors(fleet) <= set(sent), f"rows skipped: {_survivors(fleet) - set(sent)}"
    assert len(_survivors(fleet)) < len(fleet) - 4  # rows were deleted on both sides of the cursor
    keys = [(d["hostName"], d["sudi"]["udiPid"], d["sudi"]["udiSerialNumber"]) for p in pages for d in p["devices"]]
    assert keys == sorted(keys)
    assert any(s.startswith("NEW-Z") for s in sent)  # rows added ahead of the cursor are reached
    assert not any(s.startswith("NEW-A") for s in sent)  # those added behind it are not


def test_offset_paging_under_the_same_changes_skips_and_repeats(admin_api, fleet, vas, add_pi):
    """The same changes with limit/offset: why the cursor exists (and proof the changes bite)."""
    changes = _changes_between_pages(vas, add_pi)
    sent, offset = [], 0
    while True:
        page = serials(admin_api.post("/accounts/Acme/devices", {"limit": 4, "offset": offset})[1])
        if not page:
            break
        sent.extend(page)
        offset += 4
        changes(page)
    assert len(sent) != len(set(sent)) and not _survivors(fleet) <= set(sent)


def test_device_search_cursor_is_stable_and_keeps_its_filters(admin_api, vas, add_pi):
    for i in range(9):
        add_pi(vas["Physics"], f"Q{i}", hostname="same")  # one hostname: pid, serial and id break ties
    add_pi(vas["Physics"], "OTHER", hostname="other")
    fetch = device_search(admin_api, "&hostName=same")

    def between(body):
        add_pi(vas["Physics"], f"Q0-{serials(body)[-1]}", hostname="same")  # right after Q0, long since sent
        if "Q5" in serials(body):
            ProductInstance.objects.filter(udi_serial_number="Q8").delete()

    pages = walk(fetch, 3, between=between)
    got = sum((serials(p) for p in pages), [])
    assert got == ["Q0", "Q1", "Q2", "Q3", "Q4", "Q5", "Q6", "Q7"]
    assert pages[0]["totalRecords"] == 9 and pages[-1]["totalRecords"] == 10  # 9 + 2 added - 1 removed
    # The cursor belongs to hostName=same: another filter is another list.
    cursor = admin_api.get(f"{VA}/devices?limit=2&cursor=&hostName=same")[1]["next_cursor"]
    assert admin_api.get(f"{VA}/devices?limit=2&cursor={quote(cursor)}&hostName=other") == FOREIGN
    assert admin_api.get(f"{VA}/devices?limit=2&cursor={quote(cursor)}") == FOREIGN
    assert (
        admin_api.get(f"/accounts/Acme/virtual-accounts/Zoology/devices?limit=2&cursor={quote(cursor)}&hostName=same")
        == FOREIGN
    )
    assert admin_api.get(f"{VA}/devices?limit=2&offset=2&cursor=") == (
        422,
        {"status": "ERROR", "statusMessage": "offset cannot be combined with cursor"},
    )


def test_license_usage_cursor(admin_api, vas, license_def, add_line):
    lics = [license_def(f"L{i:02d}") for i in range(6)]
    for lic in lics:
        add_line(vas["Physics"], lic, 1)
        add_line(vas["Zoology"], lic, 2)
    first = admin_api.post("/accounts/Acme/licenses", {"cursor": "", "limit": 5})[1]
    assert first["totalRecords"] == 12 and len(first["licenses"]) == 5
    add_line(vas["Default"], license_def("Early"), 1)  # "Default" sorts before the cursor: not seen
    add_line(vas["Zoology"], license_def("ZZ"), 1)  # after it: seen
    rest = walk(
        lambda cursor, limit: admin_api.post("/accounts/Acme/licenses", {"cursor": cursor, "limit": limit}),
        5,
        start=first["next_cursor"],
    )
    got = [(r["virtualAccount"], r["license"]) for p in [first, *rest] for r in p["licenses"]]
    assert got == [("Physics", f"L{i:02d}") for i in range(6)] + [("Zoology", f"L{i:02d}") for i in range(6)] + [
        ("Zoology", "ZZ")
    ]
    assert rest[-1]["totalRecords"] == 14 and rest[-1]["next_cursor"] is None
    assert (
        admin_api.post("/accounts/Acme/licenses", {"cursor": first["next_cursor"], "virtualAccounts": ["Physics"]})
        == FOREIGN
    )


def test_subscriptions_cursor(admin_api, vas, license_def, add_line):
    lic = license_def("Sub license")
    today = timezone.now().date()
    for i in range(7):
        add_line(
            vas["Physics" if i % 2 else "Zoology"],
            lic,
            1,
            "term",
            start=today,
            end=today + datetime.timedelta(days=30),
            subscription_id=f"Sub{i % 3}",
        )

    def fetch(cursor, limit):
        return admin_api.post(
            "/accounts/Acme/license-subscriptions", {"cursor": cursor, "limit": limit, "status": ["Active"]}
        )

    whole = admin_api.post("/accounts/Acme/license-subscriptions", {"limit": -1, "status": ["Active"]})[1]
    pages = walk(fetch, 3)
    assert sum((p["licenseSubscriptions"] for p in pages), []) == whole["licenseSubscriptions"]
    assert [p["totalRecords"] for p in pages] == [7, 7, 7]
    cursor = pages[0]["next_cursor"]
    assert admin_api.post("/accounts/Acme/license-subscriptions", {"cursor": cursor, "status": ["Expired"]}) == FOREIGN
    # The order of a filter's names does not make another list.
    both = {"cursor": "", "limit": 2, "status": ["Active", "Expired"]}
    cursor = admin_api.post("/accounts/Acme/license-subscriptions", both)[1]["next_cursor"]
    status, body = admin_api.post(
        "/accounts/Acme/license-subscriptions", {**both, "cursor": cursor, "status": ["Expired", "Active", "Active"]}
    )
    assert status == 200 and len(body["licenseSubscriptions"]) == 2


def _alert(acme, va, i, severity, due):
    now = timezone.now()
    return Alert.objects.create(
        account=acme,
        virtual_account=va,
        alert_type=Alert.Type.PI_FAILED_TO_RENEW,
        severity=severity,
        key=f"k{i}",
        message=f"m{i}",
        opened_at=now,
        updated_at=now,
        action_due=due,
    )


def test_alerts_cursor_with_null_action_dues(admin_api, acme, vas):
    """Action Due may be None ("Now"): the cursor follows where the database sorts NULL."""
    base = timezone.now() + datetime.timedelta(days=3)
    for i in range(14):  # ties on both columns; dues a microsecond apart (the key keeps them)
        _alert(
            acme,
            vas["Physics"],
            i,
            Alert.Severity.MAJOR if i < 8 else Alert.Severity.MINOR,
            None if i % 3 == 0 else base + datetime.timedelta(hours=i % 4, microseconds=i),
        )
    whole = admin_api.post("/accounts/Acme/alerts", {"limit": -1})[1]["alerts"]
    for limit in (1, 2, 5):
        pages = walk(
            lambda cursor, size: admin_api.post("/accounts/Acme/alerts", {"cursor": cursor, "limit": size}), limit
        )
        assert sum((p["alerts"] for p in pages), []) == whole, limit
    # Between pages: one alert not yet sent is cleared, a Major "Now" one is opened.
    first = admin_api.post("/accounts/Acme/alerts", {"cursor": "", "limit": 6})[1]
    cleared = whole[8]["message"]
    Alert.objects.filter(message=cleared).update(status=Alert.Status.CLEARED)
    _alert(acme, vas["Physics"], 99, Alert.Severity.MAJOR, None)
    rest = walk(
        lambda cursor, size: admin_api.post("/accounts/Acme/alerts", {"cursor": cursor, "limit": size}),
        6,
        start=first["next_cursor"],
    )
    sent = [a["message"] for p in [first, *rest] for a in p["alerts"]]
    assert [m for m in sent if m != "m99"] == [a["message"] for a in whole if a["message"] != cleared]
    # Whether the new one is reached depends on where it sorts: NULLs first (SQLite) puts it
    # behind the cursor, NULLs last (PostgreSQL) ahead of it.
    now_order = [a["message"] for a in admin_api.post("/accounts/Acme/alerts", {"limit": -1})[1]["alerts"]]
    ahead = now_order.index("m99") > now_order.index(first["alerts"][-1]["message"])
    assert ("m99" in sent) == ahead


def test_alerts_minus_one_in_cursor_mode_is_capped_and_goes_on(admin_api, acme, vas, monkeypatch):
    from licensing.api.views import alerts as alert_views

    monkeypatch.setattr(alert_views, "ALL_ALERTS_CAP", 3)
    for i in range(7):
        _alert(acme, vas["Default"], i, Alert.Severity.MAJOR, None)
    pages = walk(lambda cursor, limit: admin_api.post("/accounts/Acme/alerts", {"cursor": cursor, "limit": limit}), -1)
    assert [len(p["alerts"]) for p in pages] == [3, 3, 1]
    assert [a["message"] for p in pages for a in p["alerts"]] == [f"m{i}" for i in range(7)]


# -- refused cursors ----------------------------------------------------------------------------


def _payload(cursor):
    return signing.loads(cursor, salt=cursors.SALT, serializer=cursors._JSON)


def _sign(payload, salt=cursors.SALT):
    return signing.dumps(payload, salt=salt, serializer=cursors._JSON, compress=True)


def test_forged_edited_and_stale_cursors_are_refused(admin_api, fleet):
    cursor = admin_api.post("/accounts/Acme/devices", {"cursor": "", "limit": 3})[1]["next_cursor"]
    payload = _payload(cursor)
    assert payload["e"] == "device_usage" and payload["v"] == cursors.VERSION
    edited = {**payload, "k": ["a", "a", "a", 1]}
    forged = [
        "nonsense",
        "..",
        cursor[:-1] + ("A" if cursor[-1] != "A" else "B"),
        cursor + "x",
        "x" + cursor,
        _sign(edited, salt="another.salt"),
        _sign({**payload, "v": cursors.VERSION - 1}),  # a cursor of an older format
        _sign({**payload, "k": payload["k"][:3]}),  # a key that does not fit the list's order
        _sign({**payload, "k": [1, "a", "a", 1]}),
        _sign({**payload, "k": ["a", "a", "a", True]}),
        _sign(["not", "an", "object"]),
        "é" * 50,
    ]
    for bad in forged:
        assert admin_api.post("/accounts/Acme/devices", {"cursor": bad}) == INVALID, bad
    for wrong_type in (5, True, None, ["x"], {"k": 1}):
        assert admin_api.post("/accounts/Acme/devices", {"cursor": wrong_type}) == INVALID, wrong_type
    assert admin_api.post("/accounts/Acme/devices", {"cursor": "x" * 2001}) == INVALID
    assert admin_api.post("/accounts/Acme/devices", {"cursor": cursor, "offset": 3}) == (
        422,
        {"status": "ERROR", "statusMessage": "offset cannot be combined with cursor"},
    )
    # A cursor signed with another secret (keys rotated) is refused like a forged one.
    from django.test import override_settings

    with override_settings(SECRET_KEY="another secret key, long enough to be a real one"):
        other = _sign(payload)
    assert admin_api.post("/accounts/Acme/devices", {"cursor": other}) == INVALID
    # And a well-formed one of ours goes on.
    assert admin_api.post("/accounts/Acme/devices", {"cursor": _sign(edited)})[0] == 200


def test_a_cursor_belongs_to_its_endpoint(admin_api, fleet, estate):
    device_cursor = admin_api.post("/accounts/Acme/devices", {"cursor": "", "limit": 1})[1]["next_cursor"]
    assert admin_api.post("/accounts/Acme/alerts", {"cursor": device_cursor}) == FOREIGN
    assert admin_api.post("/accounts/Acme/licenses", {"cursor": device_cursor}) == FOREIGN
    assert admin_api.post("/accounts/Acme/license-subscriptions", {"cursor": device_cursor}) == FOREIGN
    assert admin_api.get(f"{VA}/devices?cursor={quote(device_cursor)}") == FOREIGN
    assert (
        admin_api.post("/accounts/Acme/devices", {"cursor": device_cursor, "virtualAccounts": ["Physics"]}) == FOREIGN
    )


# -- access ---------------------------------------------------------------------------------------


def test_a_cursor_of_one_account_does_not_read_another(cc_api, acme, globex, fleet, add_pi):
    from licensing.models import VirtualAccount

    for i in range(4):
        add_pi(VirtualAccount.objects.get(account=globex, is_default=True), f"GLOBEX{i}")
    both = cc_api([(acme, AccountRole.ACCOUNT_ADMIN), (globex, AccountRole.ACCOUNT_ADMIN)])
    acme_cursor = both.post("/accounts/Acme/devices", {"cursor": "", "limit": 2})[1]["next_cursor"]
    assert both.post("/accounts/Globex/devices", {"cursor": acme_cursor}) == FOREIGN
    globex_cursor = both.post("/accounts/Globex/devices", {"cursor": "", "limit": 2})[1]["next_cursor"]
    assert both.post("/accounts/Acme/devices", {"cursor": globex_cursor}) == FOREIGN
    # Someone with no role at Globex gets Globex's refusal, whatever cursor they hold.
    acme_only = cc_api([(acme, AccountRole.ACCOUNT_ADMIN)])
    assert acme_only.post("/accounts/Globex/devices", {"cursor": globex_cursor}) == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to access devices for local Account 'Globex SA'"},
    )


def test_a_cursor_carries_no_access(api_as, people, fleet):
    """A VA User on Physics holding an account admin's cursor still sees Physics only."""
    admin = api_as(people["account_admin"])
    cursor = admin.post("/accounts/Acme/devices", {"cursor": "", "limit": 3})[1]["next_cursor"]
    va_user = api_as(people["va_user"])
    status, body = va_user.post("/accounts/Acme/devices", {"cursor": cursor, "limit": -1})
    everything = admin.post("/accounts/Acme/devices", {"limit": -1})[1]["devices"]
    assert status == 200 and body["totalRecords"] == 10
    assert body["devices"] == [d for d in everything[3:] if d["virtualAccount"] == "Physics"]
    assert va_user.post("/accounts/Acme/devices", {"cursor": cursor, "virtualAccounts": ["Zoology"]}) == (
        403,
        {"status": "ERROR", "statusMessage": "Not Authorized to access devices for specified local Virtual Accounts"},
    )


# -- queries --------------------------------------------------------------------------------------


PAGES = {
    "device_usage": lambda api, cursor: api.post("/accounts/Acme/devices", {"cursor": cursor, "limit": 5}),
    "device_search": lambda api, cursor: api.get(f"{VA}/devices?limit=5&cursor={quote(cursor)}"),
    "license_usage": lambda api, cursor: api.post("/accounts/Acme/licenses", {"cursor": cursor, "limit": 2}),
    "license_subscriptions": lambda api, cursor: api.post(
        "/accounts/Acme/license-subscriptions", {"cursor": cursor, "limit": 1}
    ),
    "alerts": lambda api, cursor: api.post("/accounts/Acme/alerts", {"cursor": cursor, "limit": 5}),
}
OFFSET_PAGES = {
    "device_usage": lambda api: api.post("/accounts/Acme/devices", {"offset": 5, "limit": 5}),
    "device_search": lambda api: api.get(f"{VA}/devices?limit=5&offset=5"),
    "license_usage": lambda api: api.post("/accounts/Acme/licenses", {"offset": 2, "limit": 2}),
    "license_subscriptions": lambda api: api.post("/accounts/Acme/license-subscriptions", {"offset": 1, "limit": 1}),
    "alerts": lambda api: api.post("/accounts/Acme/alerts", {"offset": 5, "limit": 5}),
}
# Exact statements per cursor page, first and next: the bearer token's look-ups, the account's,
# the page's own. The two usage lists also ask the compliance engine for the license positions
# (licensing.services.compliance, which has its own query tests); its share is measured apart.
# License usage reads the page's billing types in one statement of its own.
QUERIES = {"device_usage": 9, "device_search": 8, "license_usage": 8, "license_subscriptions": 8, "alerts": 8}
USES_POSITIONS = {"device_usage", "license_usage"}


def _positions_queries(account):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from licensing.services import compliance

    with CaptureQueriesContext(connection) as captured:
        compliance.license_positions(account, virtual_accounts=list(account.virtual_accounts.all()))
    return len(captured.captured_queries) - 1  # less the VA list given here (the view has it already)


@pytest.mark.parametrize("endpoint", sorted(PAGES))
def test_cursor_page_query_count_is_pinned(
    admin_api, estate, vas, add_pi, acme, license_def, add_line, endpoint, django_assert_num_queries
):
    today = timezone.now().date()

    def grow(n):
        for i in range(n):
            add_pi(vas["Physics"], f"G{n}-{i}", hostname=f"z{n:03d}-{i:03d}", uses={estate["basic"]: 1})
            add_line(
                vas["Physics"],
                license_def(f"Z grow {n:03d}-{i:03d}"),
                1,
                "term",
                start=today,
                end=today + datetime.timedelta(days=9),
                subscription_id=f"S{n}-{i}",
            )
            _alert(acme, vas["Physics"], f"{n}-{i}", Alert.Severity.MINOR, None)

    grow(6)
    fetch = PAGES[endpoint]
    expected = QUERIES[endpoint] + (_positions_queries(acme) if endpoint in USES_POSITIONS else 0)
    with django_assert_num_queries(expected):
        status, first = fetch(admin_api, "")
    assert status == 200 and first["next_cursor"]
    grow(30)
    with django_assert_num_queries(expected):
        status, second = fetch(admin_api, first["next_cursor"])
    assert status == 200 and second["next_cursor"]
    # The same page by offset costs the same: the cursor adds no statement.
    with django_assert_num_queries(expected):
        assert OFFSET_PAGES[endpoint](admin_api)[0] == 200

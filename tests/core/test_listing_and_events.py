"""The shared table helper and the event log."""

import pytest
from django.db import transaction
from django.test import RequestFactory

from accounts.models import User
from core import events
from core.events.messages import CATALOGUE
from core.listing import Listing
from core.models import Event


@pytest.fixture
def users(make_user):
    return [make_user(f"user{n:02d}", email=f"u{n}@example.com") for n in range(30)]


def _listing(query, **kwargs):
    request = RequestFactory().get("/", query)
    return Listing(
        request,
        User.objects.all(),
        search=["username", "email"],
        sorts={"name": "username"},
        default_sort="name",
        page_size=10,
        **kwargs,
    )


def test_search_sort_and_paginate(users):
    table = _listing({"q": "user1", "sort": "-name", "page": "2"})
    assert table.page.paginator.count == 10
    assert table.page.number == 1  # 10 matches fit on one page; page 2 is clamped to the last
    table = _listing({"q": "user1", "sort": "-name"})
    assert [u.username for u in table.page][:2] == ["user19", "user18"]
    assert table.sort_url("name") == "?q=user1&sort=name"


@pytest.mark.parametrize(
    "query",
    [
        {"sort": "password"},
        {"sort": "-__class__"},
        {"page": "-3"},
        {"page": "abc"},
        {"page": "99999"},
        {"q": "x" * 5000},
    ],
)
def test_hand_edited_urls_never_error(users, query):
    table = _listing(query)
    assert table.sort in ("name", "-name")
    assert table.page.number >= 1
    list(table.page)


def test_record_renders_the_catalogue_text(make_account, sysadmin):
    account = make_account()
    event = events.record("va.created", actor=sysadmin, virtual_account=account.virtual_accounts.get(), pool_name="Lab")
    assert event.message == "The Virtual Account “Lab” was created"
    assert (event.account, event.username, event.severity) == (account, "sysadmin", "INFO")


def test_unknown_event_type_is_a_programming_error(db):
    with pytest.raises(KeyError):
        events.record("no.such.event")


def test_subscribers_hear_only_committed_events(db, django_capture_on_commit_callbacks):
    heard = []
    callback = events.on_recorded(lambda event: heard.append(event.event_type))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            events.record("auth.logout", user_name="x")
        assert heard == ["auth.logout"]
        with pytest.raises(RuntimeError), transaction.atomic():
            events.record("auth.logout", user_name="y")
            raise RuntimeError("rolled back")
        assert heard == ["auth.logout"]
        assert Event.objects.count() == 1
    finally:
        events._subscribers.remove(callback)


def test_guide_texts_are_marked():
    guide = {code for code, entry in CATALOGUE.items() if entry.from_guide}
    assert {"user.added", "va.created", "va.renamed", "group.added"} <= guide

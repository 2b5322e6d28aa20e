"""Pinned query counts of the Manage Account list pages: the same few queries for 2 rows or 200.

Each page is read by an Account Administrator (a System User with a grant: the most queries,
since its roles are loaded) once with a little data and once with a lot; the count must not
change, and it must stay within the pinned number.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import UserGroup, UserGroupMembership
from accounts.roles import AccountRole
from accounts.services.grants import set_account_role
from core import events
from licensing.services.access import request_access

pytestmark = pytest.mark.django_db

# session, user, account, the reader's grants, picker, count, rows (+ prefetches on Users).
PINNED = {
    "virtual-accounts/": 7,
    "users/": 11,
    "access-requests/": 7,
    "event-log/": 7,
}


@pytest.fixture
def populate(acme, make_user, new_va, grant_role):
    """populate(n): n more VAs, n users holding roles (directly, on VAs and through a group),
    n access requests and n events on VAs, so every kind of row and prefetch is exercised."""
    group = UserGroup.objects.create(account=acme, name="Ops")
    set_account_role(actor=None, account=acme, role=AccountRole.ACCOUNT_USER, group=group)
    made = {"n": 0}

    def _populate(n):
        for _ in range(n):
            i = made["n"] = made["n"] + 1
            va = new_va(f"VA {i:03d}")
            direct, on_va, member, requester = (make_user(f"u{i:03d}{kind}") for kind in ("d", "v", "m", "r"))
            grant_role(direct, acme, AccountRole.ACCOUNT_USER)
            grant_role(on_va, va, AccountRole.VA_USER)
            grant_role(member, va, AccountRole.VA_ADMIN)
            UserGroupMembership.objects.create(group=group, user=member)
            request_access(actor=requester, account_name=acme.name, company=f"Co {i}")
            events.record("va.renamed", virtual_account=va, old_pool_name="x", new_pool_name=va.name)

    return _populate


def queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured), response


@pytest.mark.parametrize("path", list(PINNED))
def test_query_count_does_not_grow_with_rows(acme, acme_admin, browser, populate, path, django_assert_max_num_queries):
    url = f"/accounts/{acme.pk}/manage/{path}"
    client = browser(acme_admin)
    populate(2)
    client.get(url)  # the first request of a session also stores its activity time
    few, _ = queries(client, url)
    populate(120)
    many, response = queries(client, url)
    assert few == many
    with django_assert_max_num_queries(PINNED[path]):
        response = client.get(url)
    assert response.content.decode().count("<tr>") >= 26  # a full page of rows was rendered

"""Inventory > Licenses: Available Actions (Add / Remove License Tags) and Manage License Tags."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import AccountRole, SystemRole
from core.models import Event
from licensing.models import Entitlement, LicenseTag
from licensing.services.tags import add_license_tags

pytestmark = pytest.mark.django_db


def inv(account, rest=""):
    return f"/accounts/{account.pk}/inventory/{rest}"


def tags_of(lic):
    return sorted(lic.license_tags.values_list("name", flat=True))


def snapshot():
    return (
        sorted(LicenseTag.objects.values_list("account_id", "name")),
        sorted(LicenseTag.licenses.through.objects.values_list("licensetag_id", "licensedefinition_id")),
        Event.objects.count(),
    )


@pytest.fixture
def world(acme, default_va, new_va, license_def, add_line, make_user, grant_role, make_account):
    lab = new_va("Lab")
    a, b, c = (license_def(name) for name in ("Alpha", "Bravo", "Charlie"))
    for lic in (a, b):
        add_line(default_va, lic, 5)
    add_line(lab, c, 2)
    add_line(lab, a, 1)
    people = {}
    for name, scope, role in [
        ("aa", acme, AccountRole.ACCOUNT_ADMIN),
        ("vaa_lab", lab, AccountRole.VA_ADMIN),
    ]:
        people[name] = make_user(name, SystemRole.USER)
        grant_role(people[name], scope, role)
    people["nobody"] = make_user("nobody", SystemRole.USER)
    globex = make_account("Globex")
    return {"acme": acme, "default": default_va, "lab": lab, "a": a, "b": b, "c": c, "globex": globex, **people}


def edit_url(w, va, rest=""):
    return inv(w["acme"], f"virtual-accounts/{va.pk}/licenses/tags/{rest}")


def manage_url(w, va, rest=""):
    return inv(w["acme"], f"virtual-accounts/{va.pk}/license-tags/{rest}")


def test_licenses_tab_has_checkboxes_and_available_actions(world, browser):
    page = browser(world["aa"]).get(inv(world["acme"], "licenses/"), {"va": world["default"].pk}).content.decode()
    assert 'id="inv-license-actions"' in page and "Available Actions" in page
    assert f'name="license" value="{world["a"].pk}" form="inv-license-actions"' in page
    assert "Add License Tags…" in page and "Remove License Tags…" in page and "Manage License Tags…" in page


def test_add_tags_to_selected_licenses_in_bulk(world, browser):
    client = browser(world["aa"])
    w = world
    form = client.get(edit_url(w, w["default"]), {"action": "add", "license": [w["a"].pk, w["b"].pk]})
    assert form.status_code == 200
    html = form.content.decode()
    assert "Add Tags to the Selected Licenses" in html and "Alpha" in html and "Bravo" in html
    response = client.post(
        edit_url(w, w["default"]), {"action": "add", "license": [w["a"].pk, w["b"].pk], "names": "lab, prod\nProd"}
    )
    assert response.status_code == 302
    assert response["Location"] == inv(w["acme"], "licenses/") + f"?va={w['default'].pk}"
    assert tags_of(w["a"]) == tags_of(w["b"]) == ["Prod", "lab", "prod"] and tags_of(w["c"]) == []
    event = Event.objects.get(event_type="license_tag.added")
    assert (event.virtual_account, event.user) == (w["default"], w["aa"])
    # The By Tag search finds them and offers the names.
    page = client.get(inv(w["acme"], "licenses/"), {"va": w["default"].pk, "by": "tag", "q": "Prod"}).content.decode()
    assert 'list="inv-license-tag-names"' in page and '<option value="Prod">' in page
    assert "Alpha" in page and "Bravo" in page


def test_remove_offers_the_tags_of_the_selection(world, browser):
    w = world
    add_license_tags(actor=None, account=w["acme"], licenses=[w["a"], w["b"]], names="lab, prod")
    client = browser(w["aa"])
    html = client.get(edit_url(w, w["default"]), {"action": "remove", "license": [w["a"].pk]}).content.decode()
    assert 'value="lab"' in html and 'value="prod"' in html
    before = snapshot()
    refused = client.post(edit_url(w, w["default"]), {"action": "remove", "license": [w["a"].pk]})
    assert refused.status_code == 200 and "Choose at least one tag to remove." in refused.content.decode()
    assert snapshot() == before
    client.post(edit_url(w, w["default"]), {"action": "remove", "license": [w["a"].pk], "names": ["lab"]})
    assert tags_of(w["a"]) == ["prod"] and tags_of(w["b"]) == ["lab", "prod"]
    assert Event.objects.filter(event_type="license_tag.removed").count() == 1


@pytest.mark.parametrize("names", [",,,", " , ", "x" * 101])
def test_bad_tag_names_are_shown_and_nothing_written(world, browser, names):
    w = world
    client = browser(w["aa"])
    before = snapshot()
    response = client.post(edit_url(w, w["default"]), {"action": "add", "license": [w["a"].pk], "names": names})
    assert response.status_code == 200 and 'role="alert"' in response.content.decode()
    assert snapshot() == before


def test_licenses_of_another_virtual_account_or_no_selection_are_refused(world, browser):
    w = world
    client = browser(w["aa"])
    before = snapshot()
    # Charlie is held by Lab only, not by Default.
    for license_ids in ([w["c"].pk], [], ["x"]):
        response = client.post(edit_url(w, w["default"]), {"action": "add", "license": license_ids, "names": "t"})
        assert response.status_code == 302
        assert snapshot() == before


def test_rbac_on_the_tag_pages(world, browser):
    w = world
    vaa, nobody, aa = browser(w["vaa_lab"]), browser(w["nobody"]), browser(w["aa"])
    before = snapshot()
    # Lab's VA Administrator tags Lab's licenses, not Default's (not even visible: 404).
    assert vaa.get(edit_url(w, w["default"]), {"action": "add", "license": [w["a"].pk]}).status_code == 404
    assert (
        vaa.post(edit_url(w, w["default"]), {"action": "add", "license": [w["a"].pk], "names": "t"}).status_code == 404
    )
    assert vaa.get(manage_url(w, w["default"])).status_code == 404
    # Someone without a role on the account does not see it.
    assert nobody.get(manage_url(w, w["lab"])).status_code == 404
    # Another account's virtual account through this account's URL.
    other = w["globex"].virtual_accounts.get()
    assert aa.get(manage_url(w, other)).status_code == 404
    assert snapshot() == before
    assert (
        vaa.post(edit_url(w, w["lab"]), {"action": "add", "license": [w["c"].pk], "names": "mine"}).status_code == 302
    )
    assert tags_of(w["c"]) == ["mine"]


def test_manage_lists_counts_renames_and_deletes(world, browser):
    w = world
    add_license_tags(actor=None, account=w["acme"], licenses=[w["a"], w["b"]], names="lab")
    add_license_tags(actor=None, account=w["acme"], licenses=[w["c"]], names="solo")
    client = browser(w["aa"])
    html = client.get(manage_url(w, w["lab"])).content.decode()
    lab, solo = LicenseTag.objects.get(name="lab"), LicenseTag.objects.get(name="solo")
    # lab: on 2 licenses of the account, 1 of them (Alpha) held by Lab.
    row = html[html.index('<span class="badge">lab</span>') :]
    assert row.split("</tr>")[0].count('class="inv-num">2<') == 1 and 'class="inv-num">1<' in row.split("</tr>")[0]
    response = client.post(manage_url(w, w["lab"], f"{lab.pk}/rename/"), {"name": "Lab"})
    assert response.status_code == 302 and response["Location"] == manage_url(w, w["lab"])
    assert tags_of(w["a"]) == tags_of(w["b"]) == ["Lab"]
    # A name taken by another tag is refused, nothing changed.
    before = snapshot()
    response = client.post(manage_url(w, w["lab"], f"{lab.pk}/rename/"), {"name": "solo"}, follow=True)
    assert "already exists" in response.content.decode()
    assert snapshot() == before
    client.post(manage_url(w, w["lab"], f"{solo.pk}/delete/"))
    assert tags_of(w["c"]) == [] and not LicenseTag.objects.filter(name="solo").exists()
    assert Event.objects.filter(event_type="license_tag.deleted").count() == 1
    assert client.get(manage_url(w, w["lab"], f"{solo.pk}/delete/")).status_code == 405


def test_a_va_admin_cannot_rename_a_tag_on_other_virtual_accounts(world, browser):
    w = world
    # "shared" is on Alpha, which Default holds too; "mine" only on Charlie (Lab's alone).
    add_license_tags(actor=None, account=w["acme"], licenses=[w["a"]], names="shared")
    add_license_tags(actor=None, account=w["acme"], licenses=[w["c"]], names="mine")
    shared, mine = LicenseTag.objects.get(name="shared"), LicenseTag.objects.get(name="mine")
    client = browser(w["vaa_lab"])
    html = client.get(manage_url(w, w["lab"])).content.decode()
    assert f"/license-tags/{mine.pk}/rename/" in html and f"/license-tags/{shared.pk}/rename/" not in html
    before = snapshot()
    assert client.post(manage_url(w, w["lab"], f"{shared.pk}/rename/"), {"name": "x"}).status_code == 403
    assert client.post(manage_url(w, w["lab"], f"{shared.pk}/delete/")).status_code == 403
    assert snapshot() == before
    client.post(manage_url(w, w["lab"], f"{mine.pk}/rename/"), {"name": "Mine"})
    assert tags_of(w["c"]) == ["Mine"]


# session, user, account, grants, picker, the virtual account, the visible virtual accounts (which
# of them the user manages), the tags with their two counts, the (tag, holder) pairs.
PINNED_MANAGE_TAGS_QUERIES = 9


def test_manage_page_query_count_does_not_grow_with_tags(world, browser, license_def, add_line):
    w = world
    client = browser(w["vaa_lab"])
    client.get(manage_url(w, w["lab"]))  # warm the session

    def count():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(manage_url(w, w["lab"])).status_code == 200
        return len(captured)

    add_license_tags(actor=None, account=w["acme"], licenses=[w["c"]], names="one")
    few = count()
    for i in range(30):
        lic = license_def(f"L{i}")
        add_line(w["lab"], lic, 1)
        add_line(w["default"], lic, 1)
        add_license_tags(actor=None, account=w["acme"], licenses=[lic], names=f"t{i}, u{i}")
    many = count()
    assert few == many == PINNED_MANAGE_TAGS_QUERIES


# --- The License Transaction Detail level: tags on single license lines ---------------------------


def test_add_and_remove_tags_on_checked_license_lines(world, browser):
    w = world
    client = browser(w["aa"])
    line = Entitlement.objects.get(virtual_account=w["default"], license=w["a"])
    response = client.post(edit_url(w, w["default"]), {"action": "add", "line": [line.pk], "names": "rack-7"})
    assert response.status_code == 302
    assert list(line.line_tags.values_list("name", flat=True)) == ["rack-7"]
    assert tags_of(w["a"]) == []  # the license itself is not tagged
    client.post(edit_url(w, w["default"]), {"action": "remove", "line": [line.pk], "names": ["rack-7"]})
    assert not line.line_tags.exists()


def test_a_line_of_another_virtual_account_and_mixing_are_refused(world, browser):
    w = world
    client = browser(w["aa"])
    lab_line = Entitlement.objects.filter(virtual_account=w["lab"]).first()
    before = snapshot(), sorted(LicenseTag.lines.through.objects.values_list("pk"))
    client.post(edit_url(w, w["default"]), {"action": "add", "line": [lab_line.pk], "names": "x"})
    line = Entitlement.objects.get(virtual_account=w["default"], license=w["a"])
    client.post(edit_url(w, w["default"]), {"action": "add", "line": [line.pk], "license": [w["a"].pk], "names": "x"})
    assert (snapshot(), sorted(LicenseTag.lines.through.objects.values_list("pk"))) == before
    # a VA Administrator of Lab may not tag the Default VA's lines
    assert browser(w["vaa_lab"]).post(
        edit_url(w, w["default"]), {"action": "add", "line": [line.pk], "names": "x"}
    ).status_code in (403, 404)
    assert not LicenseTag.objects.exists() and not LicenseTag.lines.through.objects.exists()

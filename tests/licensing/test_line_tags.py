"""License tags at the License Transaction Detail level (licensing.services.tags add_line_tags /
remove_line_tags): single license lines, bulk, RBAC, events, refusals that write nothing."""

import pytest

from accounts.roles import AccountRole
from core.errors import NotAllowed, ServiceError
from core.models import Event
from licensing.models import LicenseTag
from licensing.services import tags

pytestmark = pytest.mark.django_db


@pytest.fixture
def lines(default_va, license_def, add_line):
    lic = license_def("Network Advantage")
    return add_line(default_va, lic, 3), add_line(default_va, lic, 2, sku="SKU-2"), lic


def _state():
    return sorted(LicenseTag.objects.values_list("name", "lines")), Event.objects.count()


def test_add_and_remove_tags_on_single_lines(default_va, lines, sysadmin):
    first, second, lic = lines
    tags.add_line_tags(actor=sysadmin, virtual_account=default_va, lines=[first, second], names="blue, red")
    assert sorted(first.line_tags.values_list("name", flat=True)) == ["blue", "red"]
    assert sorted(second.line_tags.values_list("name", flat=True)) == ["blue", "red"]
    assert not lic.license_tags.exists()  # the license itself is not tagged
    tags.remove_line_tags(actor=sysadmin, virtual_account=default_va, lines=[second], names=["red"])
    assert list(second.line_tags.values_list("name", flat=True)) == ["blue"]
    assert sorted(first.line_tags.values_list("name", flat=True)) == ["blue", "red"]
    codes = list(Event.objects.order_by("pk").values_list("event_type", flat=True))
    assert codes[-2:] == ["license_tag.added", "license_tag.removed"]


def test_deleting_a_tag_takes_it_off_the_lines(default_va, lines, sysadmin):
    first, _second, _lic = lines
    (tag,) = tags.add_line_tags(actor=sysadmin, virtual_account=default_va, lines=[first], names="blue")
    tags.delete_license_tag(actor=sysadmin, tag=tag)
    assert not first.line_tags.exists()


def test_a_line_of_another_virtual_account_is_refused(default_va, new_va, lines, license_def, add_line, sysadmin):
    first, _second, lic = lines
    other = add_line(new_va("Branch"), lic, 1)
    before = _state()
    with pytest.raises(ServiceError, match="not in this virtual account"):
        tags.add_line_tags(actor=sysadmin, virtual_account=default_va, lines=[first, other], names="blue")
    with pytest.raises(ServiceError):
        tags.add_line_tags(actor=sysadmin, virtual_account=default_va, lines=[], names="blue")
    with pytest.raises(ServiceError):
        tags.add_line_tags(actor=sysadmin, virtual_account=default_va, lines=[first], names=", ,")  # no name left
    with pytest.raises(ServiceError, match="no tag"):
        tags.remove_line_tags(actor=sysadmin, virtual_account=default_va, lines=[first], names="nope")
    assert _state() == before


def test_a_va_role_elsewhere_may_not_tag_these_lines(default_va, new_va, lines, make_user, grant_role):
    first, _second, _lic = lines
    user = make_user("vaa")
    grant_role(user, new_va("Branch"), AccountRole.VA_ADMIN)
    before = _state()
    with pytest.raises(NotAllowed):
        tags.add_line_tags(actor=user, virtual_account=default_va, lines=[first], names="blue")
    assert _state() == before


def test_a_va_role_may_not_rename_a_tag_on_lines_of_another_virtual_account(
    default_va, new_va, lines, make_user, grant_role, sysadmin
):
    first, _second, _lic = lines
    (tag,) = tags.add_line_tags(actor=sysadmin, virtual_account=default_va, lines=[first], names="blue")
    user = make_user("vaa")
    grant_role(user, new_va("Branch"), AccountRole.VA_ADMIN)
    with pytest.raises(NotAllowed):
        tags.rename_license_tag(actor=user, tag=tag, name="green")
    tag.refresh_from_db()
    assert tag.name == "blue"
